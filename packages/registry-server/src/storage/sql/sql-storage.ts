import type { Kysely } from "kysely";
import type { StorageAdapter, StorageCapabilities } from "../adapter";
import { createAliases } from "./aliases";
import { translate } from "./call-errors";
import { createChangeRecorder, readChanges } from "./changes";
import { databaseUnreachable } from "./circuit";
import type { SqlDialect } from "./dialect";
import { createHistory } from "./history";
import { createReads } from "./reads";
import type { RegistryDatabase } from "./schema";
import { createTransact } from "./transact";
import { createWrites } from "./writes";

/**
 * Every SQL dialect checks a call's deadline before each transaction (and the
 * servers bound each statement by it), and its signal before each statement.
 */
const capabilities: StorageCapabilities = Object.freeze({ deadlines: true, cancellation: true });

/**
 * A StorageAdapter over any Kysely database with the registry schema: the one
 * SQL implementation that SQLite, PostgreSQL and MySQL share. `dialect`
 * holds what differs. Migrations must already have run.
 *
 * Every operation is one transaction (reads too: a record and its tags and
 * metadata come from one snapshot), run by `createTransact`: again after a
 * lost deadlock or serialization check; bounded by the call's deadline,
 * which becomes the statements' time limit, so the database cancels work
 * nobody waits for any more; and stopped, rolled back, when the call's
 * signal aborts.
 */
export function createSqlStorage(db: Kysely<RegistryDatabase>, dialect: SqlDialect): StorageAdapter {
  const transact = createTransact(db, dialect);
  const recordChanges = createChangeRecorder(dialect.retainChanges, dialect.retainHistory);
  const context = { transact, dialect, recordChanges };
  let closed: Promise<void> | undefined;
  return {
    capabilities,
    ...createReads(transact),
    ...createWrites(context),
    ...createAliases(context),
    ...createHistory(transact),

    readChanges: (afterRevision, limit, options) =>
      transact(options, "read", (trx) => readChanges(trx, afterRevision, limit)),

    async ping() {
      const { circuit } = dialect;
      if (circuit !== undefined) {
        if (!(await circuit.probe())) throw circuit.openError() ?? databaseUnreachable(undefined);
        return;
      }
      try {
        await db.selectFrom("models").select("id").limit(1).execute();
      } catch (error) {
        throw translate(error, dialect.classify(error));
      }
    },

    close() {
      dialect.circuit?.dispose();
      closed ??= dialect.close();
      return closed;
    },
  };
}
