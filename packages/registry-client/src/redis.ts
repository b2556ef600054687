/**
 * `@modelreg/registry-client/redis`: Redis as the shared level (L2) of the
 * client's cache. Needs the optional peer dependency `ioredis`.
 *
 * @packageDocumentation
 */

export type { SharedCacheEntry, SharedCacheStore, SharedCacheWrite } from "./cache/types";
