/**
 * `@modelreg/registry-server`: the Model Registry's gRPC server.
 *
 * - `createRegistryServer` serves `modelregistry.v1.ModelService`, health
 *   checks and reflection over any storage adapter.
 * - `createMemoryStorage` is the built-in ephemeral adapter; SQLite is at
 *   `@modelreg/registry-server/storage/sqlite`, the conformance suite for
 *   your own adapters at `@modelreg/registry-server/testing`.
 *
 * @packageDocumentation
 */

/** Admission control: concurrent calls, a short queue, RESOURCE_EXHAUSTED beyond (`RegistryServerOptions.admission`). */
export type { AdmissionOptions, AdmissionStats } from "./admission";
/** The auth file of the built-in authorizer: the hash it stores for a bearer token. */
export { hashToken } from "./auth/auth-file";
/** The roles, and the one table of the role each ModelService method needs. */
export { checkMethodRoles, hasRole, methodRoles, type Role, roles } from "./auth/roles";
/** The built-in authorizer: bearer tokens and client certificates mapped to principals and roles by a file. */
export { createTokenAuth, type TokenAuth, type TokenAuthOptions } from "./auth/token-auth";
/** The `authorize` hook: refuses calls, or names their caller. */
export type { Authorize, AuthorizeResult, CallInfo } from "./authorize";
/** What handlers and interceptors know of a call: method, deadline, signal, metadata, peer, principal. */
export type { CallContext, MethodInfo, Principal } from "./context";
export type {
  ComparisonOperator,
  FilterExpression,
  LineageMembership,
  MetadataComparison,
  StringComparison,
  StringField,
  TimeComparison,
} from "./filter/ast";
/** Applies a `ListQuery.filter` to a record, for adapters that filter in memory. */
export { evaluateFilter } from "./filter/evaluate";
/** Server interceptors, wrapping every ModelService call (`RegistryServerOptions.interceptors`). */
export type { ServerCall, ServerCallHandler, ServerInterceptor } from "./interceptors";
export type { LogFn, Logger } from "./logger";
/** Reads a promotion policy (`RegistryServerOptions.aliasPolicy`) from a JSON or YAML file. */
export { loadAliasPolicy } from "./policy/load";
/** The promotion policy: protected aliases and what moving one requires (`RegistryServerOptions.aliasPolicy`). */
export type {
  AliasPolicy,
  PromotionCheckInput,
  PromotionCheckResult,
  ProtectedAlias,
} from "./policy/policy";
export {
  createRegistryServer,
  type KeepaliveOptions,
  type ListenResult,
  type RegistryServer,
  type RegistryServerOptions,
  type StreamOptions,
  type TlsOptions,
} from "./server";
/** Tuning of WatchModels and ImportModels, extended by {@link StreamOptions}. */
export type { StreamSettings } from "./service/settings";
export type {
  AliasListQuery,
  AliasRecord,
  AliasRefusal,
  AliasResolution,
  ChangeRecord,
  ChangesPage,
  ChangeType,
  Cursor,
  DeleteAliasRequest,
  DeleteAliasResult,
  DeleteOptions,
  DeleteResult,
  HistoryQuery,
  HistoryRecord,
  InsertResult,
  LineageRecord,
  ListQuery,
  ModelRecord,
  OrderField,
  OrderTerm,
  SetAliasRequest,
  SetAliasResult,
  StorageAdapter,
  StorageCallOptions,
  StorageCapabilities,
  WriteResult,
} from "./storage/adapter";
export { createMemoryStorage, type MemoryStorageOptions } from "./storage/memory";
/**
 * Schema migrations: what `migrateSqlite`, `migratePostgres` and `migrateMysql`
 * (at the storage entry points) found and did, and the error a storage opened
 * with `migrate: false` rejects with when the schema is not current (or a
 * database is ahead of this build). `instanceof` works across entry points.
 */
export { type MigrationReport, SchemaNotCurrentError } from "./storage/sql/migrations";
