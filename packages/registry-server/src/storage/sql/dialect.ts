import type { Transaction } from "kysely";
import type { CircuitBreaker } from "../circuit-breaker";
import type { RegistryDatabase } from "./schema";

/**
 * What a driver error means to the storage, told apart per dialect:
 * - `uniqueViolation`: a unique or primary-key constraint was violated;
 * - `retryable`: the transaction lost a deadlock or a serialization check and
 *   was rolled back; running it again can succeed;
 * - `timeout`: a statement ran past the time limit the storage set, and the
 *   database cancelled it;
 * - `unavailable`: the connection failed, was refused or lost, or the
 *   database is too busy or shutting down;
 * - `undefined`: anything else (a bug, reported as INTERNAL).
 */
export type SqlErrorKind = "uniqueViolation" | "retryable" | "timeout" | "unavailable";

/** Classifies a driver error; see {@link SqlErrorKind}. */
export type SqlErrorClassifier = (error: unknown) => SqlErrorKind | undefined;

/** The per-dialect parts of `createSqlStorage`. */
export interface SqlDialect {
  readonly classify: SqlErrorClassifier;
  /**
   * Bounds how long each later statement of `trx` may run, in milliseconds
   * (at least 1), so the database itself cancels work past a call's deadline.
   * Returns what to run before the transaction ends when the limit would
   * otherwise outlive it on the pooled connection. Absent: the dialect cannot
   * bound statements (SQLite runs in-process; a call's deadline is checked
   * before each attempt only).
   */
  readonly limitStatementTime?: (
    trx: Transaction<RegistryDatabase>,
    ms: number,
  ) => Promise<(() => Promise<void>) | undefined>;
  /** Whether `SELECT ... FOR UPDATE` exists (not in SQLite, whose write transactions are serialized anyway). */
  readonly lockingReads: boolean;
  /**
   * How a read takes a shared lock on the rows it reads (the target of an
   * alias move, so it cannot be deleted before the move commits): `for share`
   * (PostgreSQL, MySQL 8) or `lock in share mode` (MariaDB has no FOR SHARE;
   * MySQL 8 still takes it). Absent where `lockingReads` is false.
   */
  readonly shareLock?: "for share" | "lock in share mode";
  /** How many of the latest changes to keep, at least (see `StorageAdapter.readChanges`). */
  readonly retainChanges: number;
  /** How many of the latest history entries to keep, at least; absent: every entry. */
  readonly retainHistory?: number | undefined;
  /** Isolation for read-only transactions: a consistent snapshot across the statements that read one record. */
  readonly readIsolation?: "repeatable read" | "serializable";
  /**
   * For a database across a network: every call runs through it (failing at
   * once while the database is known to be unreachable), `ping` is its probe,
   * and a call that fails UNAVAILABLE makes it probe at once. Absent for
   * SQLite, which runs in-process: contention there is not a partition.
   */
  readonly circuit?: CircuitBreaker;
  readonly close: () => Promise<void>;
}
