import { Code, RegistryError } from "@modelreg/proto";
import type { Kysely, Transaction } from "kysely";
import type { StorageCallOptions } from "../adapter";
import { isAborted, pause, stoppedError, throwIfStopped } from "../stopped";
import { translate } from "./call-errors";
import { stopOnAbort } from "./cancellation";
import type { SqlDialect } from "./dialect";
import type { RegistryDatabase } from "./schema";

/** How many times a transaction runs when it keeps losing deadlocks or serialization checks. */
export const maxTransactionAttempts = 5;

/** A jittered pause before the next attempt: 5-10 ms, doubling up to 80-160 ms; cut short by an abort. */
const backoff = (attempt: number, signal: AbortSignal | undefined) => {
  const base = 5 * 2 ** Math.min(attempt - 1, 4);
  return pause(base + Math.random() * base, signal);
};

/** Whether an operation only reads (and gets the dialect's snapshot isolation) or writes. */
export type TransactionMode = "read" | "write";

/**
 * Runs `body` in a transaction bounded by the call's deadline and signal,
 * again after a lost deadlock or serialization check (see
 * {@link createTransact}).
 */
export type Transact = <T>(
  options: StorageCallOptions | undefined,
  mode: TransactionMode,
  body: (trx: Transaction<RegistryDatabase>) => Promise<T>,
) => Promise<T>;

/** Whether the circuit breaker already failed the call (the database is unreachable): it must do no more. */
type Abandoned = () => boolean;

/** Thrown inside a call the circuit breaker failed, to roll it back; its caller has had its error. */
const abandonedByCircuit = () =>
  new RegistryError(Code.UNAVAILABLE, "The call was failed when the database became unreachable.");

/** One attempt: a transaction with the deadline as statement time limit, and the signal checked per statement of a write, at the end of a read. */
function attempt<T>(
  db: Kysely<RegistryDatabase>,
  dialect: SqlDialect,
  options: StorageCallOptions | undefined,
  mode: TransactionMode,
  body: (trx: Transaction<RegistryDatabase>) => Promise<T>,
  abandoned: Abandoned | undefined,
): Promise<T> {
  const deadline = options?.deadline;
  // Only a write reads the signal (for its per-statement check): reading it makes a lazy one.
  const signal = mode === "write" ? options?.signal : undefined;
  let builder = db.transaction();
  if (mode === "read" && dialect.readIsolation) builder = builder.setIsolationLevel(dialect.readIsolation);
  return builder.execute(async (trx) => {
    // It may have waited for a connection while the circuit opened.
    if (abandoned?.()) throw abandonedByCircuit();
    const undo =
      dialect.limitStatementTime && deadline !== undefined
        ? // Measured again here: waiting for a pooled connection took some of it.
          await dialect.limitStatementTime(trx, Math.max(1, Math.ceil(deadline - Date.now())))
        : undefined;
    try {
      // Only the body's statements are guarded: `undo` must run even after an abort. Writes
      // are guarded per statement; a read's few short statements only at its start and end
      // (the plugin costs a Kysely executor per transaction, ~5% of a SQLite GetModel).
      const guarded = signal ? trx.withPlugin(stopOnAbort(signal, options ?? {})) : trx;
      const result = await body(guarded);
      // The body's last statement may have been running when the signal aborted: no commit then.
      if (isAborted(options)) throw stoppedError(options);
      if (abandoned?.()) throw abandonedByCircuit();
      return result;
    } finally {
      // A broken connection fails this too; the body's error is the one to report.
      if (undo !== undefined) await undo().catch(() => {});
    }
  });
}

/**
 * The transaction runner of a SQL storage. Every attempt first checks the
 * call: a passed deadline throws DEADLINE_EXCEEDED, an aborted signal
 * CANCELLED, before anything runs. A transaction that loses a deadlock or a
 * serialization check is run again, up to {@link maxTransactionAttempts}
 * times, then fails ABORTED; other driver errors are translated (see
 * `translate`). `read` transactions get the dialect's snapshot isolation.
 * With the dialect's `circuit`, calls run through it: they fail at once
 * while the database is known to be unreachable, and a call that finds it
 * unreachable has the circuit probe at once.
 */
export function createTransact(db: Kysely<RegistryDatabase>, dialect: SqlDialect): Transact {
  const { circuit } = dialect;
  const run = async <T>(
    options: StorageCallOptions | undefined,
    mode: TransactionMode,
    body: (trx: Transaction<RegistryDatabase>) => Promise<T>,
    abandoned?: Abandoned,
  ): Promise<T> => {
    for (let n = 1; ; n++) {
      throwIfStopped(options);
      try {
        return await attempt(db, dialect, options, mode, body, abandoned);
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        const kind = dialect.classify(error);
        if (kind === "retryable" && n < maxTransactionAttempts) {
          await backoff(n, options?.signal);
          continue;
        }
        if (kind === "unavailable") void circuit?.probe();
        throw translate(error, kind);
      }
    }
  };
  if (circuit === undefined) return run;
  return (options, mode, body) => circuit.run((abandoned) => run(options, mode, body, abandoned));
}
