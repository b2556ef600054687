import { evaluateFilter } from "../filter/evaluate";
import {
  type ChangeRecord,
  type ChangesPage,
  type ChangeType,
  checkRetainChanges,
  type InsertResult,
  type ListQuery,
  type ModelRecord,
  type StorageAdapter,
  type WriteResult,
} from "./adapter";
import { compareRecords, compareToCursor } from "./order";
import { throwIfPastDeadline } from "./stopped";

function copy(record: ModelRecord): ModelRecord {
  return { ...record, tags: [...record.tags], metadata: { ...record.metadata } };
}

/** Options for {@link createMemoryStorage}. */
export interface MemoryStorageOptions {
  /** How many of the latest changes WatchModels can resume from, at least. Default 100 000. */
  retainChanges?: number;
}

/**
 * Everything one in-memory store holds. The functions below change it
 * without awaiting, so each call is atomic (rule 1 of StorageAdapter).
 */
interface MemoryState {
  readonly retain: number;
  readonly byId: Map<string, ModelRecord>;
  readonly idByNameVersion: Map<string, string>;
  readonly idByRequestId: Map<string, string>;
  readonly requestIdById: Map<string, string>;
  changes: ChangeRecord[];
  latestRevision: number;
  prunedThrough: number;
}

const nameVersionKey = (name: string, version: string) => JSON.stringify([name, version]);

function recordChange(state: MemoryState, type: ChangeType, model: ModelRecord): void {
  state.latestRevision++;
  state.changes.push({
    revision: state.latestRevision,
    type,
    model: copy(model),
    commitTime: Date.now() * 1000,
  });
  // Pruned in steps of a tenth, so a write rarely pays for it.
  if (state.changes.length >= state.retain + Math.ceil(state.retain / 10)) {
    state.changes = state.changes.slice(state.changes.length - state.retain);
    state.prunedThrough = (state.changes[0]?.revision ?? state.latestRevision + 1) - 1;
  }
}

function insertRecord(state: MemoryState, record: ModelRecord, requestId: string | undefined): InsertResult {
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
  recordChange(state, "created", record);
  return { status: "created" };
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

function replaceRecord(state: MemoryState, record: ModelRecord, expectedRevision: number): WriteResult {
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
  recordChange(state, "updated", stored);
  return { status: "ok" };
}

function deleteRecord(state: MemoryState, id: string, expectedRevision: number | undefined): WriteResult {
  const current = state.byId.get(id);
  if (!current) return { status: "notFound" };
  if (expectedRevision !== undefined && current.revision !== expectedRevision) {
    return { status: "conflict", currentRevision: current.revision };
  }
  state.byId.delete(id);
  state.idByNameVersion.delete(nameVersionKey(current.name, current.version));
  const requestId = state.requestIdById.get(id);
  if (requestId !== undefined) {
    state.idByRequestId.delete(requestId);
    state.requestIdById.delete(id);
  }
  recordChange(state, "deleted", current);
  return { status: "ok" };
}

function readChangesPage(state: MemoryState, afterRevision: number, limit: number): ChangesPage {
  // Revisions are consecutive from changes[0], so the start is an index.
  const first = state.changes[0]?.revision ?? state.latestRevision + 1;
  const start = Math.max(0, afterRevision + 1 - first);
  const page = state.changes.slice(start, start + Math.max(0, limit));
  return {
    changes: page.map((c) => ({ ...c, model: copy(c.model) })),
    latestRevision: state.latestRevision,
    prunedThrough: state.prunedThrough,
  };
}

/**
 * Storage in this process's memory: for tests, demos and ephemeral
 * registries. Nothing survives a restart. Each method runs without awaiting,
 * so JavaScript's single thread makes it atomic (rule 1 of StorageAdapter);
 * `insertMany` is one atomic step too. It claims `deadlines` (a call whose
 * deadline has passed is refused before it starts) but not `cancellation`:
 * each call finishes at once, so there is no work to stop, and reading the
 * call's signal would make the server build one for every call (the service
 * itself stops between storage calls once a call is abandoned). `list` scans
 * every record: fine for thousands, not for millions.
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): StorageAdapter {
  const state: MemoryState = {
    retain: checkRetainChanges(options.retainChanges, "createMemoryStorage"),
    byId: new Map(),
    idByNameVersion: new Map(),
    idByRequestId: new Map(),
    requestIdById: new Map(),
    changes: [],
    latestRevision: 0,
    prunedThrough: 0,
  };
  const byId = (id: string) => {
    const record = state.byId.get(id);
    return record && copy(record);
  };

  return {
    capabilities: { deadlines: true, cancellation: false },
    async insert(record, requestId, call) {
      throwIfPastDeadline(call);
      return insertRecord(state, record, requestId);
    },
    async insertMany(items, call) {
      throwIfPastDeadline(call);
      return items.map(({ record, requestId }) => insertRecord(state, record, requestId));
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
      return replaceRecord(state, record, expectedRevision);
    },
    async delete(id, expectedRevision, call) {
      throwIfPastDeadline(call);
      return deleteRecord(state, id, expectedRevision);
    },
    async readChanges(afterRevision, limit, call) {
      throwIfPastDeadline(call);
      return readChangesPage(state, afterRevision, limit);
    },
    async ping() {},
    async close() {},
  };
}
