/** A log method, in pino's calling convention: an object of fields, then a message. */
export interface LogFn {
  (fields: Record<string, unknown>, message: string): void;
  (message: string): void;
}

/**
 * The one logger type of modelreg: the server, the client and the gateway
 * all write to it. Any pino logger fits, and so does any object with these
 * four methods.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}
