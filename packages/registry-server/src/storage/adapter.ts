import type { FilterExpression } from "../filter/ast";

/**
 * A model as storage holds it. Adapters store and return these values
 * exactly; the service converts them to and from protobuf in one place.
 */
export interface ModelRecord {
  /** Server-assigned id (a UUID string); the primary key. */
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly framework: string;
  readonly description: string;
  /** Unique, sorted ascending by Unicode code point. */
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly artifactUri: string;
  /** 1 on create, +1 on every write. The etag is derived from it. */
  readonly revision: number;
  /** Microseconds since the Unix epoch. */
  readonly createTime: number;
  /** Microseconds since the Unix epoch. */
  readonly updateTime: number;
}

/** A field ListModels can order by. `id` always breaks ties, ascending. */
export type OrderField = "name" | "version" | "framework" | "create_time" | "update_time";

/** One `order_by` term. */
export interface OrderTerm {
  readonly field: OrderField;
  readonly descending: boolean;
}

/**
 * Where a page starts: the order-by values and id of the last record of the
 * previous page. The next page holds records strictly after it in the order.
 */
export interface Cursor {
  /** One value per `orderBy` term, in order: strings, or microseconds for times. */
  readonly values: readonly (string | number)[];
  readonly id: string;
}

/** A ListModels query as the service hands it to storage. */
export interface ListQuery {
  /** Absent: every model. */
  readonly filter?: FilterExpression | undefined;
  /** At least one term; `id` ascending is the implicit last term. */
  readonly orderBy: readonly OrderTerm[];
  /** Absent: from the first record. */
  readonly after?: Cursor | undefined;
  /** How many records to return at most (1 or more). */
  readonly limit: number;
}

/** The kind of change a {@link ChangeRecord} reports. */
export type ChangeType = "created" | "updated" | "deleted";

/** One committed write, as the change history (WatchModels) holds it. */
export interface ChangeRecord {
  /**
   * Position in the history: the previous change's + 1, assigned in the
   * write's own transaction, so revisions commit in order with no gaps.
   */
  readonly revision: number;
  readonly type: ChangeType;
  /** The model after the change; for a delete, its last state. */
  readonly model: ModelRecord;
  /** When the change was made, in microseconds since the Unix epoch. */
  readonly commitTime: number;
}

/** A slice of the change history; see {@link StorageAdapter.readChanges}. */
export interface ChangesPage {
  /** Changes after the requested revision, ascending, at most the requested number. */
  readonly changes: ChangeRecord[];
  /** The latest revision committed (0 before the first write). */
  readonly latestRevision: number;
  /** Changes up to and including this revision have been pruned; history is complete after it. */
  readonly prunedThrough: number;
}

/** How many changes the built-in adapters keep, at least, by default. */
export const defaultRetainedChanges = 100_000;

/** Validates a `retainChanges` option: a whole number of at least 1. */
export function checkRetainChanges(value: number | undefined, caller: string): number {
  if (value === undefined) return defaultRetainedChanges;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`${caller}: \`retainChanges\` must be a whole number of at least 1`);
  }
  return value;
}

/** What a storage call knows about the RPC it serves. */
export interface StorageCallOptions {
  /**
   * When the call must be finished, in milliseconds since the Unix epoch
   * (`Date.now()` scale). Adapters that can bound a database statement's
   * time (the SQL servers) cancel work still running then and throw
   * `RegistryError` with `Code.DEADLINE_EXCEEDED`; others may ignore it.
   */
  readonly deadline?: number | undefined;
  /**
   * Aborted when the RPC is cancelled or its deadline passes: nobody waits
   * for the result any more. Adapters should stop work they have not started
   * (the SQL adapters check it before each statement and each retry, and a
   * transaction whose signal aborts is rolled back); a statement already
   * running may finish. May be ignored by adapters whose calls are instant.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * What an adapter claims beyond the rules every adapter keeps (keyv's and
 * abstract-level's `supports`). The conformance suite tests each claim and
 * skips, saying so, the tests of what an adapter does not claim.
 */
export interface StorageCapabilities {
  /** A call whose {@link StorageCallOptions.deadline} has passed fails with DEADLINE_EXCEEDED and changes nothing. */
  readonly deadlines: boolean;
  /** A call whose {@link StorageCallOptions.signal} is aborted fails with CANCELLED and changes nothing. */
  readonly cancellation: boolean;
}

/** The outcome of {@link StorageAdapter.insert}. */
export type InsertResult =
  /** The record was stored. */
  | { readonly status: "created" }
  /** Another model already has this (name, version); nothing was stored. */
  | { readonly status: "nameVersionTaken"; readonly existingId: string }
  /** A model was already created with this request id; nothing was stored. */
  | { readonly status: "requestIdUsed"; readonly existing: ModelRecord };

/** The outcome of a conditional write ({@link StorageAdapter.replace}, {@link StorageAdapter.delete}). */
export type WriteResult =
  | { readonly status: "ok" }
  /** No model has this id. */
  | { readonly status: "notFound" }
  /** The stored revision is not the expected one; nothing changed. */
  | { readonly status: "conflict"; readonly currentRevision: number };

/**
 * The storage contract every adapter implements: in-memory, SQLite, and the
 * SQL servers. Kept small on purpose: read-modify-write logic (tag and
 * metadata edits, field masks, limits) lives once in the service, on top of
 * the compare-and-swap `replace`. `@modelreg/registry-server/testing`
 * exports the conformance suite that checks every rule below.
 *
 * Rules for implementers:
 * 1. Every method may be called concurrently; each must be atomic on its own.
 * 2. Lookups of something absent return `undefined` (or leave it out of an
 *    array); they never throw for it.
 * 3. Expected outcomes (a taken name, a stale revision) are results, not
 *    exceptions. Exceptions are for failures: an adapter that cannot reach
 *    its database throws `RegistryError` with `Code.UNAVAILABLE`; anything
 *    else it throws is reported to callers as INTERNAL, its message withheld.
 * 4. Returned records are fresh objects the caller may keep; stored state
 *    never aliases a caller's object.
 * 5. Strings are stored exactly (any Unicode, including 4-byte UTF-8);
 *    ordering and comparisons go by Unicode code point, which is UTF-8 byte
 *    order, with no space padding: SQLite's BINARY, PostgreSQL's COLLATE "C",
 *    MySQL's utf8mb4_0900_bin / MariaDB's utf8mb4_nopad_bin (not utf8mb4_bin,
 *    which ignores trailing spaces).
 * 6. A write that returns has been made durable to the adapter's standard
 *    (for SQLite: committed to the database file).
 * 7. Every method takes optional {@link StorageCallOptions} last; an adapter
 *    that honours `deadline` throws DEADLINE_EXCEEDED once it has passed.
 * 8. Every write that changes something (an insert that is `created`, a
 *    replace or delete that is `ok`) appends exactly one {@link ChangeRecord}
 *    in the same atomic step, numbered one past the latest; a write that
 *    fails or changes nothing appends none. Older changes may be pruned, but
 *    at least the latest `retainChanges` (default 100 000) are kept.
 */
export interface StorageAdapter {
  /** What this adapter claims beyond the rules above; absent means it claims nothing. */
  readonly capabilities?: StorageCapabilities;

  /**
   * Stores a new model. (name, version) must be unique, and so must a
   * non-empty `requestId`: when both clash, `requestIdUsed` wins. Of
   * concurrent inserts of the same (name, version) exactly one is `created`.
   */
  insert(record: ModelRecord, requestId?: string, options?: StorageCallOptions): Promise<InsertResult>;

  /**
   * Inserts several models, each as {@link insert} would, results in the
   * same order. Adapters should make it one atomic step (one transaction,
   * one commit) where they can. Later items see earlier ones: a (name,
   * version) repeated within the batch is `nameVersionTaken`.
   */
  insertMany(
    items: readonly { readonly record: ModelRecord; readonly requestId?: string | undefined }[],
    options?: StorageCallOptions,
  ): Promise<InsertResult[]>;

  /** The model with this id, or `undefined`. */
  get(id: string, options?: StorageCallOptions): Promise<ModelRecord | undefined>;

  /** The model with this (name, version), or `undefined`. */
  getByNameVersion(
    name: string,
    version: string,
    options?: StorageCallOptions,
  ): Promise<ModelRecord | undefined>;

  /** The models with these ids that exist, in any order, each once. */
  getMany(ids: readonly string[], options?: StorageCallOptions): Promise<ModelRecord[]>;

  /**
   * Up to `query.limit` models matching the filter, in `orderBy` order with
   * `id` ascending breaking ties, starting strictly after `query.after`.
   * Must be keyset-based: rows inserted or deleted elsewhere in the order
   * never shift a page boundary.
   */
  list(query: ListQuery, options?: StorageCallOptions): Promise<ModelRecord[]>;

  /**
   * Replaces the stored model that has `record.id`, but only if its revision
   * is `expectedRevision` (compare-and-swap). `record.revision` must be
   * `expectedRevision + 1`; `id`, `name`, `version` and `createTime` are not
   * changed.
   */
  replace(record: ModelRecord, expectedRevision: number, options?: StorageCallOptions): Promise<WriteResult>;

  /** Deletes the model, only if its revision is `expectedRevision` when one is given. */
  delete(id: string, expectedRevision?: number, options?: StorageCallOptions): Promise<WriteResult>;

  /**
   * Up to `limit` changes with a revision greater than `afterRevision`, in
   * order, with the latest revision and how far history was pruned, all from
   * one consistent snapshot. `limit` 0 reads just the two numbers.
   */
  readChanges(afterRevision: number, limit: number, options?: StorageCallOptions): Promise<ChangesPage>;

  /** Resolves if the storage is reachable; throws (UNAVAILABLE) if not. Used by health checks. */
  ping(): Promise<void>;

  /** Releases connections and files. Further calls may fail. Safe to call twice. */
  close(): Promise<void>;
}
