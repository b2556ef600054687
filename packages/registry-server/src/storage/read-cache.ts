import { LRUCache } from "lru-cache";
import type { ModelRecord, StorageAdapter, StorageCallOptions } from "./adapter";
import { copyModel } from "./memory-history";
import { throwIfStopped } from "./stopped";

/** Options of {@link withReadCache}. */
export interface ReadCacheOptions {
  /** At most this many bytes of models (estimated: two per character, plus a fixed overhead each). */
  readonly maxBytes: number;
  /**
   * A number that changes whenever another connection (another process)
   * committed to the database since it was last read: SQLite's
   * `PRAGMA data_version` on the adapter's own connection. Asked on every
   * read; when it changed, everything remembered is dropped.
   */
  readonly dataVersion: () => number;
  /**
   * Whether the adapter's connection has a transaction open (a read of
   * ours, spread over several awaits). Inside one, the data version is that
   * of its snapshot and does not change when another connection commits, so
   * memory is not known to be current then: nothing is served, remembered,
   * or taken as the seen version until it ends.
   */
  readonly inTransaction: () => boolean;
}

/** The fixed bytes counted for a model besides its strings. */
const recordOverhead = 400;

/** A model's size for the byte bound: its strings, two bytes per character, and a fixed overhead. */
function sizeOf(record: ModelRecord): number {
  let chars = record.id.length + record.name.length + record.version.length + record.framework.length;
  chars += record.description.length + record.artifactUri.length + record.artifactDigest.length;
  for (const tag of record.tags) chars += tag.length + 8;
  for (const [key, value] of Object.entries(record.metadata)) chars += key.length + value.length + 16;
  const { lineage } = record;
  chars += lineage.runUri.length + lineage.codeRevision.length;
  for (const value of [...lineage.datasetUris, ...lineage.parentModelIds]) chars += value.length + 8;
  return recordOverhead + 2 * chars;
}

const nameVersionKey = (name: string, version: string) => `${name}\u0000${version}`;

/**
 * What one adapter remembers of the models it read, and when that is
 * provably the database's current state: no write of its own in flight
 * (each one bumps the generation at its start and its end, so a read that
 * overlapped one remembers nothing), no transaction open on the connection
 * (its data version would be its snapshot's), and no commit by another
 * connection since (the data version is unchanged; a change drops everything).
 */
class ModelMemory {
  readonly #byId: LRUCache<string, ModelRecord>;
  readonly #idByNameVersion: LRUCache<string, string>;
  readonly #dataVersion: () => number;
  readonly #inTransaction: () => boolean;
  #seenVersion: number;
  #writes = 0;
  #generation = 0;

  constructor({ maxBytes, dataVersion, inTransaction }: ReadCacheOptions) {
    this.#byId = new LRUCache({ maxSize: maxBytes, sizeCalculation: sizeOf });
    this.#idByNameVersion = new LRUCache({ max: Math.max(1, Math.floor(maxBytes / recordOverhead)) });
    this.#dataVersion = dataVersion;
    this.#inTransaction = inTransaction;
    this.#seenVersion = dataVersion();
  }

  /**
   * Whether what is remembered is current: false while a write of ours
   * runs, while the connection has a transaction open (its data version is
   * that of its snapshot: another connection's commit would go unseen), and
   * when another connection committed (then it is all dropped).
   */
  #current(): boolean {
    if (this.#inTransaction()) return false;
    const version = this.#dataVersion();
    if (version !== this.#seenVersion) {
      this.#seenVersion = version;
      this.#generation++;
      this.clear();
      return false;
    }
    return this.#writes === 0;
  }

  /** The generation a read starts in; what it read is remembered only if it is still the same at its end. */
  get generation(): number {
    return this.#generation;
  }

  /** Whether nothing was written (by this adapter or another connection) since `generation`. */
  unchangedSince(generation: number): boolean {
    return this.#current() && generation === this.#generation;
  }

  // The data version is asked only for a candidate: a statement costs several µs (a WAL read lock).
  byId(id: string): ModelRecord | undefined {
    const record = this.#byId.get(id);
    return record !== undefined && this.#current() ? record : undefined;
  }

  byNameVersion(name: string, version: string): ModelRecord | undefined {
    const id = this.#idByNameVersion.get(nameVersionKey(name, version));
    const record = id === undefined ? undefined : this.#byId.get(id);
    const matches = record?.name === name && record.version === version;
    return matches && this.#current() ? record : undefined;
  }

  /**
   * Remembers a copy of `record`, read in `generation`, if nothing changed
   * since; returns `record` (the caller's own: the copy is never handed out).
   */
  remember<T extends ModelRecord | undefined>(generation: number, record: T): T {
    if (record !== undefined && this.unchangedSince(generation)) {
      this.#byId.set(record.id, copyModel(record));
      this.#idByNameVersion.set(nameVersionKey(record.name, record.version), record.id);
    }
    return record;
  }

  /** Runs one write of this adapter: nothing is served or remembered while it runs, `ids` are dropped. */
  async write<T>(ids: readonly string[], run: () => Promise<T>): Promise<T> {
    this.#writes++;
    this.#generation++;
    this.#forget(ids);
    try {
      return await run();
    } finally {
      // After the commit (or the failure): whatever it did, nothing remembered of `ids` is left.
      this.#forget(ids);
      this.#generation++;
      this.#writes--;
    }
  }

  #forget(ids: readonly string[]): void {
    for (const id of ids) {
      const record = this.#byId.get(id);
      if (record) this.#idByNameVersion.delete(nameVersionKey(record.name, record.version));
      this.#byId.delete(id);
    }
  }

  clear(): void {
    this.#byId.clear();
    this.#idByNameVersion.clear();
  }
}

/**
 * `adapter` with `get`, `getByNameVersion` and `getMany` answered from
 * memory when that is provably the database's current state (see
 * {@link ModelMemory}), else read from the database and remembered. Each
 * model it returns is a fresh copy (rule 4; a copy costs ~0.3 µs, under
 * 0.5% of a GetModel, so sharing frozen records would not be worth a rule
 * with an exception). Only for an adapter that is the sole writer through
 * its connection and can tell when another connection committed: SQLite
 * (its `PRAGMA data_version`).
 */
export function withReadCache(adapter: StorageAdapter, options: ReadCacheOptions): StorageAdapter {
  const memory = new ModelMemory(options);
  const hit = (record: ModelRecord | undefined, call: StorageCallOptions | undefined) => {
    if (record === undefined) return undefined;
    throwIfStopped(call);
    return copyModel(record);
  };
  return {
    ...adapter,
    async get(id, call) {
      const found = hit(memory.byId(id), call);
      if (found) return found;
      const generation = memory.generation;
      return memory.remember(generation, await adapter.get(id, call));
    },
    async getByNameVersion(name, version, call) {
      const found = hit(memory.byNameVersion(name, version), call);
      if (found) return found;
      const generation = memory.generation;
      return memory.remember(generation, await adapter.getByNameVersion(name, version, call));
    },
    async getMany(ids, call) {
      const unique = [...new Set(ids)];
      const found: ModelRecord[] = [];
      const missing: string[] = [];
      for (const id of unique) {
        const record = memory.byId(id);
        if (record) found.push(copyModel(record));
        else missing.push(id);
      }
      if (missing.length === 0) {
        throwIfStopped(call);
        return found;
      }
      const generation = memory.generation;
      const read = await adapter.getMany(missing, call);
      const remembered = read.map((record) => memory.remember(generation, record));
      // One snapshot, as the database answers: if anything was written meanwhile, read them all.
      if (found.length > 0 && !memory.unchangedSince(generation)) {
        return (await adapter.getMany(unique, call)).map((record) => memory.remember(generation, record));
      }
      return [...found, ...remembered];
    },
    insert: (record, requestId, call) =>
      memory.write([record.id], () => adapter.insert(record, requestId, call)),
    insertMany: (items, call) =>
      memory.write(
        items.map((item) => item.record.id),
        () => adapter.insertMany(items, call),
      ),
    replace: (record, expected, call) =>
      memory.write([record.id], () => adapter.replace(record, expected, call)),
    delete: (id, expected, call) => memory.write([id], () => adapter.delete(id, expected, call)),
    close() {
      memory.clear();
      return adapter.close();
    },
  };
}
