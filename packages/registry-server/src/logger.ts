import { pino } from "pino";

/** A log method: pino's calling convention (an object of fields, then a message). */
export interface LogFn {
  (fields: Record<string, unknown>, message: string): void;
  (message: string): void;
}

/**
 * The logger the server writes to. Any pino logger fits, and so does any
 * object with these four methods.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** JSON lines on stdout, such as `{"level":30,"time":...,"msg":"gRPC server starting","port":9090}`. */
export function createDefaultLogger(): Logger {
  return pino({ base: null, level: process.env.LOG_LEVEL ?? "info" });
}
