import { setTimeout as sleep } from "node:timers/promises";
import type Database from "better-sqlite3";

const isBusy = (error: unknown): boolean =>
  typeof error === "object" &&
  error !== null &&
  String((error as { code?: unknown }).code ?? "").startsWith("SQLITE_BUSY");

/**
 * Puts the file in WAL mode. Switching a new file to WAL needs an exclusive
 * lock: when several processes open the same new file at once, two of them
 * can each hold a shared lock and want the exclusive one, and SQLite then
 * answers one SQLITE_BUSY at once (its busy handler is not called, to avoid
 * a deadlock): "database is locked" from a plain start-up. Retried, with a
 * growing pause, until the busy timeout.
 */
export async function enableWal(
  database: Pick<Database.Database, "pragma">,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      database.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
    await sleep(pause);
  }
}
