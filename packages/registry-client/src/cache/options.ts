/**
 * `CacheOptions` with their defaults, checked once when the client is
 * created: a wrong value is a TypeError naming the option.
 *
 * @internal
 */
import type { Logger } from "@modelreg/proto";
import type { CacheOptions, SharedCacheStore } from "./types";

/** Every setting of the cache, resolved. */
export interface CacheSettings {
  readonly maxBytes: number;
  readonly notFoundTtlMs: number;
  readonly progressIntervalMs: number;
  readonly maxConcurrentFills: number;
  readonly sharedTimeoutMs: number;
  readonly sharedTtlMs: number;
  readonly shared: SharedCacheStore | undefined;
  readonly logger: Logger | undefined;
}

const storeMethods = ["get", "set", "appliedRevision", "markApplied", "clear", "close"] as const;

/** A whole number option of at least `min`, or its default. */
function whole(options: CacheOptions, name: keyof CacheOptions, min: number, fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`createRegistryClient: \`cache.${name}\` must be a whole number of at least ${min}`);
  }
  return value;
}

/** The settings of `options` (`true`: every default). */
export function resolveCacheOptions(options: CacheOptions | true): CacheSettings {
  const given: CacheOptions = options === true ? {} : options;
  if (typeof given !== "object" || given === null) {
    throw new TypeError("createRegistryClient: `cache` must be `true` or an object of cache options");
  }
  const { shared } = given;
  if (shared !== undefined && !storeMethods.every((m) => typeof Reflect.get(shared, m) === "function")) {
    throw new TypeError(
      `createRegistryClient: \`cache.shared\` must be a SharedCacheStore (with ${storeMethods.join(", ")}), such as createRedisCacheStore(...) from @modelreg/registry-client/redis`,
    );
  }
  return {
    maxBytes: whole(given, "maxBytes", 1, 64 * 1024 * 1024),
    notFoundTtlMs: whole(given, "notFoundTtlMs", 0, 5000),
    // The registry sends progress notifications at most every 100 ms.
    progressIntervalMs: whole(given, "progressIntervalMs", 100, 250),
    maxConcurrentFills: whole(given, "maxConcurrentFills", 1, 32),
    sharedTimeoutMs: whole(given, "sharedTimeoutMs", 1, 50),
    sharedTtlMs: whole(given, "sharedTtlMs", 1000, 3_600_000),
    shared,
    logger: given.logger,
  };
}
