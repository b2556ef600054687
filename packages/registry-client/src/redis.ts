/**
 * `@modelreg/registry-client/redis`: Redis as the shared level (L2) of the
 * client's cache. Needs the optional peer dependency `ioredis`, loaded only
 * when a store is created.
 *
 * @packageDocumentation
 */

export {
  createRedisCacheStore,
  type RedisCacheStore,
  type RedisCacheStoreOptions,
} from "./cache/redis-store";
export type { SharedCacheEntry, SharedCacheStore, SharedCacheWrite } from "./cache/types";
