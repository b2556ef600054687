/**
 * The shared level (L2) as the cache uses it: every change event is written
 * to it in order (batched, then `markApplied`), and it is read only while
 * its content is exact up to the revision this process has applied: every
 * event up to then was written to it by this process, after a point from
 * which the store itself was exact (its `appliedRevision`, or a `clear()`).
 * While it fails, events wait in a bounded backlog; on overflow the point
 * moves on and the store must prove itself again (or be cleared).
 *
 * @internal
 */
import type { Logger } from "@modelreg/proto";
import type { SharedCacheEntry, SharedCacheStore, SharedCacheWrite } from "./types";

/** Event writes waiting for the store, up to `revision`. */
interface Page {
  readonly writes: SharedCacheWrite[];
  readonly revision: bigint;
}

/** Settings of {@link SharedLevel}. */
export interface SharedLevelOptions {
  /** Bound of one read (and of `appliedRevision` at start), in ms. */
  readonly timeoutMs: number;
  /** Writes this many pending writes: past it, the backlog is dropped. */
  readonly maxBacklog: number;
  /** Counts a failed or timed-out call. */
  readonly onError: () => void;
  /**
   * How long a store behind this process's start point (its applied
   * revision below it: normal under a steady write stream, as the others
   * mark a page applied after writing it) is waited for before it is
   * cleared, in ms.
   */
  readonly behindWaitMs: number;
  /**
   * Replays the changes after `after` (the store's applied revision) into
   * the store: the watch starts again from there. Without it, a store still
   * behind after `behindWaitMs` is cleared.
   */
  readonly rewind?: (after: bigint) => void;
  readonly logger?: Logger | undefined;
}

const timedOut = Symbol("timed out");

/** `promise`, or `timedOut` after `ms`. */
async function bounded<T>(promise: Promise<T>, ms: number): Promise<T | typeof timedOut> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** L2, with the bookkeeping that says when it may be read. */
export class SharedLevel {
  readonly #store: SharedCacheStore;
  readonly #options: SharedLevelOptions;
  /** Every change up to `#base` is in the store (once `#synced`); the ones after it are ours to write. */
  #base = 0n;
  #synced = false;
  /** The next sync clears the store whatever it claims. */
  #mustClear = false;
  #backlog: Page[] = [];
  #pending = 0;
  /** The keys of the event writes not yet in the store (queued or being written), with their counts. */
  readonly #pendingKeys = new Map<string, number>();
  /**
   * Keys a write through this process changed, with the write's revision:
   * not read from the store until this process has applied that revision
   * (then the write's own event is queued for the store, or written).
   * `undefined`: the write's revision is unknown; fenced until an event
   * touching the key has been queued.
   */
  readonly #fences = new Map<string, bigint | undefined>();
  #healthy = true;
  #pumping = false;
  #closed = false;
  #failures = 0;
  /** When the store was first found behind `#base` (it is waited for, not cleared at once). */
  #behindSince: number | undefined;
  /** Incremented by every restart: work started before one must not claim anything after it. */
  #generation = 0;

  constructor(store: SharedCacheStore, options: SharedLevelOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * The revision to start the watch after: the store's applied revision,
   * from which it is exact; `undefined` (watch from now) when it has none or
   * does not answer.
   */
  async startRevision(): Promise<bigint | undefined> {
    const applied = await this.#call(
      () => this.#store.appliedRevision(),
      Math.max(this.#options.timeoutMs, 1000),
    );
    if (applied === timedOut || applied === undefined) return undefined;
    this.#base = applied;
    this.#synced = true;
    return applied;
  }

  /**
   * The watch starts over from `revision` (now): the store must prove it is
   * exact from there, or be cleared; `clear`: cleared in any case (the
   * registry refused to resume from the revision it claimed).
   */
  restart(revision: bigint, clear = false): void {
    this.#generation++;
    this.#mustClear ||= clear;
    this.#backlog = [];
    this.#pending = 0;
    this.#pendingKeys.clear();
    this.#fences.clear();
    this.#base = revision;
    this.#synced = false;
    this.#behindSince = undefined;
    this.#pump();
  }

  /** Writes one event's entries (after those queued before it). */
  event(writes: SharedCacheWrite[], revision: bigint): void {
    if (this.#pending + writes.length > this.#options.maxBacklog) {
      this.#options.logger?.warn(
        { pending: this.#pending },
        "model cache: the shared level fell too far behind; it will be checked (or cleared) before it is read again",
      );
      this.restart(revision);
      return;
    }
    this.#backlog.push({ writes, revision });
    this.#pending += writes.length;
    for (const { key } of writes) {
      this.#pendingKeys.set(key, (this.#pendingKeys.get(key) ?? 0) + 1);
      // Its write's unknown revision: this event (queued now, pending until written) fences it from here on.
      if (this.#fences.has(key) && this.#fences.get(key) === undefined) this.#fences.delete(key);
    }
    if (this.#fences.size > 4096) this.#pruneFences(revision);
    this.#pump();
  }

  /** Every change up to `revision` was delivered (a progress notification). */
  progress(revision: bigint): void {
    // No event between the last one queued and `revision`: its page may claim up to there.
    // With nothing queued, the store's applied revision moves on with the next event.
    const last = this.#backlog.at(-1);
    if (last) this.#backlog[this.#backlog.length - 1] = { writes: last.writes, revision };
  }

  /**
   * Whether `key` may be read from the store now: it answers, it was exact
   * from a point on (its applied revision, or a clear) and every change
   * applied since was written to it, except ones still queued, none of
   * which touches `key`, and no write through this process changed `key`
   * at a revision not yet `applied`. So what it holds under `key` is
   * current as of the revision this process has applied.
   */
  readable(key: string, applied: bigint): boolean {
    if (!this.#healthy || !this.#synced || this.#pendingKeys.has(key)) return false;
    if (!this.#fences.has(key)) return true;
    const fence = this.#fences.get(key);
    if (fence === undefined || fence > applied) return false;
    this.#fences.delete(key);
    return true;
  }

  /**
   * A write through this process changed `key` at `revision` (undefined:
   * unknown): the store, which has not seen it yet, is not read for `key`
   * until this process has applied that revision.
   */
  fence(key: string, revision: bigint | undefined): void {
    const held = this.#fences.get(key);
    if (this.#fences.has(key) && (held === undefined || (revision !== undefined && held >= revision))) return;
    this.#fences.set(key, revision);
  }

  /** Drops the fences this process has applied past. */
  #pruneFences(applied: bigint): void {
    for (const [key, fence] of this.#fences)
      if (fence !== undefined && fence <= applied) this.#fences.delete(key);
  }

  /** The entries under `keys`; `undefined` when the store failed or was too slow (counted). */
  async get(keys: string[]): Promise<(SharedCacheEntry | undefined)[] | undefined> {
    const entries = await this.#call(() => this.#store.get(keys), this.#options.timeoutMs);
    return entries === timedOut ? undefined : entries;
  }

  /** Stores what a registry read returned (conditional per key), in the background. */
  fill(writes: SharedCacheWrite[]): void {
    if (writes.length === 0 || !this.#healthy || !this.#synced) return;
    const fills = writes.map((write) => ({ ...write, fill: true }));
    void this.#call(() => this.#store.set(fills), this.#writeTimeoutMs());
  }

  /** Stops writing. The store is the caller's to close. */
  close(): void {
    this.#closed = true;
  }

  #writeTimeoutMs(): number {
    return Math.max(10 * this.#options.timeoutMs, 1000);
  }

  /** Runs one store call bounded by `ms`; a failure or timeout marks the store unhealthy. */
  async #call<T>(call: () => Promise<T>, ms: number): Promise<T | typeof timedOut> {
    try {
      const result = await bounded(call(), ms);
      if (result === timedOut) throw new Error(`no answer within ${ms} ms`);
      if (!this.#healthy) {
        this.#healthy = true;
        this.#options.logger?.info("model cache: the shared level answers again");
      }
      return result;
    } catch (error) {
      this.#options.onError();
      if (this.#healthy) {
        this.#healthy = false;
        this.#options.logger?.warn(
          { error: error instanceof Error ? error.message : String(error) },
          "model cache: the shared level failed; going on without it until it answers",
        );
      }
      this.#pump();
      return timedOut;
    }
  }

  /** Writes the backlog (after proving or clearing the store), one batch at a time, until done. */
  #pump(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    void this.#drain().finally(() => {
      this.#pumping = false;
      if (!this.#closed && (this.#backlog.length > 0 || !this.#synced || !this.#healthy)) {
        setTimeout(() => this.#pump(), this.#backoffMs()).unref?.();
      }
    });
  }

  #backoffMs(): number {
    const ceiling = Math.min(2000, 50 * 2 ** Math.min(this.#failures, 6));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  async #drain(): Promise<void> {
    while (!this.#closed) {
      const ok = !this.#synced ? await this.#sync() : await this.#writeBacklog();
      if (!ok) {
        this.#failures++;
        return;
      }
      this.#failures = 0;
      if (this.#synced && this.#backlog.length === 0) {
        if (!this.#healthy) await this.#call(() => this.#store.appliedRevision(), this.#options.timeoutMs);
        return;
      }
    }
  }

  /** Proves the store exact up to `#base` (another process kept it so), or clears it. */
  async #sync(): Promise<boolean> {
    const generation = this.#generation;
    const applied = await this.#call(() => this.#store.appliedRevision(), this.#writeTimeoutMs());
    if (applied === timedOut) return false;
    const clear = this.#mustClear;
    const base = this.#base;
    if (!clear && applied !== undefined && applied < base) {
      if (this.#stillWaiting()) return false;
      const rewind = this.#options.rewind;
      if (rewind && generation === this.#generation) {
        // Nobody brings it up: replay what it misses from its own applied revision, instead of clearing it.
        this.#options.logger?.info(
          { applied: String(applied), base: String(base) },
          "model cache: the shared level is behind; replaying the changes it misses",
        );
        this.#rewound(applied);
        rewind(applied);
        return true;
      }
    }
    if (clear || applied === undefined || applied < base) {
      const cleared = await this.#call(() => this.#store.clear(), this.#writeTimeoutMs());
      if (cleared === timedOut) return false;
      if (clear && generation === this.#generation) this.#mustClear = false;
      // Empty, it is exact up to the base: say so at once, so a process starting before the next
      // change (a quiet registry) resumes from it instead of clearing the store again.
      if (generation === this.#generation) {
        const marked = await this.#call(() => this.#store.markApplied(base), this.#writeTimeoutMs());
        if (marked === timedOut) return false;
      }
    }
    // A restart meanwhile moved the base: the next round proves the new one.
    if (generation === this.#generation) this.#synced = true;
    return true;
  }

  /**
   * The store is behind the base, but others may be writing the pages up to
   * it: wait for them (retried with backoff) before clearing it for every
   * process; gives up after `behindWaitMs` (nobody keeps it up).
   */
  #stillWaiting(): boolean {
    const now = Date.now();
    this.#behindSince ??= now;
    return now - this.#behindSince < this.#options.behindWaitMs;
  }

  /** The watch starts again after `applied`: the store is exact up to there, and every event after it is ours. */
  #rewound(applied: bigint): void {
    this.#generation++;
    this.#backlog = [];
    this.#pending = 0;
    this.#pendingKeys.clear();
    this.#base = applied;
    this.#behindSince = undefined;
    this.#synced = true;
  }

  /** Writes every queued event's entries in one call, then marks their last revision applied. */
  async #writeBacklog(): Promise<boolean> {
    const generation = this.#generation;
    const pages = this.#backlog;
    const last = pages.at(-1);
    if (!last) return true;
    this.#backlog = [];
    return this.#write(pages, last.revision, generation);
  }

  async #write(pages: Page[], revision: bigint, generation: number): Promise<boolean> {
    const writes = pages.flatMap((page) => page.writes);
    let ok =
      writes.length === 0 ||
      (await this.#call(() => this.#store.set(writes), this.#writeTimeoutMs())) !== timedOut;
    // Claims only what this generation wrote: after a restart the store must be proved again.
    if (ok && generation === this.#generation) {
      ok = (await this.#call(() => this.#store.markApplied(revision), this.#writeTimeoutMs())) !== timedOut;
    }
    if (generation !== this.#generation) return true;
    if (!ok) {
      this.#backlog = [...pages, ...this.#backlog];
      return false;
    }
    this.#pending -= writes.length;
    for (const { key } of writes) {
      const left = (this.#pendingKeys.get(key) ?? 1) - 1;
      if (left > 0) this.#pendingKeys.set(key, left);
      else this.#pendingKeys.delete(key);
    }
    return true;
  }
}
