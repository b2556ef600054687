import { evaluateFilter } from "../filter/evaluate";
import {
  type AliasRecord,
  actorOf,
  checkRetainChanges,
  checkRetainHistory,
  type DeleteOptions,
  type DeleteResult,
  type InsertResult,
  type ListQuery,
  type ModelRecord,
  type StorageAdapter,
  type WriteResult,
} from "./adapter";
import {
  aliasesOf,
  deleteAliasRecord,
  deleteAliasWithEntry,
  listAliasRecords,
  nameVersionKey,
  refuseDelete,
  setAliasRecord,
  storedAlias,
} from "./memory-aliases";
import {
  appendChange,
  copyModel as copy,
  copyAlias,
  listHistoryRecords,
  type MemoryState,
  readChangesPage,
  resolveAt,
} from "./memory-history";
import { compareRecords, compareToCursor } from "./order";
import { throwIfPastDeadline } from "./stopped";

/** Options for {@link createMemoryStorage}. */
export interface MemoryStorageOptions {
  /** How many of the latest changes WatchModels can resume from, at least. Default 100 000. */
  retainChanges?: number;
  /**
   * How many of the latest history entries ListModelHistory and time travel
   * can read, at least. Default: every entry is kept. Entries are pruned only
   * past both this and `retainChanges`.
   */
  retainHistory?: number;
}

function insertRecord(
  state: MemoryState,
  record: ModelRecord,
  requestId: string | undefined,
  actor: string,
): InsertResult {
  if (requestId) {
    const existingId = state.idByRequestId.get(requestId);
    const existing = existingId === undefined ? undefined : state.byId.get(existingId);
    if (existing) return { status: "requestIdUsed", existing: copy(existing) };
  }
  const key = nameVersionKey(record.name, record.version);
  const takenBy = state.idByNameVersion.get(key);
  if (takenBy !== undefined) return { status: "nameVersionTaken", existingId: takenBy };
  state.byId.set(record.id, copy(record));
  state.idByNameVersion.set(key, record.id);
  if (requestId) {
    state.idByRequestId.set(requestId, record.id);
    state.requestIdById.set(record.id, requestId);
  }
  const { revision } = appendChange(state, { type: "created", model: record, actor, requestId });
  return { status: "created", revision };
}

function listRecords(state: MemoryState, query: ListQuery): ModelRecord[] {
  const { filter, orderBy, after, limit } = query;
  const matches: ModelRecord[] = [];
  for (const record of state.byId.values()) {
    if (after && compareToCursor(record, orderBy, after) <= 0) continue;
    if (filter && !evaluateFilter(filter, record)) continue;
    matches.push(record);
  }
  matches.sort((a, b) => compareRecords(a, b, orderBy));
  return matches.slice(0, limit).map(copy);
}

function replaceRecord(
  state: MemoryState,
  record: ModelRecord,
  expectedRevision: number,
  actor: string,
): WriteResult {
  const current = state.byId.get(record.id);
  if (!current) return { status: "notFound" };
  if (current.revision !== expectedRevision) return { status: "conflict", currentRevision: current.revision };
  const stored = {
    ...copy(record),
    name: current.name,
    version: current.version,
    createTime: current.createTime,
  };
  state.byId.set(record.id, stored);
  const { revision } = appendChange(state, { type: "updated", model: stored, actor });
  return { status: "ok", revision };
}

function deleteRecord(
  state: MemoryState,
  id: string,
  expectedRevision: number | undefined,
  options: DeleteOptions | undefined,
): DeleteResult {
  const actor = actorOf(options);
  const current = state.byId.get(id);
  if (!current) return { status: "notFound" };
  if (expectedRevision !== undefined && current.revision !== expectedRevision) {
    return { status: "conflict", currentRevision: current.revision };
  }
  const aliases = aliasesOf(state, current);
  if (aliases.length > 0 && options?.force !== true) {
    return { status: "aliased", aliases: aliases.map(copyAlias) };
  }
  const refused = aliases.length > 0 ? options?.checkAliases?.(aliases.map(copyAlias)) : undefined;
  if (refused) {
    // The alias it names, one of those about to be deleted.
    const alias = aliases.find((a) => a.alias === refused.alias.alias) ?? (aliases[0] as AliasRecord);
    return refuseDelete(state, { current: alias, target: current }, actor, refused.refusal);
  }
  for (const alias of aliases) deleteAliasWithEntry(state, alias, current, actor);
  state.byId.delete(id);
  state.idByNameVersion.delete(nameVersionKey(current.name, current.version));
  const requestId = state.requestIdById.get(id);
  if (requestId !== undefined) {
    state.idByRequestId.delete(requestId);
    state.requestIdById.delete(id);
  }
  const { revision } = appendChange(state, { type: "deleted", model: current, actor });
  return { status: "ok", revision };
}

/**
 * Storage in this process's memory: for tests, demos and ephemeral
 * registries. Nothing survives a restart. Each method runs without awaiting,
 * so JavaScript's single thread makes it atomic (rule 1 of StorageAdapter);
 * `insertMany` is one atomic step too. The one await is an alias move's
 * policy `check`: around it a move is optimistic (made again, check included,
 * if the alias or its target changed meanwhile), so what the check saw is
 * what the move commits. It claims `deadlines` (a call whose deadline has
 * passed is refused before it starts) but not `cancellation`: each call
 * finishes at once, so there is no work to stop, and reading the call's
 * signal would make the server build one for every call (the service itself
 * stops between storage calls once a call is abandoned). `list` scans every
 * record, and history queries scan the history: fine for thousands, not for
 * millions. The history is kept whole unless `retainHistory` is set.
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): StorageAdapter {
  const retainChanges = checkRetainChanges(options.retainChanges, "createMemoryStorage");
  const retainHistory = checkRetainHistory(options.retainHistory, "createMemoryStorage");
  const state: MemoryState = {
    // Pruned only past both windows: never, unless retainHistory is set.
    retain: retainHistory === undefined ? undefined : Math.max(retainChanges, retainHistory),
    byId: new Map(),
    idByNameVersion: new Map(),
    idByRequestId: new Map(),
    requestIdById: new Map(),
    aliases: new Map(),
    aliasByRequestId: new Map(),
    lastModelChange: new Map(),
    entries: [],
    latestRevision: 0,
    lastCommitTime: 0,
    prunedThrough: 0,
  };
  return {
    capabilities: { deadlines: true, cancellation: false },
    ...modelMethods(state),
    ...aliasMethods(state),
    async readChanges(afterRevision, limit, call) {
      throwIfPastDeadline(call);
      return readChangesPage(state, afterRevision, limit);
    },
    async listHistory(query, call) {
      throwIfPastDeadline(call);
      return listHistoryRecords(state, query);
    },
    async ping() {},
    async close() {},
  };
}

type ModelMethods = Pick<
  StorageAdapter,
  "insert" | "insertMany" | "get" | "getByNameVersion" | "getMany" | "list" | "replace" | "delete"
>;

function modelMethods(state: MemoryState): ModelMethods {
  const byId = (id: string) => {
    const record = state.byId.get(id);
    return record && copy(record);
  };
  return {
    async insert(record, requestId, call) {
      throwIfPastDeadline(call);
      return insertRecord(state, record, requestId, actorOf(call));
    },
    async insertMany(items, call) {
      throwIfPastDeadline(call);
      return items.map(({ record, requestId }) => insertRecord(state, record, requestId, actorOf(call)));
    },
    async get(id, call) {
      throwIfPastDeadline(call);
      return byId(id);
    },
    async getByNameVersion(name, version, call) {
      throwIfPastDeadline(call);
      const id = state.idByNameVersion.get(nameVersionKey(name, version));
      return id === undefined ? undefined : byId(id);
    },
    async getMany(ids, call) {
      throwIfPastDeadline(call);
      return [...new Set(ids)].flatMap((id) => byId(id) ?? []);
    },
    async list(query, call) {
      throwIfPastDeadline(call);
      return listRecords(state, query);
    },
    async replace(record, expectedRevision, call) {
      throwIfPastDeadline(call);
      return replaceRecord(state, record, expectedRevision, actorOf(call));
    },
    async delete(id, expectedRevision, call) {
      throwIfPastDeadline(call);
      return deleteRecord(state, id, expectedRevision, call);
    },
  };
}

type AliasMethods = Pick<
  StorageAdapter,
  "setAlias" | "getAlias" | "listAliases" | "deleteAlias" | "resolveAlias"
>;

function aliasMethods(state: MemoryState): AliasMethods {
  return {
    async setAlias(request, call) {
      throwIfPastDeadline(call);
      return setAliasRecord(state, request, actorOf(call));
    },
    async getAlias(name, alias, call) {
      throwIfPastDeadline(call);
      const record = storedAlias(state, name, alias);
      return record && copyAlias(record);
    },
    async listAliases(query, call) {
      throwIfPastDeadline(call);
      return listAliasRecords(state, query);
    },
    async deleteAlias(request, call) {
      throwIfPastDeadline(call);
      return deleteAliasRecord(state, request, actorOf(call));
    },
    async resolveAlias(name, alias, readTime, call) {
      throwIfPastDeadline(call);
      if (readTime !== undefined) return resolveAt(state, name, alias, readTime);
      const record = storedAlias(state, name, alias);
      const model = record && state.byId.get(record.modelId);
      if (!record || !model) return { status: "notFound" };
      return { status: "found", alias: copyAlias(record), model: copy(model) };
    },
  };
}
