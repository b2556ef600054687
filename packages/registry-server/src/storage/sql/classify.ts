import type { SqlErrorClassifier } from "./dialect";
import { errorChain, messageOf, NETWORK_ERROR_CODES, stringCode } from "./errors";

/**
 * PostgreSQL SQLSTATEs after which running the whole transaction again can
 * succeed: it lost a serialization check, a deadlock or a lock wait.
 */
const POSTGRES_RETRYABLE = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available (lock_timeout)
]);

/** PostgreSQL SQLSTATE too_many_connections: the server answered, it is out of connection slots. */
export const POSTGRES_TOO_MANY_CONNECTIONS = "53300";

/**
 * PostgreSQL SQLSTATEs (besides class 08, connection exception) after which
 * a later call can succeed: the server is shutting down, restarting or out of
 * connection slots, a standby that took over is still read-only, or an
 * administrator cancelled the statement.
 */
const POSTGRES_UNAVAILABLE = new Set([
  "57P01", // admin_shutdown (also pg_terminate_backend)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, recovering)
  "57P05", // idle_session_timeout
  POSTGRES_TOO_MANY_CONNECTIONS,
  "25006", // read_only_sql_transaction (a hot standby, e.g. during fail-over)
  "57014", // query_canceled by pg_cancel_backend (a statement_timeout is `timeout`)
]);

/**
 * `pg` reports a dropped or timed-out connection with plain errors that have
 * no code: these are their messages (pg 8: lib/client.js, pg-pool).
 */
const POSTGRES_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;

/**
 * Tells `pg` errors apart: SQLSTATE 23505 is a unique violation; a lost
 * serialization check, deadlock or lock wait is `retryable`; a statement
 * cancelled by `statement_timeout` is `timeout`; refused, reset and
 * terminated connections, shutdown and too-many-connections are
 * `unavailable`. Looks through `cause` and `AggregateError` chains.
 */
export const classifyPostgresError: SqlErrorClassifier = (error) => {
  for (const e of errorChain(error)) {
    const code = stringCode(e);
    if (code === "23505") return "uniqueViolation";
    if (POSTGRES_RETRYABLE.has(code)) return "retryable";
    // 57014 says "canceling statement due to statement timeout" for ours.
    if (code === "57014" && messageOf(e).includes("statement timeout")) return "timeout";
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

/** MySQL / MariaDB error numbers after which running the whole transaction again can succeed. */
const MYSQL_RETRYABLE = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
]);

/** A statement ran past `max_statement_time` (MariaDB) or `max_execution_time` (MySQL). */
const MYSQL_TIMEOUT = new Set([
  1969, // ER_STATEMENT_TIMEOUT (MariaDB)
  3024, // ER_QUERY_TIMEOUT (MySQL)
]);

/** MySQL / MariaDB error numbers of a server out of connection slots (it answered). */
export const MYSQL_TOO_MANY_CONNECTIONS: ReadonlySet<number> = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1203, // ER_TOO_MANY_USER_CONNECTIONS
]);

/** MySQL / MariaDB error numbers after which a later call can succeed. */
const MYSQL_UNAVAILABLE = new Set([
  ...MYSQL_TOO_MANY_CONNECTIONS,
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED (MariaDB)
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
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
 * Tells `mysql2` errors apart: ER_DUP_ENTRY (1062) is a unique violation; a
 * deadlock or lock wait timeout is `retryable`; a statement past its time
 * limit is `timeout`; refused or lost connections, too many connections and
 * a server shutting down are `unavailable`.
 */
export const classifyMysqlError: SqlErrorClassifier = (error) => {
  for (const e of errorChain(error)) {
    const errno = typeof e.errno === "number" ? e.errno : undefined;
    const code = stringCode(e);
    if (errno !== undefined && MYSQL_DUPLICATE.has(errno)) return "uniqueViolation";
    if (errno !== undefined && MYSQL_RETRYABLE.has(errno)) return "retryable";
    if (errno !== undefined && MYSQL_TIMEOUT.has(errno)) return "timeout";
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
