import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { Code, RegistryError } from "@modelreg/proto";
import { CompiledQuery, Kysely, MysqlDialect, sql } from "kysely";
import { type Connection, createConnection, createPool } from "mysql2";
import { checkRetainChanges, checkRetainHistory, type StorageAdapter } from "./adapter";
import {
  type CircuitBreakerOptions,
  type CircuitSettings,
  checkCircuitOptions,
  checkMs,
  createDatabaseCircuit,
  SocketTracker,
} from "./sql/circuit";
import { classifyMysqlError } from "./sql/classify";
import { type MigrationMode, type MigrationReport, runMigrations } from "./sql/migrations";
import type { RegistryDatabase } from "./sql/schema";
import { createSqlStorage } from "./sql/sql-storage";

/** What a migration run found and did; the error of a storage told not to migrate whose schema is not current. */
export { type MigrationReport, SchemaNotCurrentError } from "./sql/migrations";
/** Failing fast while the database cannot be reached: `createMysqlStorage({ circuitBreaker })`. */
export type { CircuitBreakerOptions };

/** Options for {@link createMysqlStorage}. */
export interface MysqlStorageOptions {
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
   * A `mysql://user:password@host:port/database` URL, as `mysql2` takes it.
   * The database must exist.
   */
  uri: string;
  /** The connection pool (`mysql2` `createPool`). */
  pool?: {
    /** Most connections open at once. Default 10. */
    connectionLimit?: number;
    /** How long connecting may take before the call fails UNAVAILABLE. Default 2000 ms. */
    connectTimeoutMs?: number;
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
   * `false`: change nothing; reject with `SchemaNotCurrentError` (naming the
   * pending migrations) unless the schema is current, for deployments that
   * migrate separately (`modelreg migrate`, {@link migrateMysql}).
   */
  migrate?: boolean;
}

/** Options for {@link migrateMysql}: the same connection settings as the storage's. */
export type MysqlMigrateOptions = Omit<MysqlStorageOptions, "migrate"> & {
  /** Report the pending migrations and change nothing. */
  dryRun?: boolean;
};

/** Where mysql2 connects, as it hands its connection settings to a `stream` factory. */
interface StreamTarget {
  readonly config: { readonly host?: string; readonly port?: number; readonly socketPath?: string };
}

/**
 * Drops `connection` for good. mysql2's `destroy()` only ends the socket
 * politely (a partitioned server never answers, so it stays open) and drops
 * pending callbacks uncalled: its socket (`stream`, untyped) is destroyed too.
 */
function destroySocket(connection: Connection): void {
  connection.destroy();
  (connection as unknown as { stream?: Duplex }).stream?.destroy();
}

/**
 * The circuit breaker's probe: `select 1` on a connection of its own,
 * outside the pool and touching no table, so that a pool busy with slow
 * calls or a table lock is never taken for an unreachable database. The connection is kept between probes, and
 * dropped when a probe fails or takes too long.
 */
function createProbe(uri: string, settings: CircuitSettings, keepAliveInitialDelay: number) {
  let closed = false;
  let connection: Connection | undefined;
  const drop = (dropped: Connection | undefined) => {
    if (dropped === undefined) return;
    if (connection === dropped) connection = undefined;
    destroySocket(dropped);
  };
  return {
    run: async (signal: AbortSignal) => {
      if (closed) throw new Error("the storage is closed");
      let current = connection;
      if (current === undefined) {
        const fresh = createConnection({
          uri,
          connectTimeout: settings.probeTimeoutMs,
          enableKeepAlive: true,
          keepAliveInitialDelay,
        });
        fresh.on("error", () => drop(fresh));
        current = connection = fresh;
      }
      const querying = current;
      // Settles on the abort itself: a dropped connection never calls back.
      let onAbort = () => {};
      try {
        await new Promise<void>((resolve, reject) => {
          onAbort = () => reject(signal.reason ?? new Error("the probe was aborted"));
          if (signal.aborted) onAbort();
          signal.addEventListener("abort", onAbort, { once: true });
          querying.query("select 1", (error) => (error ? reject(error) : resolve()));
        });
      } catch (error) {
        drop(querying);
        throw error;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
    /** Ends the connection politely, and drops it if the server does not answer within the probe timeout. */
    close: () => {
      closed = true;
      const last = connection;
      connection = undefined;
      if (last === undefined) return;
      const force = setTimeout(() => destroySocket(last), settings.probeTimeoutMs).unref();
      last.end(() => clearTimeout(force));
    },
  };
}

/** The server a URI names, without credentials, for error messages. */
function describeServer(uri: string): string {
  try {
    const url = new URL(uri);
    return `${url.hostname || "localhost"}:${url.port || "3306"}${url.pathname}`;
  } catch {
    return "the configured server";
  }
}

/**
 * Set on every new connection, whatever the server's global `sql_mode`:
 * strict (a value that does not fit is an error, never silently cut), and
 * without `NO_BACKSLASH_ESCAPES` or `ANSI_QUOTES`, which would change how
 * the driver's escaped strings and Kysely's quoted names are read.
 */
const SESSION_SQL_MODE = "set session sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'";

/**
 * The `mysql2` pool, with bounded connecting, TCP keepalive, and every
 * connection's socket tracked in `sockets`.
 */
function createTrackedPool(
  options: MysqlStorageOptions,
  sockets: SocketTracker,
  keepAliveInitialDelay: number,
  caller: string,
) {
  const pool = createPool({
    uri: options.uri,
    charset: "utf8mb4",
    connectionLimit: options.pool?.connectionLimit ?? 10,
    connectTimeout: checkMs(options.pool?.connectTimeoutMs, 2000, "pool.connectTimeoutMs", caller),
    // What mysql2 does without a `stream` factory, with each socket tracked,
    // so that they can all be dropped at once when the database is unreachable.
    stream: ({ config }: StreamTarget) => {
      if (config.socketPath !== undefined) return sockets.track(connect(config.socketPath));
      const socket = sockets.track(connect(config.port ?? 3306, config.host ?? "localhost"));
      socket.setNoDelay(true);
      socket.once("connect", () => socket.setKeepAlive(true, keepAliveInitialDelay));
      return socket;
    },
  });
  // mysql2 removes a pooled connection that fails, but listens for its
  // `error` only once; a second event would crash the process.
  pool.on("connection", (connection) => {
    connection.on("error", () => {});
  });
  return pool;
}

/**
 * The pool and Kysely instance every MySQL entry point uses, with the
 * options checked and `mode` run on the migrations. Connection failures
 * reject with `RegistryError` UNAVAILABLE.
 */
async function openMysql(options: MysqlStorageOptions, mode: MigrationMode, caller: string) {
  if (typeof options?.uri !== "string" || options.uri === "") {
    throw new TypeError(`${caller}: \`uri\` must be a mysql:// URL`);
  }
  const keepAliveInitialDelay = checkMs(
    options.pool?.keepAliveInitialDelayMs,
    5000,
    "pool.keepAliveInitialDelayMs",
    caller,
  );
  const sockets = new SocketTracker();
  const pool = createTrackedPool(options, sockets, keepAliveInitialDelay, caller);
  const db = new Kysely<RegistryDatabase>({
    dialect: new MysqlDialect({
      pool,
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw(SESSION_SQL_MODE));
      },
    }),
  });
  try {
    const report = await runMigrations(db, "mysql", mode);
    const { rows } = await sql<{ version: string }>`select version() as version`.execute(db);
    const isMariaDb = /mariadb/i.test(rows[0]?.version ?? "");
    return { db, sockets, keepAliveInitialDelay, isMariaDb, report };
  } catch (error) {
    await db.destroy().catch(() => {});
    if (classifyMysqlError(error) === "unavailable") {
      throw new RegistryError(Code.UNAVAILABLE, `cannot connect to MySQL at ${describeServer(options.uri)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Inspects or applies the schema migrations of a MySQL or MariaDB database
 * (connecting as {@link createMysqlStorage} does) without opening a storage:
 * `dryRun` reports the pending ones and changes nothing. Rejects with
 * `SchemaNotCurrentError` when the database is ahead of this build.
 *
 * ```ts
 * import { migrateMysql } from "@modelreg/registry-server/storage/mysql";
 * const report = await migrateMysql({ uri: process.env.DATABASE_URL ?? "", dryRun: true });
 * ```
 */
export async function migrateMysql(options: MysqlMigrateOptions): Promise<MigrationReport> {
  const mode = options?.dryRun === true ? "dryRun" : "migrate";
  const { db, report } = await openMysql(options, mode, "migrateMysql");
  await db.destroy();
  return report;
}

/**
 * MySQL 8.0.17+ or MariaDB 10.2+, through a `mysql2` connection pool (utf8mb4
 * end to end, so 4-byte UTF-8 is stored exactly). Runs the schema migrations
 * before it resolves (once, even when several replicas start together: the
 * migrator holds `GET_LOCK`), unless `migrate: false`. Requires the optional
 * peer dependency `mysql2`. Strings compare by code point with no
 * trailing-space padding: every text column uses `utf8mb4_nopad_bin`
 * (MariaDB) or `utf8mb4_0900_bin` (MySQL).
 *
 * Rejects with `RegistryError` UNAVAILABLE when the server cannot be
 * reached; later calls reject with UNAVAILABLE while it is unreachable, and
 * the pool reconnects once it is back.
 *
 * ```ts
 * import { createMysqlStorage } from "@modelreg/registry-server/storage/mysql";
 * const storage = await createMysqlStorage({ uri: process.env.DATABASE_URL ?? "" });
 * ```
 */
export async function createMysqlStorage(options: MysqlStorageOptions): Promise<StorageAdapter> {
  const caller = "createMysqlStorage";
  const retainChanges = checkRetainChanges(options?.retainChanges, caller);
  const retainHistory = checkRetainHistory(options?.retainHistory, caller);
  const circuitSettings = checkCircuitOptions(options?.circuitBreaker, caller);
  const mode = options?.migrate === false ? "check" : "migrate";
  const { db, sockets, keepAliveInitialDelay, isMariaDb } = await openMysql(options, mode, caller);
  const probe = createProbe(options.uri, circuitSettings, keepAliveInitialDelay);
  return createSqlStorage(db, {
    circuit: createDatabaseCircuit(circuitSettings, { probe: probe.run, sockets }),
    lockingReads: true,
    // MariaDB has no FOR SHARE; both take LOCK IN SHARE MODE.
    shareLock: "lock in share mode",
    retainChanges,
    retainHistory,
    classify: classifyMysqlError,
    // Said explicitly: a server configured READ COMMITTED would otherwise give
    // a read's statements different snapshots (torn records, and a watch
    // that reads the pruning mark and the changes at different moments).
    readIsolation: "repeatable read",
    // MariaDB bounds every statement (`max_statement_time`, seconds); MySQL
    // bounds SELECTs only (`max_execution_time`, ms). Both are session
    // settings, so they are put back before the connection returns to the pool.
    limitStatementTime: async (trx, ms) => {
      const variable = isMariaDb ? sql`@@session.max_statement_time` : sql`@@session.max_execution_time`;
      const value = isMariaDb ? sql.lit(ms / 1000) : sql.lit(ms);
      await sql`set ${variable} = ${value}`.execute(trx);
      return async () => {
        await sql`set ${variable} = default`.execute(trx);
      };
    },
    close: async () => {
      probe.close();
      // mysql2's pool.end() fails with the first connection that cannot say QUIT: one the circuit
      // breaker dropped, or the server closed, before mysql2 noticed. That connection is closed
      // already, which is all close() is for.
      await db.destroy().catch((error: unknown) => {
        if (classifyMysqlError(error) !== "unavailable") throw error;
      });
    },
  });
}
