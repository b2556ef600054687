import { sql, type Transaction } from "kysely";
import type { AliasResolution, HistoryQuery, HistoryRecord, StorageAdapter } from "../adapter";
import { aliasByName } from "./alias-rows";
import { resolveCurrent } from "./aliases";
import { beforeRevision, parseAlias, parseModel, withBefores } from "./changes";
import { getById } from "./reads";
import type { RegistryDatabase } from "./schema";
import type { Transact } from "./transact";

type Trx = Transaction<RegistryDatabase>;

/**
 * The revisions a time window spans, `[low, high]`, each from one index seek
 * on (commit_time, revision): commit times increase with the revision, so
 * the page can then be read by revision (an index ending in it, no sort)
 * rather than by sorting every entry in the window. `undefined`: none.
 */
async function revisionsBetween(trx: Trx, query: HistoryQuery) {
  const low = query.fromTime === undefined ? 0 : await revisionAt(trx, query.fromTime, "first");
  if (low === undefined) return undefined;
  const high =
    query.toTime === undefined ? Number.MAX_SAFE_INTEGER : await revisionAt(trx, query.toTime, "last");
  if (high === undefined) return undefined;
  return { low, high };
}

/** The revision of the first entry committed at or after `time`, or of the last at or before it. */
async function revisionAt(trx: Trx, time: number, side: "first" | "last") {
  const order = side === "first" ? "asc" : "desc";
  const row = await trx
    .selectFrom("model_changes")
    .select("revision")
    .where("commit_time", side === "first" ? ">=" : "<=", time)
    .orderBy("commit_time", order)
    .orderBy("revision", order)
    .limit(1)
    .executeTakeFirst();
  return row && Number(row.revision);
}

/**
 * The page's rows, newest first: every condition is a WHERE term, the page
 * `revision < before ORDER BY revision DESC LIMIT n`, so an index that ends
 * in the revision ((name, revision), (model_id, revision), (name, alias,
 * revision), (actor, revision), (type, revision), (refused, revision), or
 * the primary key) returns it reading about one page. Each row carries the revision of its model's previous
 * state entry (a correlated subquery on (model_id, revision)).
 */
async function historyRows(trx: Trx, query: HistoryQuery) {
  if (query.types?.length === 0) return [];
  const window = await revisionsBetween(trx, query);
  if (!window) return [];
  let select = trx
    .selectFrom("model_changes as c")
    .selectAll("c")
    .select(beforeRevision)
    .where("c.revision", ">=", window.low)
    .where("c.revision", "<=", window.high);
  if (query.name !== undefined) select = select.where("c.name", "=", query.name);
  if (query.alias !== undefined) select = select.where("c.alias", "=", query.alias);
  if (query.modelId !== undefined) select = select.where("c.model_id", "=", query.modelId);
  if (query.actor !== undefined) select = select.where("c.actor", "=", query.actor);
  if (query.types !== undefined) select = select.where("c.type", "in", query.types);
  if (query.refused !== undefined) select = select.where("c.refused", "=", query.refused ? 1 : 0);
  // Still exact for entries whose times do not increase (written before 0004); `+ 0` keeps the
  // planner on the revision order instead of a (commit_time) index and a sort.
  const time = sql<number>`c.commit_time + 0`;
  if (query.fromTime !== undefined) select = select.where(time, ">=", query.fromTime);
  if (query.toTime !== undefined) select = select.where(time, "<=", query.toTime);
  if (query.beforeRevision !== undefined) select = select.where("c.revision", "<", query.beforeRevision);
  return select.orderBy("c.revision", "desc").limit(query.limit).execute();
}

/**
 * {@link historyRows}, with several types and nothing narrower (name, alias,
 * model id, actor) asked: one page per type, each read in order from the
 * (type, revision) index, merged. A `type IN (...)` read in revision order
 * could only filter the whole table, or read every entry of those types and
 * sort them.
 */
async function rowsByType(trx: Trx, query: HistoryQuery) {
  const { types } = query;
  const narrower = query.name ?? query.alias ?? query.modelId ?? query.actor;
  if (!types || types.length < 2 || narrower !== undefined) return historyRows(trx, query);
  const pages = [];
  for (const type of new Set(types)) pages.push(...(await historyRows(trx, { ...query, types: [type] })));
  return pages.sort((a, b) => Number(b.revision) - Number(a.revision)).slice(0, query.limit);
}

/** One page of history with each updated/deleted entry's previous model state, in two queries. */
async function listHistory(trx: Trx, query: HistoryQuery): Promise<HistoryRecord[]> {
  return withBefores(trx, await rowsByType(trx, query));
}

/**
 * The retained committed entry of `where` latest at or before `readTime` ("last") or earliest after it.
 * Time travel (this and {@link horizon}) assumes commit times increase with the revision, as they do
 * from migration 0004 on; for older entries whose clocks went back it may answer from a neighbour.
 */
function entryNear(trx: Trx, readTime: number, side: "last" | "next") {
  return trx
    .selectFrom("model_changes")
    .selectAll()
    .where("refused", "=", 0)
    .where("commit_time", side === "last" ? "<=" : ">", readTime)
    .orderBy("revision", side === "last" ? "desc" : "asc")
    .limit(1);
}

/** How far history was pruned, and whether every entry after `readTime` is kept (it is past the oldest kept). */
async function horizon(trx: Trx, readTime: number) {
  const state = await trx
    .selectFrom("modelreg_state")
    .select("pruned_through")
    .where("id", "=", 1)
    .executeTakeFirstOrThrow();
  const prunedThrough = Number(state.pruned_through);
  if (prunedThrough === 0) return { prunedThrough, retainedAfter: true };
  const oldest = await trx
    .selectFrom("model_changes")
    .select("commit_time")
    .orderBy("revision", "asc")
    .limit(1)
    .executeTakeFirst();
  return { prunedThrough, retainedAfter: oldest !== undefined && Number(oldest.commit_time) <= readTime };
}

/** {@link horizon}, read once and only when an answer needs it. */
type Horizon = () => ReturnType<typeof horizon>;

/** The alias at `readTime` (`undefined`: absent then), or `"unknown"` when pruning hid it. */
async function aliasAt(trx: Trx, name: string, alias: string, readTime: number, kept: Horizon) {
  const near = (side: "last" | "next") =>
    entryNear(trx, readTime, side).where("name", "=", name).where("alias", "=", alias).executeTakeFirst();
  const last = await near("last");
  if (last) return last.type === "alias_set" && last.alias_state ? parseAlias(last.alias_state) : undefined;
  if ((await kept()).prunedThrough === 0) return undefined;
  // Set by then and never moved since (its row names the entry that last set it).
  const current = await aliasByName(trx, name, alias);
  if (current && current.updateTime <= readTime) return current;
  if (!(await kept()).retainedAfter) return "unknown";
  // Every entry after the time is kept: the earliest of the alias says what it was just before.
  const next = await near("next");
  return next?.alias_before ? parseAlias(next.alias_before) : undefined;
}

/** The model `id` at `readTime` (it existed then), or `undefined` when pruning hid it. */
async function modelAt(trx: Trx, id: string, readTime: number, kept: Horizon) {
  const near = (side: "last" | "next") =>
    entryNear(trx, readTime, side).where("model_id", "=", id).executeTakeFirst();
  // Every committed entry about the model carries it as it was then: the latest one tells.
  const last = await near("last");
  if (last) return parseModel(last.model);
  // Never written since it was created (revision 1): as it is now (the alias pointed at it, so it existed).
  const current = await getById(trx, id);
  if (current?.revision === 1) return current;
  if (!(await kept()).retainedAfter) return undefined;
  // Every entry after the time is kept: the earliest tells if it is an alias entry (it left the model as it was).
  const next = await near("next");
  if (next)
    return next.type === "alias_set" || next.type === "alias_deleted" ? parseModel(next.model) : undefined;
  // None: the model is as it is now.
  return current;
}

/**
 * The alias and its model at `readTime`: as the latest committed entries at
 * or before it left them, or, past pruning, as the retained entries after it
 * and the current rows prove (see `StorageAdapter.resolveAlias`). Entries'
 * commit times increase with their revision.
 */
async function resolveAt(trx: Trx, name: string, alias: string, readTime: number): Promise<AliasResolution> {
  let read: ReturnType<typeof horizon> | undefined;
  const kept = () => {
    read ??= horizon(trx, readTime);
    return read;
  };
  const found = await aliasAt(trx, name, alias, readTime, kept);
  if (found === undefined) return { status: "notFound" };
  const model = found === "unknown" ? undefined : await modelAt(trx, found.modelId, readTime, kept);
  if (found !== "unknown" && model) return { status: "found", alias: found, model };
  return { status: "historyPruned", prunedThrough: (await kept()).prunedThrough };
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
