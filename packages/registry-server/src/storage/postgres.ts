import { Code, RegistryError } from "@modelreg/proto";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { checkRetainChanges, checkRetainHistory, type StorageAdapter } from "./adapter";
import {
  type CircuitBreakerOptions,
  type CircuitSettings,
  checkCircuitOptions,
  checkMs,
  createDatabaseCircuit,
  SocketTracker,
} from "./sql/circuit";
import { classifyPostgresError } from "./sql/classify";
import { type MigrationMode, type MigrationReport, runMigrations } from "./sql/migrations";
import type { RegistryDatabase } from "./sql/schema";
import { createSqlStorage } from "./sql/sql-storage";

/** What a migration run found and did; the error of a storage told not to migrate whose schema is not current. */
export { type MigrationReport, SchemaNotCurrentError } from "./sql/migrations";
/** Failing fast while the database cannot be reached: `createPostgresStorage({ circuitBreaker })`. */
export type { CircuitBreakerOptions };

/** Options for {@link createPostgresStorage}. */
export interface PostgresStorageOptions {
  /** How many of the latest changes WatchModels can resume from, at least. Default 100 000. */
  retainChanges?: number;
  /**
   * How many of the latest history entries (ListModelHistory, LookupModel
   * with `read_time`) to keep, at least. Entries are pruned only past both
   * this and `retainChanges`. Default: absent, every entry is kept (the
   * history is an audit log).
   */
  retainHistory?: number;

  /**
   * A `postgres://user:password@host:port/database` URL, as `pg` takes it
   * (query parameters such as `sslmode` and `application_name` work too).
   */
  connectionString: string;
  /**
   * The schema that holds the registry's tables. Created if missing, and set
   * as each connection's `search_path`. Default: the connection's own
   * `search_path` (usually `public`). At most 63 bytes.
   */
  schema?: string;
  /** The connection pool (`pg.Pool`). */
  pool?: {
    /** Most connections open at once. Default 10. */
    max?: number;
    /** How long an unused connection stays open. Default 10 000 ms. */
    idleTimeoutMs?: number;
    /**
     * How long a call waits to connect (or for a free connection) before it
     * fails UNAVAILABLE. Default 2000 ms.
     */
    connectionTimeoutMs?: number;
    /**
     * TCP keepalive on every database connection: how long a connection is
     * idle before the first keepalive probe (then one a second; ten
     * unanswered drop it). Default 5000 ms.
     */
    keepAliveInitialDelayMs?: number;
  };
  /**
   * Failing fast while the database cannot be reached (a partition, packets
   * dropped): see {@link CircuitBreakerOptions}.
   */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * `true` (default): apply pending schema migrations before resolving.
   * `false`: change nothing (not even create `schema`); reject with
   * `SchemaNotCurrentError` (naming the pending migrations) unless the
   * schema is current, for deployments that migrate separately (`modelreg
   * migrate`, {@link migratePostgres}).
   */
  migrate?: boolean;
}

/** Options for {@link migratePostgres}: the same connection settings as the storage's. */
export type PostgresMigrateOptions = Omit<PostgresStorageOptions, "migrate"> & {
  /** Report the pending migrations and change nothing (not even create `schema`). */
  dryRun?: boolean;
};

/**
 * The server and database a connection string names, without credentials,
 * for error messages.
 */
function describeServer(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname || "localhost"}:${url.port || "5432"}${url.pathname}`;
  } catch {
    return "the configured server";
  }
}

/**
 * The connection settings that put `schema` first on the `search_path`: the
 * startup parameter `options` (`-c search_path=...`), so it holds from the
 * connection's first statement with no extra round trip, and a connection
 * that fails in between cannot be left half set up. `options` in the URL
 * would override a separate setting, so it is moved out and kept.
 */
function withSearchPath(
  connectionString: string,
  schema: string | undefined,
): { connectionString: string; options?: string } {
  if (schema === undefined) return { connectionString };
  const quoted = `"${schema.replaceAll('"', '""')}"`;
  // In `options`, whitespace separates arguments unless escaped with a backslash.
  const setting = `-c search_path=${quoted.replace(/[\\\s]/g, (c) => `\\${c}`)}`;
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return { connectionString, options: setting };
  }
  const existing = url.searchParams.get("options");
  if (existing === null) return { connectionString, options: setting };
  url.searchParams.delete("options");
  return { connectionString: url.toString(), options: `${existing} ${setting}` };
}

/**
 * Creates `schema` if it is missing, and returns the schema the connection's
 * unqualified names resolve to. Looks first: `CREATE SCHEMA` needs the CREATE
 * privilege on the database even when the schema exists. Several replicas
 * starting together may race to create it (`IF NOT EXISTS` does not stop a
 * concurrent duplicate): the loser finds it made.
 */
async function prepareSchema(
  db: Kysely<RegistryDatabase>,
  schema: string | undefined,
  create: boolean,
): Promise<string> {
  const exists = async (name: string) =>
    (await sql`select 1 from pg_namespace where nspname = ${name}`.execute(db)).rows.length > 0;
  // Not created when only looking: a missing schema holds no tables, every migration is pending.
  if (schema !== undefined && !create) return schema;
  if (schema !== undefined && !(await exists(schema))) {
    try {
      await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    } catch (error) {
      if (!(await exists(schema))) throw error;
    }
  }
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const current = rows[0]?.schema;
  if (current === null || current === undefined) {
    throw new Error("createPostgresStorage: the search_path names no existing schema; pass `schema`");
  }
  return current;
}

/**
 * The circuit breaker's probe: `select 1` on a connection of its own,
 * outside the pool and touching no table, so that a pool busy with slow
 * calls or a table lock is never taken for an unreachable database. The connection is kept between probes, and
 * dropped when a probe fails or takes too long.
 */
function createProbe(connection: pg.ClientConfig, settings: CircuitSettings) {
  let closed = false;
  let client: pg.Client | undefined;
  const drop = (dropped: pg.Client | undefined) => {
    if (dropped === undefined) return;
    if (client === dropped) client = undefined;
    dropped.connection.stream.destroy();
  };
  return {
    run: async (signal: AbortSignal) => {
      if (closed) throw new Error("the storage is closed");
      let current = client;
      const onAbort = () => drop(current);
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        if (current === undefined) {
          const fresh = new pg.Client({ ...connection, connectionTimeoutMillis: settings.probeTimeoutMs });
          fresh.on("error", () => drop(fresh));
          current = client = fresh;
          await fresh.connect();
        }
        await current.query("select 1");
      } catch (error) {
        drop(current);
        throw error;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
    /** Ends the connection politely, and drops it if the server does not answer within the probe timeout. */
    close: () => {
      closed = true;
      const last = client;
      client = undefined;
      if (last === undefined) return;
      const force = setTimeout(() => last.connection.stream.destroy(), settings.probeTimeoutMs).unref();
      last.end().then(
        () => clearTimeout(force),
        () => {},
      );
    },
  };
}

/**
 * The `pg` pool, with its options checked: bounded connecting, TCP keepalive,
 * and every connection's socket tracked in `sockets`. Also returns the
 * connection settings, for the circuit breaker's probe.
 */
function createPool(options: PostgresStorageOptions, sockets: SocketTracker, caller: string) {
  const pool = options.pool ?? {};
  const connection: pg.ClientConfig = {
    ...withSearchPath(options.connectionString, options.schema),
    keepAlive: true,
    keepAliveInitialDelayMillis: checkMs(
      pool.keepAliveInitialDelayMs,
      5000,
      "pool.keepAliveInitialDelayMs",
      caller,
    ),
  };
  const created = new pg.Pool({
    ...connection,
    max: pool.max ?? 10,
    idleTimeoutMillis: pool.idleTimeoutMs ?? 10_000,
    connectionTimeoutMillis: checkMs(pool.connectionTimeoutMs, 2000, "pool.connectionTimeoutMs", caller),
  });
  // An idle connection that fails (server restart, network drop) is reported
  // here; without a listener it would crash the process. The pool drops it.
  created.on("error", () => {});
  // A checked-out connection also emits `error` on the client (after failing
  // its queries) when it breaks between two statements of a transaction; the
  // failed query reports it and the pool discards the client on release.
  created.on("connect", (client) => {
    client.on("error", () => {});
    // Tracked, so that every connection can be dropped at once when the database is unreachable.
    sockets.track(client.connection.stream);
  });
  return { pool: created, connection };
}

/**
 * The pool and Kysely instance every PostgreSQL entry point uses, with the
 * options checked, `schema` prepared and `mode` run on the migrations.
 * Connection failures reject with `RegistryError` UNAVAILABLE.
 */
async function openPostgres(options: PostgresStorageOptions, mode: MigrationMode, caller: string) {
  if (typeof options?.connectionString !== "string" || options.connectionString === "") {
    throw new TypeError(`${caller}: \`connectionString\` must be a postgres:// URL`);
  }
  const { schema } = options;
  if (
    schema !== undefined &&
    (typeof schema !== "string" || schema === "" || schema.includes("\0") || Buffer.byteLength(schema) > 63)
  ) {
    throw new TypeError(`${caller}: \`schema\` must be a name of 1 to 63 bytes`);
  }
  const sockets = new SocketTracker();
  const { pool, connection } = createPool(options, sockets, caller);
  const db = new Kysely<RegistryDatabase>({ dialect: new PostgresDialect({ pool }) });
  try {
    const current = await prepareSchema(db, schema, mode === "migrate");
    const report = await runMigrations(db, "postgres", mode, { migrationTableSchema: current });
    return { db, connection, sockets, report };
  } catch (error) {
    await db.destroy().catch(() => {});
    if (classifyPostgresError(error) === "unavailable") {
      throw new RegistryError(
        Code.UNAVAILABLE,
        `cannot connect to PostgreSQL at ${describeServer(options.connectionString)}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Inspects or applies the schema migrations of a PostgreSQL database (in
 * `schema`, connecting as {@link createPostgresStorage} does) without opening
 * a storage: `dryRun` reports the pending ones and changes nothing. Rejects
 * with `SchemaNotCurrentError` when the database is ahead of this build.
 *
 * ```ts
 * import { migratePostgres } from "@modelreg/registry-server/storage/postgres";
 * const report = await migratePostgres({ connectionString: process.env.DATABASE_URL ?? "", dryRun: true });
 * ```
 */
export async function migratePostgres(options: PostgresMigrateOptions): Promise<MigrationReport> {
  const mode = options?.dryRun === true ? "dryRun" : "migrate";
  const { db, report } = await openPostgres(options, mode, "migratePostgres");
  await db.destroy();
  return report;
}

/**
 * PostgreSQL, through a `pg` connection pool. Runs the schema migrations
 * before it resolves (once, even when several replicas start together: the
 * migrator holds an advisory lock), unless `migrate: false`. Requires the
 * optional peer dependency `pg`. Strings compare by code point (`COLLATE "C"`
 * on every text column), whatever the database's collation.
 *
 * Rejects with `RegistryError` UNAVAILABLE when the server cannot be
 * reached. Later, calls made while the database is unreachable reject with
 * UNAVAILABLE; the pool reconnects on its own once it is back. Errors of
 * idle connections (a restart, a dropped network) are absorbed: the pool
 * discards the connection and the process keeps running.
 *
 * ```ts
 * import { createPostgresStorage } from "@modelreg/registry-server/storage/postgres";
 * const storage = await createPostgresStorage({ connectionString: process.env.DATABASE_URL ?? "", schema: "modelreg" });
 * ```
 */
export async function createPostgresStorage(options: PostgresStorageOptions): Promise<StorageAdapter> {
  const caller = "createPostgresStorage";
  const retainChanges = checkRetainChanges(options?.retainChanges, caller);
  const retainHistory = checkRetainHistory(options?.retainHistory, caller);
  const circuitSettings = checkCircuitOptions(options?.circuitBreaker, caller);
  const mode = options?.migrate === false ? "check" : "migrate";
  const { db, connection, sockets } = await openPostgres(options, mode, caller);
  const probe = createProbe(connection, circuitSettings);
  return createSqlStorage(db, {
    circuit: createDatabaseCircuit(circuitSettings, { probe: probe.run, sockets }),
    lockingReads: true,
    shareLock: "for share",
    retainChanges,
    retainHistory,
    classify: classifyPostgresError,
    // Reads see one snapshot; read-only repeatable-read transactions never
    // fail a serialization check.
    readIsolation: "repeatable read",
    // `set_config(..., true)` is SET LOCAL: it ends with the transaction.
    limitStatementTime: async (trx, ms) => {
      await sql`select set_config('statement_timeout', ${String(ms)}, true)`.execute(trx);
      return undefined;
    },
    close: async () => {
      probe.close();
      await db.destroy();
    },
  });
}
