import { existsSync } from "node:fs";
import { Code, RegistryError } from "@modelreg/proto";
import Database from "better-sqlite3";
import { Kysely, type SqliteDatabase, SqliteDialect } from "kysely";
import { checkRetainChanges, checkRetainHistory, type StorageAdapter } from "./adapter";
import { withReadCache } from "./read-cache";
import {
  type MigrationMode,
  type MigrationReport,
  migrationNames,
  runMigrations,
  SchemaNotCurrentError,
} from "./sql/migrations";
import type { RegistryDatabase } from "./sql/schema";
import { createSqlStorage } from "./sql/sql-storage";
import { enableWal } from "./sqlite-wal";

/** What a migration run found and did; the error of a storage told not to migrate whose schema is not current. */
export { type MigrationReport, SchemaNotCurrentError } from "./sql/migrations";

/** Options for {@link createSqliteStorage}. */
export interface SqliteStorageOptions {
  /** How many of the latest changes WatchModels can resume from, at least. Default 100 000. */
  retainChanges?: number;
  /**
   * How many of the latest history entries (ListModelHistory, LookupModel
   * with `read_time`) to keep, at least. Entries are pruned only past both
   * this and `retainChanges`. Default: absent, every entry is kept (the
   * history is an audit log).
   */
  retainHistory?: number;

  /** Path of the database file (created with its folder's permissions if missing), or `:memory:`. */
  path: string;
  /**
   * `FULL` (default) makes every acknowledged write survive a power loss;
   * `NORMAL` survives a crash of the process but may lose the last commits on
   * power loss, and is faster. See https://sqlite.org/pragma.html#pragma_synchronous.
   */
  synchronous?: "FULL" | "NORMAL";
  /** How long a write waits for another process's lock before failing UNAVAILABLE. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * How many bytes of models (estimated) the adapter keeps in memory to
   * answer `get`, `getByNameVersion` and `getMany` without a query, least
   * recently used dropped first. Exact: its own writes drop what they touch
   * (and nothing is answered from memory while one runs), and a commit by
   * any other connection to the file (`PRAGMA data_version`, checked on
   * every read) drops everything. Default 64 MiB; `0` turns it off.
   */
  readCacheBytes?: number;
  /**
   * `true` (default): apply pending schema migrations before resolving.
   * `false`: change nothing; reject with `SchemaNotCurrentError` (naming the
   * pending migrations) unless the schema is current, for deployments that
   * migrate separately (`modelreg migrate`, {@link migrateSqlite}). A
   * missing file is not created then.
   */
  migrate?: boolean;
}

/** Options for {@link migrateSqlite}: where the database is, and whether to only report. */
export type SqliteMigrateOptions = Omit<SqliteStorageOptions, "migrate"> & {
  /** Report the pending migrations and change nothing (a missing file is not created). */
  dryRun?: boolean;
};

/** The default of {@link SqliteStorageOptions.readCacheBytes}. */
const defaultReadCacheBytes = 64 * 1024 * 1024;

/** How many prepared statements an adapter keeps (least recently used dropped first). */
const statementCacheSize = 256;

/**
 * The database as Kysely's SQLite dialect uses it, with prepared statements
 * kept by their SQL text: Kysely prepares every statement anew, which was
 * most of the time of a short read (a GetModel's four statements, an alias
 * lookup's join). Safe: Kysely runs one statement at a time on its one
 * connection, better-sqlite3 resets a statement after each run, and SQLite
 * prepares a statement again by itself after a schema change.
 */
function withStatementCache(database: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      let statement = cache.get(sql);
      if (statement !== undefined) {
        // Most recently used last.
        cache.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (cache.size >= statementCacheSize) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

const sqliteCode = (error: unknown): string =>
  typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : "";

function openHandle(path: string, readonly: boolean): Database.Database {
  try {
    return new Database(path, readonly ? { readonly: true, fileMustExist: true } : undefined);
  } catch (error) {
    throw new RegistryError(Code.UNAVAILABLE, `cannot open SQLite database at ${path}`, { cause: error });
  }
}

const busyTimeout = (options: Pick<SqliteStorageOptions, "busyTimeoutMs">): number =>
  Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000));

/** The database opened as every adapter opens it: WAL, the durability asked for, the busy timeout. */
async function openDatabase(options: Pick<SqliteStorageOptions, "path" | "synchronous" | "busyTimeoutMs">) {
  const database = openHandle(options.path, false);
  try {
    // A connection setting, first: the statements below wait for another process's lock.
    database.pragma(`busy_timeout = ${busyTimeout(options)}`);
    await enableWal(database, busyTimeout(options));
    database.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
    // Tags and metadata rows go with their model (ON DELETE CASCADE).
    database.pragma("foreign_keys = ON");
  } catch (error) {
    database.close();
    throw error;
  }
  const db = new Kysely<RegistryDatabase>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
  });
  return { database, db };
}

/**
 * Reads the migration state on a read-only handle and applies `mode`
 * (`dryRun` or `check`) to it: nothing is written, not even the journal
 * mode, and a missing (or `:memory:`) database is left alone, with every
 * migration pending.
 */
async function inspectReadOnly(
  options: Pick<SqliteStorageOptions, "path" | "busyTimeoutMs">,
  mode: "dryRun" | "check",
): Promise<MigrationReport> {
  if (options.path === ":memory:" || !existsSync(options.path)) {
    if (mode === "check") throw new SchemaNotCurrentError(migrationNames);
    return { applied: [], pending: [...migrationNames], ran: [] };
  }
  const database = openHandle(options.path, true);
  // A connection setting, not stored in the file: wait for a writer's lock rather than fail at once.
  database.pragma(`busy_timeout = ${busyTimeout(options)}`);
  const db = new Kysely<RegistryDatabase>({ dialect: new SqliteDialect({ database }) });
  try {
    return await runMigrations(db, "sqlite", mode);
  } finally {
    await db.destroy();
  }
}

/**
 * Runs `mode` on the database's schema (see `MigrationMode`). `dryRun`
 * only reads, on a read-only handle, and opens nothing for the caller;
 * `check` reads there first and opens the database read-write (and checks
 * again) only when it is current.
 */
async function openMigrated(
  options: Pick<SqliteStorageOptions, "path" | "synchronous" | "busyTimeoutMs">,
  mode: MigrationMode,
): Promise<{ opened?: Awaited<ReturnType<typeof openDatabase>>; report: MigrationReport }> {
  if (mode !== "migrate") {
    const report = await inspectReadOnly(options, mode);
    if (mode === "dryRun") return { report };
  }
  const opened = await openDatabase(options);
  try {
    return { opened, report: await runMigrations(opened.db, "sqlite", mode) };
  } catch (error) {
    await opened.db.destroy();
    throw error;
  }
}

/**
 * Inspects or applies the schema migrations of a SQLite database without
 * opening a storage: `dryRun` reports the pending ones and changes nothing.
 * Rejects with `SchemaNotCurrentError` when the database is ahead of this
 * build.
 *
 * ```ts
 * import { migrateSqlite } from "@modelreg/registry-server/storage/sqlite";
 * const { ran } = await migrateSqlite({ path: "./data/registry.db" });
 * ```
 */
export async function migrateSqlite(options: SqliteMigrateOptions): Promise<MigrationReport> {
  checkPath(options, "migrateSqlite");
  const { opened, report } = await openMigrated(options, options.dryRun === true ? "dryRun" : "migrate");
  await opened?.db.destroy();
  return report;
}

function checkPath(options: { path?: unknown } | undefined, caller: string): void {
  if (typeof options?.path !== "string" || options.path === "") {
    throw new TypeError(`${caller}: \`path\` must be a file path or ':memory:'`);
  }
}

/**
 * The embedded default: a SQLite database file in WAL mode, no server needed.
 * Runs the schema migrations before it resolves (unless `migrate: false`).
 * Requires the optional peer dependency `better-sqlite3`.
 *
 * ```ts
 * import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
 * const storage = await createSqliteStorage({ path: "./data/registry.db" });
 * ```
 */
export async function createSqliteStorage(options: SqliteStorageOptions): Promise<StorageAdapter> {
  checkPath(options, "createSqliteStorage");
  const retainChanges = checkRetainChanges(options.retainChanges, "createSqliteStorage");
  const retainHistory = checkRetainHistory(options.retainHistory, "createSqliteStorage");
  const readCacheBytes = options.readCacheBytes ?? defaultReadCacheBytes;
  if (!Number.isSafeInteger(readCacheBytes) || readCacheBytes < 0) {
    throw new TypeError("createSqliteStorage: `readCacheBytes` must be a whole number of bytes, 0 or more");
  }
  const { opened } = await openMigrated(options, options.migrate === false ? "check" : "migrate");
  // Only a dry run is left unopened.
  if (opened === undefined) throw new Error("unreachable: the database was not opened");
  const { database, db } = opened;
  const storage = createSqlStorage(db, {
    lockingReads: false,
    retainChanges,
    retainHistory,
    classify: (error) => {
      const code = sqliteCode(error);
      if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
        return "uniqueViolation";
      }
      // A read transaction that tried to write after another connection committed.
      if (code === "SQLITE_BUSY_SNAPSHOT") return "retryable";
      if (
        code.startsWith("SQLITE_BUSY") ||
        code.startsWith("SQLITE_LOCKED") ||
        code.startsWith("SQLITE_IOERR")
      ) {
        return "unavailable";
      }
      return undefined;
    },
    // SQLite transactions are serializable, and it runs in this process: a
    // statement cannot be bounded, so a deadline is checked before each one.
    close: () => db.destroy(),
  });
  if (readCacheBytes === 0) return storage;
  // On the adapter's one connection: it changes when another connection committed, not for our own.
  const dataVersion = database.prepare("PRAGMA data_version").pluck();
  // Asked outside Kysely's connection lock: while one of our reads has its
  // transaction open (BEGIN…COMMIT across awaits), data_version is its
  // snapshot's, so the cache trusts nothing then (`inTransaction`).
  return withReadCache(storage, {
    maxBytes: readCacheBytes,
    dataVersion: () => dataVersion.get() as number,
    inTransaction: () => database.inTransaction,
  });
}
