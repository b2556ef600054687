import { errorChain, messageOf, NETWORK_ERROR_CODES, stringCode } from "./errors";
import type { SqlErrorClassifier } from "./sql-storage";

/**
 * PostgreSQL SQLSTATEs (besides class 08, connection exception) after which
 * a retry can succeed: the server is shutting down, restarting or out of
 * connection slots, a standby that took over is still read-only, or the
 * statement lost a deadlock or a lock wait.
 */
const POSTGRES_UNAVAILABLE = new Set([
  "57P01", // admin_shutdown (also pg_terminate_backend)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, recovering)
  "57P05", // idle_session_timeout
  "53300", // too_many_connections
  "25006", // read_only_sql_transaction (a hot standby, e.g. during fail-over)
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
]);

/**
 * `pg` reports a dropped or timed-out connection with plain errors that have
 * no code: these are their messages (pg 8: lib/client.js, pg-pool).
 */
const POSTGRES_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;

/**
 * Tells `pg` errors apart: SQLSTATE 23505 is a unique violation; refused,
 * reset and terminated connections, shutdown and too-many-connections are
 * `unavailable`. Looks through `cause` and `AggregateError` chains.
 */
export const classifyPostgresError: SqlErrorClassifier = (error) => {
  for (const e of errorChain(error)) {
    const code = stringCode(e);
    if (code === "23505") return "uniqueViolation";
    if (code.startsWith("08") || POSTGRES_UNAVAILABLE.has(code) || NETWORK_ERROR_CODES.has(code)) {
      return "unavailable";
    }
    if (code === "" && POSTGRES_CONNECTION_MESSAGES.test(messageOf(e))) return "unavailable";
  }
  return undefined;
};

/** MySQL / MariaDB error numbers of a unique or primary-key violation. */
const MYSQL_DUPLICATE = new Set([
  1062, // ER_DUP_ENTRY
  1022, // ER_DUP_KEY
  1586, // ER_DUP_ENTRY_WITH_KEY_NAME
]);

/** MySQL / MariaDB error numbers after which a retry can succeed. */
const MYSQL_UNAVAILABLE = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1203, // ER_TOO_MANY_USER_CONNECTIONS
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED (MariaDB)
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1290, // ER_OPTION_PREVENTS_STATEMENT: --read-only, e.g. a replica during fail-over
]);

/** mysql2's own codes for a connection that failed or was lost. */
const MYSQL2_CONNECTION_CODES = new Set([
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR",
  "PROTOCOL_ENQUEUE_AFTER_QUIT",
  "PROTOCOL_PACKETS_OUT_OF_ORDER",
]);

/**
 * Tells `mysql2` errors apart: ER_DUP_ENTRY (1062) is a unique violation;
 * refused or lost connections, too many connections, a server shutting down
 * and lost lock waits are `unavailable`.
 */
export const classifyMysqlError: SqlErrorClassifier = (error) => {
  for (const e of errorChain(error)) {
    const errno = typeof e.errno === "number" ? e.errno : undefined;
    const code = stringCode(e);
    if (errno !== undefined && MYSQL_DUPLICATE.has(errno)) return "uniqueViolation";
    if (
      (errno !== undefined && MYSQL_UNAVAILABLE.has(errno)) ||
      MYSQL2_CONNECTION_CODES.has(code) ||
      NETWORK_ERROR_CODES.has(code)
    ) {
      return "unavailable";
    }
    if (messageOf(e).startsWith("Can't add new command when connection is in closed state")) {
      return "unavailable";
    }
  }
  return undefined;
};
