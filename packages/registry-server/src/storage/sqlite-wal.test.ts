import { describe, expect, it } from "vitest";
import { enableWal } from "./sqlite-wal";

/** A database whose `pragma` fails with `errors` in turn, then succeeds; it counts the calls. */
function databaseFailing(...errors: Error[]) {
  const calls: string[] = [];
  return {
    calls,
    pragma(source: string) {
      calls.push(source);
      const error = errors.shift();
      if (error) throw error;
      return [{ journal_mode: "wal" }];
    },
  };
}

const sqliteError = (code: string) => Object.assign(new Error("database is locked"), { code });

describe("enableWal (a new file opened by several processes at once)", () => {
  it("retries a switch refused with SQLITE_BUSY until it succeeds", async () => {
    const database = databaseFailing(sqliteError("SQLITE_BUSY"), sqliteError("SQLITE_BUSY"));
    await enableWal(database as never, 5_000);
    expect(database.calls).toEqual(["journal_mode = WAL", "journal_mode = WAL", "journal_mode = WAL"]);
  });

  it("gives up with SQLite's error once the busy timeout has passed", async () => {
    const database = databaseFailing(...Array.from({ length: 1000 }, () => sqliteError("SQLITE_BUSY")));
    const started = Date.now();
    await expect(enableWal(database as never, 50)).rejects.toThrow("database is locked");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(database.calls.length).toBeGreaterThan(1);
  });

  it("does not retry other errors", async () => {
    const database = databaseFailing(Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" }));
    await expect(enableWal(database as never, 5_000)).rejects.toThrow("disk I/O error");
    expect(database.calls).toHaveLength(1);
  });
});
