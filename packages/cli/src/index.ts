// @modelreg/cli's public API: what `modelreg` runs, for launchers (the reference deployment,
// `npm start`) and programs that embed a command. Listed by name; no `export *`.

/** A registry client from the client options, and a runner that closes it and maps SIGINT to exit code 130. */
export { openClient, withClient } from "./client/connect";
/** Client options shared by every verb that calls the registry, and the parsers commands share. */
export {
  addClientOptions,
  type ClientOptions,
  collect,
  DEFAULT_REGISTRY,
  DEFAULT_TIMEOUT_MS,
  integerParser,
  keyValue,
} from "./client/options";
/** The config file (`--config`): how it is read and applied. */
export { applyConfigFile, readConfigFile } from "./config";
export type { CliIo, OutputFormat, RegisterCommands } from "./context";
/** Errors a command throws with a message for the user and an exit code. */
export { CliError, CliInterruptedError, CliUsageError } from "./errors";
/** The exit codes, and the one table between them and gRPC codes (both directions). */
export { ExitCode, exitCodeOfGrpcCode, grpcCodeOfExitCode } from "./exit-codes";
/** Run a `modelreg` command line in process; the process's own IO. */
export { describeRegistryError, processIo, runCli } from "./main";
/**
 * `modelreg migrate` as a function: applies (or with `dryRun` lists) the pending schema migrations of
 * a database URL, for deployments whose servers start with `--no-migrate`.
 */
export { type RunMigrationsOptions, runMigrations } from "./migrate/run";
/** Output helpers: the format options, tables, JSON in the REST gateway's form. */
export {
  formatTable,
  messageJson,
  outputFormatOf,
  writeFields,
  writeJson,
  writeJsonLine,
  writeOut,
  writeTable,
} from "./output";
/** The `modelreg` command tree, and its shell completion script. */
export { completionScript, createProgram } from "./program";
/** `modelreg serve`, `gateway` and `up` as functions: start a server in process, or both as child processes. */
export { registerServerCommands } from "./servers/commands";
/** The one database URL parser (`--database-url`, `DATABASE_URL`) and the storage it names. */
export {
  type DatabaseSetting,
  DatabaseUrlError,
  type OpenStorageOptions,
  openStorage,
  parseDatabaseUrl,
} from "./servers/database";
/** The API gateway of `modelreg gateway`: its options (flags, variables, defaults), start and stop. */
export {
  type CacheSetting,
  type GatewayServeOptions,
  gatewayOptionSpecs,
  parseCacheUrl,
  type RunningGateway,
  serveGateway,
} from "./servers/gateway";
/** The gateway process's Prometheus metrics (`GET /metrics`). */
export { type GatewayMetrics, metricsOf } from "./servers/metrics";
/** How server options are defined (flag, variable, default, check) and the error a bad value is. */
export { ConfigError, type OptionSpec, type ValueParser } from "./servers/options";
/** The Model Registry of `modelreg serve`: its options (flags, variables, defaults), start and stop. */
export {
  type RegistryServeOptions,
  type RunningRegistry,
  registryOptionSpecs,
  serveRegistry,
} from "./servers/registry";
/** `modelreg up`: the registry and the gateway as two child processes. */
export { runUp, ServerExitedError, type UpOptions } from "./servers/up";
/** `modelreg models export` / `import` as functions: a registry's models and aliases as NDJSON, and back. */
export { type ExportCounts, type ExportOptions, exportRegistry } from "./transfer/export";
export {
  type ImportFailure,
  type ImportProgressInfo,
  type ImportRunOptions,
  type ImportSummary,
  importRegistry,
} from "./transfer/import";
