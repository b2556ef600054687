/**
 * `@modelreg/registry-client`: a typed client for the Model Registry's
 * gRPC ModelService, with a connection pool, keepalive, deadlines and
 * budgeted retries of idempotent calls, a resuming `watchModels` stream, a
 * streaming `importModels`, aliases (`setModelAlias`, `resolveAlias` with
 * time travel) and the audit history (`listModelHistory`). Errors are
 * `RegistryError`s (re-exported from `@modelreg/proto`) carrying a gRPC
 * `Code`; `preconditionViolations(error)` reads a refused promotion's
 * missing items.
 *
 * @packageDocumentation
 */

export {
  Code,
  type FieldViolation,
  type HistoryEntry,
  type ImportModelsResponse,
  type ImportModelsResult,
  ImportOutcome,
  type ListModelAliasesResponse,
  type ListModelHistoryResponse,
  type ModelAlias,
  type ModelEvent,
  ModelEventType,
  RegistryError,
  type WatchModelsResponse,
} from "@modelreg/proto";
export type { ResolveAliasOptions } from "./aliases";
export type {
  CacheOptions,
  CacheStats,
  SharedCacheEntry,
  SharedCacheStore,
  SharedCacheWrite,
} from "./cache/types";
export {
  type CallOptions,
  createRegistryClient,
  type RegistryClient,
  type RegistryClientOptions,
} from "./client";
export { type PreconditionViolation, preconditionViolations } from "./error-details";
export type { ImportItem, ImportOptions, ImportProgress } from "./import-models";
export type { ChannelInfo } from "./pool";
export type { RetryOptions } from "./retry";
export {
  type ClientTlsOptions,
  createRegistryTransport,
  type MetadataSource,
  type RegistryRpcOptions,
  RegistryTransport,
  type RegistryTransportOptions,
  type TokenSource,
} from "./transport";
export type {
  WatchOptions,
  WatchReconnectInfo,
  WatchReconnectOptions,
  WatchRequest,
} from "./watch-models";
