import { evaluateFilter } from "../filter/evaluate";
import {
  type ChangeRecord,
  type ChangeType,
  checkRetainChanges,
  type InsertResult,
  type ListQuery,
  type ModelRecord,
  type StorageAdapter,
  type WriteResult,
} from "./adapter";
import { compareRecords, compareToCursor } from "./order";

function copy(record: ModelRecord): ModelRecord {
  return { ...record, tags: [...record.tags], metadata: { ...record.metadata } };
}

/** Options for {@link createMemoryStorage}. */
export interface MemoryStorageOptions {
  /** How many of the latest changes WatchModels can resume from, at least. Default 100 000. */
  retainChanges?: number;
}

/**
 * Storage in this process's memory: for tests, demos and ephemeral
 * registries. Nothing survives a restart. Each method runs without awaiting,
 * so JavaScript's single thread makes it atomic (rule 1 of StorageAdapter).
 * `list` scans every record: fine for thousands, not for millions.
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): StorageAdapter {
  const retain = checkRetainChanges(options.retainChanges, "createMemoryStorage");
  const byId = new Map<string, ModelRecord>();
  let changes: ChangeRecord[] = [];
  let latestRevision = 0;
  let prunedThrough = 0;
  const recordChange = (type: ChangeType, model: ModelRecord) => {
    latestRevision++;
    changes.push({ revision: latestRevision, type, model: copy(model), commitTime: Date.now() * 1000 });
    // Pruned in steps of a tenth, so a write rarely pays for it.
    if (changes.length >= retain + Math.ceil(retain / 10)) {
      changes = changes.slice(changes.length - retain);
      prunedThrough = (changes[0]?.revision ?? latestRevision + 1) - 1;
    }
  };
  const idByNameVersion = new Map<string, string>();
  const idByRequestId = new Map<string, string>();
  const requestIdById = new Map<string, string>();
  const nameVersionKey = (name: string, version: string) => JSON.stringify([name, version]);

  const adapter: StorageAdapter = {
    async insert(record, requestId): Promise<InsertResult> {
      if (requestId) {
        const existingId = idByRequestId.get(requestId);
        const existing = existingId === undefined ? undefined : byId.get(existingId);
        if (existing) return { status: "requestIdUsed", existing: copy(existing) };
      }
      const key = nameVersionKey(record.name, record.version);
      const takenBy = idByNameVersion.get(key);
      if (takenBy !== undefined) return { status: "nameVersionTaken", existingId: takenBy };
      byId.set(record.id, copy(record));
      idByNameVersion.set(key, record.id);
      if (requestId) {
        idByRequestId.set(requestId, record.id);
        requestIdById.set(record.id, requestId);
      }
      recordChange("created", record);
      return { status: "created" };
    },

    async insertMany(items) {
      const results: InsertResult[] = [];
      for (const { record, requestId } of items) results.push(await adapter.insert(record, requestId));
      return results;
    },

    async get(id) {
      const record = byId.get(id);
      return record && copy(record);
    },

    async getByNameVersion(name, version) {
      const id = idByNameVersion.get(nameVersionKey(name, version));
      const record = id === undefined ? undefined : byId.get(id);
      return record && copy(record);
    },

    async getMany(ids) {
      const found: ModelRecord[] = [];
      for (const id of new Set(ids)) {
        const record = byId.get(id);
        if (record) found.push(copy(record));
      }
      return found;
    },

    async list(query: ListQuery) {
      const { filter, orderBy, after, limit } = query;
      const matches: ModelRecord[] = [];
      for (const record of byId.values()) {
        if (after && compareToCursor(record, orderBy, after) <= 0) continue;
        if (filter && !evaluateFilter(filter, record)) continue;
        matches.push(record);
      }
      matches.sort((a, b) => compareRecords(a, b, orderBy));
      return matches.slice(0, limit).map(copy);
    },

    async replace(record, expectedRevision): Promise<WriteResult> {
      const current = byId.get(record.id);
      if (!current) return { status: "notFound" };
      if (current.revision !== expectedRevision)
        return { status: "conflict", currentRevision: current.revision };
      const stored = {
        ...copy(record),
        name: current.name,
        version: current.version,
        createTime: current.createTime,
      };
      byId.set(record.id, stored);
      recordChange("updated", stored);
      return { status: "ok" };
    },

    async delete(id, expectedRevision): Promise<WriteResult> {
      const current = byId.get(id);
      if (!current) return { status: "notFound" };
      if (expectedRevision !== undefined && current.revision !== expectedRevision) {
        return { status: "conflict", currentRevision: current.revision };
      }
      byId.delete(id);
      idByNameVersion.delete(nameVersionKey(current.name, current.version));
      const requestId = requestIdById.get(id);
      if (requestId !== undefined) {
        idByRequestId.delete(requestId);
        requestIdById.delete(id);
      }
      recordChange("deleted", current);
      return { status: "ok" };
    },

    async readChanges(afterRevision, limit) {
      // Revisions are consecutive from changes[0], so the start is an index.
      const first = changes[0]?.revision ?? latestRevision + 1;
      const start = Math.max(0, afterRevision + 1 - first);
      const page = changes.slice(start, start + Math.max(0, limit));
      return {
        changes: page.map((c) => ({ ...c, model: copy(c.model) })),
        latestRevision,
        prunedThrough,
      };
    },

    async ping() {},

    async close() {},
  };
  return adapter;
}
