/**
 * The cache layer's contract: what `createRegistryClient({ cache })` takes,
 * and the interface of the shared level (L2) it can stand on, which
 * `@modelreg/registry-client/redis` implements.
 */
import type { Logger } from "@modelreg/proto";

/**
 * One entry of the shared level as stored. `data` is opaque to the store
 * (the cache encodes a model, a pointer to a model id, or "absent" into
 * it); `revision` is the history revision the entry is current as of.
 */
export interface SharedCacheEntry {
  /** The history revision the entry is current as of. */
  readonly revision: bigint;
  /** The entry's content, opaque to the store. */
  readonly data: Uint8Array;
}

/** One write to the shared level: kept only if newer than what is stored under `key`. */
export interface SharedCacheWrite extends SharedCacheEntry {
  /** The key, at most a few hundred bytes of UTF-8; the store may prefix it. */
  readonly key: string;
  /** How long the entry may live, in milliseconds (the cache adds jitter before it asks). */
  readonly ttlMs: number;
  /**
   * A fill (what a registry read returned after a miss), not a change
   * event: the store may drop it, and should when its applied revision is
   * unknown or higher than the write's revision (an older state must not
   * come back after a newer entry was removed). Added with issue 16's review.
   */
  readonly fill?: boolean;
}

/**
 * The shared level (L2) of the cache: a store every client process reads
 * and writes, for example Redis (`createRedisCacheStore` from
 * `@modelreg/registry-client/redis`). Every method may fail (rejects) or be
 * slow; the cache bounds each call with its own timeout and then goes on
 * without the shared level, so no read fails because of it.
 */
export interface SharedCacheStore {
  /** The entries under `keys`, in order; `undefined` for a key with none. One round trip. */
  get(keys: readonly string[]): Promise<(SharedCacheEntry | undefined)[]>;
  /**
   * Stores each write only if the key has no entry or one with a lower
   * revision (atomically per key: a write never replaces a newer entry).
   * One round trip.
   */
  set(writes: readonly SharedCacheWrite[]): Promise<void>;
  /**
   * The revision up to which every change of the registry has been applied
   * to this store (by any client process); `undefined` when unknown (a new
   * or flushed store).
   */
  appliedRevision(): Promise<bigint | undefined>;
  /** Records that every change up to `revision` was applied; keeps the maximum. */
  markApplied(revision: bigint): Promise<void>;
  /** Removes every entry and the applied revision (the change feed can no longer replay what was missed). */
  clear(): Promise<void>;
  /** Releases the connection, if the store owns it. Safe to call twice. */
  close(): Promise<void>;
}

/** What `createRegistryClient({ cache })` takes; `true` takes every default. */
export interface CacheOptions {
  /**
   * The in-process level (L1): at most this many bytes of cached answers,
   * least recently used out first. Default 64 MiB.
   */
  maxBytes?: number;
  /** The shared level (L2), for example a Redis store; absent: L1 only. */
  shared?: SharedCacheStore;
  /**
   * How long a NOT_FOUND answer is kept, in ms (a CREATED event that makes
   * it wrong evicts it at once). Default 5000; 0 does not cache NOT_FOUND.
   */
  notFoundTtlMs?: number;
  /**
   * The watch that keeps the cache exact is asked for a progress
   * notification this often; when it has been silent (or broken) for twice
   * this, the cache stops answering and every read goes to the registry
   * until the watch has caught up again. Default 250 ms.
   */
  progressIntervalMs?: number;
  /** At most this many registry reads fill the cache at once (a cold start or a flushed L2). Default 32. */
  maxConcurrentFills?: number;
  /** How long one call to the shared level may take before the cache goes on without it. Default 50 ms. */
  sharedTimeoutMs?: number;
  /**
   * How long an entry lives in the shared level, in ms (jittered ±10 %;
   * the change feed replaces or invalidates it long before, this only
   * bounds what an unused key costs). Default 3 600 000 (an hour).
   */
  sharedTtlMs?: number;
  /**
   * Where the cache reports trouble once per episode (the shared level
   * failing and coming back, the watch broken): `warn` and `info`, pino's
   * calling convention. Absent: silent.
   */
  logger?: Logger;
}

/** Counters of a client's cache, for logs and metrics; see `RegistryClient.cacheStats`. */
export interface CacheStats {
  /** Answers served from L1. */
  readonly hits: number;
  /** Answers served from L2 (and copied to L1). */
  readonly sharedHits: number;
  /** Reads that went to the registry (misses, and reads a stale or bypassed cache did not answer). */
  readonly misses: number;
  /** NOT_FOUND answers served from the cache. */
  readonly notFoundHits: number;
  /** Reads sent to the registry because the cache had not seen their `minRevision` or its watch was not current. */
  readonly staleBypasses: number;
  /** Callers that waited for another caller's registry read of the same key instead of making their own. */
  readonly coalesced: number;
  /** Entries replaced or evicted by change events. */
  readonly invalidations: number;
  /** Failed or timed-out calls to the shared level. */
  readonly sharedErrors: number;
  /** Whether the cache answers now (its watch is current). */
  readonly current: boolean;
  /** The history revision the cache has applied every change up to; 0n before its watch started. */
  readonly revision: bigint;
  /** Bytes held by L1. */
  readonly bytes: number;
  /** Entries held by L1. */
  readonly entries: number;
}
