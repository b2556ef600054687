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
export { ExitCode, exitCodeOfGrpcCode } from "./exit-codes";
/** Run a `modelreg` command line in process; the process's own IO. */
export { describeRegistryError, processIo, runCli } from "./main";
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
