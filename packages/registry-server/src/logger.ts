import type { Logger } from "@modelreg/proto";
import { pino } from "pino";

// The one Logger type of modelreg lives in @modelreg/proto; re-exported so
// that `import type { Logger } from "@modelreg/registry-server"` keeps working.
export type { LogFn, Logger } from "@modelreg/proto";

/** JSON lines on stdout, such as `{"level":30,"time":...,"msg":"gRPC server starting","port":9090}`. */
export function createDefaultLogger(): Logger {
  return pino({ base: null, level: process.env.LOG_LEVEL ?? "info" });
}
