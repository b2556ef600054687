import type { Transaction } from "kysely";
import type { ChangesPage, ChangeType, ModelRecord } from "../adapter";
import type { RegistryDatabase } from "./schema";

/**
 * Appends the changes a write made, in the write's transaction (see
 * {@link createChangeRecorder}).
 */
export type RecordChanges = (
  trx: Transaction<RegistryDatabase>,
  type: ChangeType,
  models: readonly ModelRecord[],
) => Promise<void>;

/** How many change rows one INSERT carries: a multi-row INSERT's parameters are limited (SQLite: 32 766). */
const insertSlice = 500;

/**
 * The change history's writer, keeping at least the latest `retainChanges`.
 * Changes are numbered consecutively in the write's transaction. Bumping the
 * one state row takes its lock until commit, so concurrent writers get
 * consecutive revisions in commit order; callers record changes last, to
 * hold the lock briefly.
 */
export function createChangeRecorder(retainChanges: number): RecordChanges {
  // Pruned in steps of a tenth of what is kept (at most 1000), so a write rarely pays for it.
  const pruneEvery = Math.max(1, Math.min(1000, Math.ceil(retainChanges / 10)));
  return async (trx, type, models) => {
    if (models.length === 0) return;
    await trx
      .updateTable("modelreg_state")
      .set((eb) => ({ revision: eb("revision", "+", models.length) }))
      .where("id", "=", 1)
      .execute();
    const state = await trx
      .selectFrom("modelreg_state")
      .select(["revision", "pruned_through"])
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    const last = Number(state.revision);
    const first = last - models.length + 1;
    const commitTime = Date.now() * 1000;
    for (let i = 0; i < models.length; i += insertSlice) {
      await trx
        .insertInto("model_changes")
        .values(
          models.slice(i, i + insertSlice).map((model, j) => ({
            revision: first + i + j,
            type,
            model_id: model.id,
            model: JSON.stringify(model),
            commit_time: commitTime,
          })),
        )
        .execute();
    }
    // Pruned when the revisions cross a multiple of pruneEvery.
    const through = last - retainChanges;
    const crossed = Math.floor(last / pruneEvery) > Math.floor((first - 1) / pruneEvery);
    if (crossed && through > Number(state.pruned_through)) {
      await trx.deleteFrom("model_changes").where("revision", "<=", through).execute();
      await trx.updateTable("modelreg_state").set({ pruned_through: through }).where("id", "=", 1).execute();
    }
  };
}

/**
 * Up to `limit` changes after `afterRevision`, with the latest revision and
 * the pruning mark; run in a read transaction, so all from one snapshot.
 */
export async function readChanges(
  trx: Transaction<RegistryDatabase>,
  afterRevision: number,
  limit: number,
): Promise<ChangesPage> {
  const state = await trx
    .selectFrom("modelreg_state")
    .select(["revision", "pruned_through"])
    .where("id", "=", 1)
    .executeTakeFirstOrThrow();
  const rows =
    limit > 0
      ? await trx
          .selectFrom("model_changes")
          .selectAll()
          .where("revision", ">", afterRevision)
          .orderBy("revision", "asc")
          .limit(limit)
          .execute()
      : [];
  return {
    changes: rows.map((row) => ({
      revision: Number(row.revision),
      type: row.type,
      model: JSON.parse(row.model) as ModelRecord,
      commitTime: Number(row.commit_time),
    })),
    latestRevision: Number(state.revision),
    prunedThrough: Number(state.pruned_through),
  };
}
