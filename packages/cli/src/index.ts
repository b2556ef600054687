// @modelreg/cli's public API: what `modelreg` runs, for launchers (the reference deployment,
// `npm start`) and programs that embed a command. Listed by name; no `export *`.
export type { CliIo, OutputFormat } from "./context";
export { ExitCode, exitCodeOfGrpcCode } from "./exit-codes";
