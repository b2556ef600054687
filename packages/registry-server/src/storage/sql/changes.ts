import type { ExpressionBuilder, Transaction } from "kysely";
import {
  type AliasRecord,
  type AliasRefusal,
  actorOf,
  type ChangeRecord,
  type ChangesPage,
  type ChangeType,
  type ModelRecord,
  type StorageCallOptions,
} from "../adapter";
import type { ModelChangesTable, RegistryDatabase } from "./schema";

/** An entry a write appends; the recorder numbers it and stamps its commit time. */
export interface EntryDraft {
  readonly type: ChangeType;
  readonly model: ModelRecord;
  /** The alias after the change, or how to build it from the entry's revision and commit time. */
  readonly alias?: AliasRecord | ((revision: number, commitTime: number) => AliasRecord) | undefined;
  readonly aliasBefore?: AliasRecord | undefined;
  readonly refusal?: AliasRefusal | undefined;
  /** This entry's request id, when it is not the call's (an item of a batch). */
  readonly requestId?: string | undefined;
}

/** Who made the entries and with which request id. */
export interface EntryAuthor {
  readonly actor: string;
  readonly requestId: string;
}

/** The author of a call's entries: its actor (`anonymous` when it names none) and request id. */
export function authorOf(options: StorageCallOptions | undefined, requestId?: string): EntryAuthor {
  return { actor: actorOf(options), requestId: requestId ?? "" };
}

/** Where an appended entry went: its revision, commit time and (alias entries) alias. */
export interface AppendedEntry {
  readonly revision: number;
  readonly commitTime: number;
  readonly alias?: AliasRecord | undefined;
}

/**
 * Appends the entries a write made, in the write's transaction (see
 * {@link createChangeRecorder}), in order.
 */
export type RecordChanges = (
  trx: Transaction<RegistryDatabase>,
  entries: readonly EntryDraft[],
  author: EntryAuthor,
) => Promise<AppendedEntry[]>;

/** How many change rows one INSERT carries: a multi-row INSERT's parameters are limited (SQLite: 32 766). */
const insertSlice = 200;

/** How far to prune after the latest revision `last`: past both windows; `undefined` keeps every entry. */
function pruneThrough(last: number, retainChanges: number, retainHistory: number | undefined) {
  if (retainHistory === undefined) return undefined;
  return last - Math.max(retainChanges, retainHistory);
}

/** The change row of a numbered draft. */
function toRow(draft: EntryDraft, revision: number, commitTime: number, author: EntryAuthor) {
  const alias = typeof draft.alias === "function" ? draft.alias(revision, commitTime) : draft.alias;
  const row: ModelChangesTable = {
    revision,
    type: draft.type,
    model_id: draft.model.id,
    model: JSON.stringify(draft.model),
    commit_time: commitTime,
    actor: author.actor,
    request_id: draft.requestId ?? author.requestId,
    name: draft.model.name,
    alias: alias?.alias ?? null,
    alias_state: alias ? JSON.stringify(alias) : null,
    alias_before: draft.aliasBefore ? JSON.stringify(draft.aliasBefore) : null,
    refusal: draft.refusal ? JSON.stringify(draft.refusal) : null,
    refused: draft.refusal ? 1 : 0,
  };
  return { row, appended: { revision, commitTime, alias } };
}

/**
 * The history's writer, keeping at least the latest `retainChanges` and
 * `retainHistory` entries (every entry when `retainHistory` is absent).
 * Entries are numbered consecutively in the write's transaction, with
 * commit times strictly increasing (at least the last one + 1 µs). Bumping
 * the one state row takes its lock until commit, so concurrent writers get
 * consecutive revisions in commit order; callers record changes last, to
 * hold the lock briefly.
 */
export function createChangeRecorder(
  retainChanges: number,
  retainHistory: number | undefined,
): RecordChanges {
  // Pruned in steps of a tenth of what is kept (at most 1000), so a write rarely pays for it.
  const kept = Math.max(retainChanges, retainHistory ?? 0);
  const pruneEvery = Math.max(1, Math.min(1000, Math.ceil(kept / 10)));
  return async (trx, entries, author) => {
    if (entries.length === 0) return [];
    const n = entries.length;
    const now = Date.now() * 1000;
    // The revisions and the commit times in one statement: the last time + 1 when the clock is behind it.
    await trx
      .updateTable("modelreg_state")
      .set((eb) => ({
        revision: eb("revision", "+", n),
        last_commit_time: eb
          .case()
          .when("last_commit_time", ">=", now)
          .then(eb("last_commit_time", "+", n))
          .else(now + n - 1)
          .end(),
      }))
      .where("id", "=", 1)
      .execute();
    const state = await trx
      .selectFrom("modelreg_state")
      .select(["revision", "pruned_through", "last_commit_time"])
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    const last = Number(state.revision);
    const first = last - n + 1;
    const firstTime = Number(state.last_commit_time) - n + 1;
    const numbered = entries.map((draft, i) => toRow(draft, first + i, firstTime + i, author));
    for (let i = 0; i < n; i += insertSlice) {
      const slice = numbered.slice(i, i + insertSlice).map((e) => e.row);
      await trx.insertInto("model_changes").values(slice).execute();
    }
    const through = pruneThrough(last, retainChanges, retainHistory);
    // Pruned when the revisions cross a multiple of pruneEvery.
    const crossed = Math.floor(last / pruneEvery) > Math.floor((first - 1) / pruneEvery);
    if (crossed && through !== undefined && through > Number(state.pruned_through)) {
      await trx.deleteFrom("model_changes").where("revision", "<=", through).execute();
      await trx.updateTable("modelreg_state").set({ pruned_through: through }).where("id", "=", 1).execute();
    }
    return numbered.map((e) => e.appended);
  };
}

/** A model from a change row's JSON; rows written before lineage and digest existed lack them. */
export function parseModel(json: string): ModelRecord {
  const model = JSON.parse(json) as Partial<ModelRecord> & ModelRecord;
  return {
    ...model,
    artifactDigest: model.artifactDigest ?? "",
    lineage: model.lineage ?? { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: [] },
  };
}

/** An alias from a change row's JSON (`alias_state`, `alias_before`). */
export const parseAlias = (json: string): AliasRecord => JSON.parse(json) as AliasRecord;

/** A history entry from its row. */
export function toChange(row: ModelChangesTable): ChangeRecord {
  return {
    revision: Number(row.revision),
    type: row.type,
    model: parseModel(row.model),
    commitTime: Number(row.commit_time),
    actor: row.actor,
    requestId: row.request_id,
    ...(row.alias_state === null ? {} : { alias: parseAlias(row.alias_state) }),
    ...(row.alias_before === null ? {} : { aliasBefore: parseAlias(row.alias_before) }),
    ...(row.refusal === null ? {} : { refusal: JSON.parse(row.refusal) as AliasRefusal }),
  };
}

/** The entry types that carry a model's own state (an entry's `before` is the previous of these). */
const modelStateTypes = ["created", "updated"] as const;

/** Whether an entry of this type carries `before`. */
const hasBefore = (type: string) => type === "updated" || type === "deleted";

/**
 * The revision of the previous entry that carried the model's own state,
 * for an `updated` or `deleted` entry `c` (null for other types, and when
 * pruned): a correlated subquery, one seek on the (model_id, revision) index.
 */
export function beforeRevision(eb: ExpressionBuilder<RegistryDatabase & { c: ModelChangesTable }, "c">) {
  return eb
    .case()
    .when("c.type", "in", ["updated", "deleted"])
    .then(
      eb
        .selectFrom("model_changes as p")
        .select((p) => p.fn.max("p.revision").as("r"))
        .whereRef("p.model_id", "=", "c.model_id")
        .whereRef("p.revision", "<", "c.revision")
        .where("p.type", "in", modelStateTypes),
    )
    .end()
    .as("before_revision");
}

/**
 * The entries of `rows`, each `updated` or `deleted` one with `before`: the
 * model of the entry its {@link beforeRevision} names, all read in one query.
 */
export async function withBefores(
  trx: Transaction<RegistryDatabase>,
  rows: readonly (ModelChangesTable & { before_revision: unknown })[],
): Promise<ChangeRecord[]> {
  const wanted = new Set<number>();
  for (const row of rows) {
    if (hasBefore(row.type) && row.before_revision != null) wanted.add(Number(row.before_revision));
  }
  const befores = new Map<number, string>();
  if (wanted.size > 0) {
    const found = await trx
      .selectFrom("model_changes")
      .select(["revision", "model"])
      .where("revision", "in", [...wanted])
      .execute();
    for (const { revision, model } of found) befores.set(Number(revision), model);
  }
  return rows.map(({ before_revision, ...row }) => {
    const entry = toChange(row);
    const json =
      hasBefore(row.type) && before_revision != null ? befores.get(Number(before_revision)) : undefined;
    return json === undefined ? entry : { ...entry, before: parseModel(json) };
  });
}

/**
 * Up to `limit` changes after `afterRevision` (refused alias moves included:
 * the watch skips them), each `updated` or `deleted` one with its `before`,
 * with the latest revision and the pruning mark; run in a read transaction,
 * so all from one snapshot.
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
          .selectFrom("model_changes as c")
          .selectAll("c")
          .select(beforeRevision)
          .where("c.revision", ">", afterRevision)
          .orderBy("c.revision", "asc")
          .limit(limit)
          .execute()
      : [];
  return {
    changes: await withBefores(trx, rows),
    latestRevision: Number(state.revision),
    prunedThrough: Number(state.pruned_through),
  };
}
