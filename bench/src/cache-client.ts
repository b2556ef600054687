/**
 * The client cache as the benchmarks use it: `createRegistryClient({ cache })`,
 * `cacheStats()` and the Redis store of `@modelreg/registry-client/redis`,
 * loaded from the packages' sources. Each is detected at run time, so the
 * benchmark says "not available in this checkout" instead of failing while
 * the cache is being built.
 */
import { fileURLToPath } from "node:url";
import { type CacheStats, createRegistryClient, type RegistryClient } from "@modelreg/registry-client";

/** The counters of `RegistryClient.cacheStats()` the benchmark reads. */
export type Stats = CacheStats;

/** The counters that only grow, for deltas between two snapshots. */
export const counterNames = [
  "hits",
  "sharedHits",
  "misses",
  "notFoundHits",
  "staleBypasses",
  "coalesced",
  "invalidations",
  "sharedErrors",
] as const;
export type Counters = Record<(typeof counterNames)[number], number>;

export function delta(before: Stats | undefined, after: Stats | undefined): Counters {
  const out = {} as Counters;
  for (const name of counterNames) out[name] = (after?.[name] ?? 0) - (before?.[name] ?? 0);
  return out;
}

/** A client with a cache, and its statistics (undefined when this checkout's client has no cache). */
export interface CachedClient {
  readonly client: RegistryClient;
  stats(): Stats | undefined;
}

/** `createRegistryClient({ target, insecure, cache })`; `cache` is passed as given. */
export function cachedClient(target: string, cache: Record<string, unknown> | true): CachedClient {
  const options = { target, insecure: true, cache } as Parameters<typeof createRegistryClient>[0];
  const client = createRegistryClient(options);
  const withStats = client as unknown as { cacheStats?: () => Stats | undefined };
  return { client, stats: () => withStats.cacheStats?.() };
}

/** A plain client (no cache): the writers and set-up. */
export const plainClient = (target: string): RegistryClient =>
  createRegistryClient({ target, insecure: true });

/**
 * Why the client cache cannot be measured in this checkout, or undefined
 * when it can (a client with `cache: true` reports `cacheStats()`).
 */
export function cacheMissingReason(target: string): string | undefined {
  const probe = cachedClient(target, true);
  try {
    return probe.stats() === undefined
      ? "createRegistryClient({ cache }) has no cacheStats() in this checkout (the client cache has not landed)"
      : undefined;
  } finally {
    probe.client.close();
  }
}

/** Waits until the cache reports its watch current (a read starts the watch lazily). */
export async function waitCurrent(cached: CachedClient, probeId: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  await cached.client.getModel({ id: probeId });
  while (!cached.stats()?.current) {
    if (performance.now() > deadline)
      throw new Error(`the cache's watch was not current within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The Redis store, as `createRedisCacheStore({ url })` of the `./redis` subpath makes it. */
export interface RedisStore {
  close(): Promise<void>;
}

/**
 * Loads `createRedisCacheStore` from the client's sources (the `./redis`
 * entry); a string instead when it is not there yet.
 */
export async function redisStoreFactory(): Promise<((url: string) => RedisStore) | string> {
  const source = fileURLToPath(new URL("../../packages/registry-client/src/redis.ts", import.meta.url));
  const loaded = (await import(source)) as {
    createRedisCacheStore?: (options: { url: string }) => RedisStore;
  };
  const create = loaded.createRedisCacheStore;
  if (typeof create !== "function")
    return "@modelreg/registry-client/redis has no createRedisCacheStore in this checkout (not landed)";
  return (url) => create({ url });
}
