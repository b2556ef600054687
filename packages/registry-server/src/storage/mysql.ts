import { Code, RegistryError } from "@modelreg/proto";
import { CompiledQuery, Kysely, MysqlDialect, sql } from "kysely";
import { createPool } from "mysql2";
import { checkRetainChanges, type StorageAdapter } from "./adapter";
import { classifyMysqlError } from "./sql/classify";
import { migrateToLatest } from "./sql/migrations";
import type { RegistryDatabase } from "./sql/schema";
import { createSqlStorage } from "./sql/sql-storage";

/** Options for {@link createMysqlStorage}. */
export interface MysqlStorageOptions {
  /** How many of the latest changes WatchModels can resume from, at least. Default 100 000. */
  retainChanges?: number;

  /**
   * A `mysql://user:password@host:port/database` URL, as `mysql2` takes it.
   * The database must exist.
   */
  uri: string;
  /** The connection pool (`mysql2` `createPool`). */
  pool?: {
    /** Most connections open at once. Default 10. */
    connectionLimit?: number;
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
 * MySQL 8.0.17+ or MariaDB 10.2+, through a `mysql2` connection pool (utf8mb4
 * end to end, so 4-byte UTF-8 is stored exactly). Runs the schema migrations
 * before it resolves (once, even when several replicas start together: the
 * migrator holds `GET_LOCK`). Requires the optional peer dependency `mysql2`.
 * Strings compare by code point with no trailing-space padding: every text
 * column uses `utf8mb4_nopad_bin` (MariaDB) or `utf8mb4_0900_bin` (MySQL).
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
  if (typeof options?.uri !== "string" || options.uri === "") {
    throw new TypeError("createMysqlStorage: `uri` must be a mysql:// URL");
  }
  const retainChanges = checkRetainChanges(options.retainChanges, "createMysqlStorage");
  const pool = createPool({
    uri: options.uri,
    charset: "utf8mb4",
    connectionLimit: options.pool?.connectionLimit ?? 10,
    enableKeepAlive: true,
  });
  // mysql2 removes a pooled connection that fails, but listens for its
  // `error` only once; a second event would crash the process.
  pool.on("connection", (connection) => {
    connection.on("error", () => {});
  });

  const db = new Kysely<RegistryDatabase>({
    dialect: new MysqlDialect({
      pool,
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw(SESSION_SQL_MODE));
      },
    }),
  });
  let isMariaDb: boolean;
  try {
    await migrateToLatest(db, "mysql");
    const { rows } = await sql<{ version: string }>`select version() as version`.execute(db);
    isMariaDb = /mariadb/i.test(rows[0]?.version ?? "");
  } catch (error) {
    await db.destroy().catch(() => {});
    if (classifyMysqlError(error) === "unavailable") {
      throw new RegistryError(Code.UNAVAILABLE, `cannot connect to MySQL at ${describeServer(options.uri)}`, {
        cause: error,
      });
    }
    throw error;
  }
  return createSqlStorage(db, {
    lockingReads: true,
    retainChanges,
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
    close: () => db.destroy(),
  });
}
