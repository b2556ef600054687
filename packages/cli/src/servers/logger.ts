import { type Logger, pino } from "pino";
import type { CliIo } from "../context";

/**
 * A server's pino logger: JSON lines on `io.stdout`. On the process's own
 * stdout, asynchronous writes (a log line does not wait for its write(2);
 * on a broken pipe pino drops lines instead of failing, so shutdown still
 * runs to its end; what is queued is flushed at exit).
 */
export function serverLogger(service: string, level: string, io: CliIo): Logger {
  const destination = io.stdout === process.stdout ? pino.destination({ dest: 1, sync: false }) : io.stdout;
  return pino({ base: { service }, level }, destination);
}

/** Flushes what an asynchronous logger still holds (no-op for a plain stream). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
