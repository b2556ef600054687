import type { Transaction } from "kysely";
import type { AliasRecord, AliasResolution, HistoryQuery, HistoryRecord, StorageAdapter } from "../adapter";
import { resolveCurrent } from "./aliases";
import { parseModel, toChange } from "./changes";
import type { RegistryDatabase } from "./schema";
import type { Transact } from "./transact";

type Trx = Transaction<RegistryDatabase>;

/** The entry types that carry a model's own state (its `before` is the previous of these). */
const modelStateTypes = ["created", "updated"] as const;

/**
 * One page of history, newest first: every condition is a WHERE term, the
 * page `revision < before ORDER BY revision DESC LIMIT n`, so an index that
 * ends in the revision ((name, revision), (model_id, revision), (name,
 * alias, revision), (actor, revision)) returns it reading about one page.
 * Each updated/deleted entry's previous model state comes with it: the
 * revision from a correlated subquery on (model_id, revision), the states
 * in one more query for the whole page.
 */
async function listHistory(trx: Trx, query: HistoryQuery): Promise<HistoryRecord[]> {
  let select = trx
    .selectFrom("model_changes as c")
    .selectAll("c")
    .select((eb) =>
      eb
        .selectFrom("model_changes as p")
        .select((p) => p.fn.max("p.revision").as("r"))
        .whereRef("p.model_id", "=", "c.model_id")
        .whereRef("p.revision", "<", "c.revision")
        .where("p.type", "in", modelStateTypes)
        .as("before_revision"),
    );
  if (query.name !== undefined) select = select.where("c.name", "=", query.name);
  if (query.alias !== undefined) select = select.where("c.alias", "=", query.alias);
  if (query.modelId !== undefined) select = select.where("c.model_id", "=", query.modelId);
  if (query.actor !== undefined) select = select.where("c.actor", "=", query.actor);
  if (query.types !== undefined) {
    // No type at all matches nothing (an empty IN list is not valid SQL everywhere).
    if (query.types.length === 0) return [];
    select = select.where("c.type", "in", query.types);
  }
  if (query.refused !== undefined) select = select.where("c.refusal", query.refused ? "is not" : "is", null);
  if (query.fromTime !== undefined) select = select.where("c.commit_time", ">=", query.fromTime);
  if (query.toTime !== undefined) select = select.where("c.commit_time", "<=", query.toTime);
  if (query.beforeRevision !== undefined) select = select.where("c.revision", "<", query.beforeRevision);
  const rows = await select.orderBy("c.revision", "desc").limit(query.limit).execute();
  const wanted = rows
    .filter((row) => row.type === "updated" || row.type === "deleted")
    .map((row) => row.before_revision)
    .filter((r): r is NonNullable<typeof r> => r !== null && r !== undefined)
    .map(Number);
  const befores = new Map<number, string>();
  if (wanted.length > 0) {
    const found = await trx
      .selectFrom("model_changes")
      .select(["revision", "model"])
      .where("revision", "in", [...new Set(wanted)])
      .execute();
    for (const { revision, model } of found) befores.set(Number(revision), model);
  }
  return rows.map(({ before_revision, ...row }) => {
    const entry = toChange(row);
    const json =
      before_revision === null || before_revision === undefined
        ? undefined
        : befores.get(Number(before_revision));
    const withBefore = (row.type === "updated" || row.type === "deleted") && json !== undefined;
    return withBefore ? { ...entry, before: parseModel(json) } : entry;
  });
}

/**
 * The alias and its model at `readTime`: the latest committed alias entry at
 * or before it, then the model's latest state entry at or before it (later
 * than the alias entry; else the alias entry's own copy of the model, which
 * was its state then). Entries' commit times increase with their revision.
 */
async function resolveAt(trx: Trx, name: string, alias: string, readTime: number): Promise<AliasResolution> {
  const aliasEntry = await trx
    .selectFrom("model_changes")
    .selectAll()
    .where("name", "=", name)
    .where("alias", "=", alias)
    .where("refusal", "is", null)
    .where("commit_time", "<=", readTime)
    .orderBy("revision", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!aliasEntry) {
    const state = await trx
      .selectFrom("modelreg_state")
      .select("pruned_through")
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    const prunedThrough = Number(state.pruned_through);
    // Pruned entries were all older than any kept one: one of them may have set it.
    return prunedThrough > 0 ? { status: "historyPruned", prunedThrough } : { status: "notFound" };
  }
  if (aliasEntry.type !== "alias_set" || aliasEntry.alias_state === null) return { status: "notFound" };
  const record = JSON.parse(aliasEntry.alias_state) as AliasRecord;
  const later = await trx
    .selectFrom("model_changes")
    .select("model")
    .where("model_id", "=", aliasEntry.model_id)
    .where("type", "in", modelStateTypes)
    .where("revision", ">", aliasEntry.revision)
    .where("commit_time", "<=", readTime)
    .orderBy("revision", "desc")
    .limit(1)
    .executeTakeFirst();
  return { status: "found", alias: record, model: parseModel(later?.model ?? aliasEntry.model) };
}

/** History reads of the SQL adapter (ListModelHistory, LookupModel by alias), each one read transaction. */
export function createHistory(transact: Transact): Pick<StorageAdapter, "listHistory" | "resolveAlias"> {
  return {
    listHistory: (query, options) => transact(options, "read", (trx) => listHistory(trx, query)),
    resolveAlias: (name, alias, readTime, options) =>
      transact(options, "read", async (trx): Promise<AliasResolution> => {
        if (readTime !== undefined) return resolveAt(trx, name, alias, readTime);
        const found = await resolveCurrent(trx, name, alias);
        return found ? { status: "found", ...found } : { status: "notFound" };
      }),
  };
}
