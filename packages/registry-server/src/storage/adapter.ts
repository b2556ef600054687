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
  /** `sha256:` and 64 lower-case hex digits, or `""` when not given. Immutable once set. */
  readonly artifactDigest: string;
  /** Where the model came from; every field empty when not given. */
  readonly lineage: LineageRecord;
  /** 1 on create, +1 on every write. The etag is derived from it. */
  readonly revision: number;
  /** Microseconds since the Unix epoch. */
  readonly createTime: number;
  /** Microseconds since the Unix epoch. */
  readonly updateTime: number;
}

/** Where a model came from (the Model's `lineage`), as storage holds it. */
export interface LineageRecord {
  /** An absolute URI, or `""`. */
  readonly runUri: string;
  /** A git commit or tag, or `""`. */
  readonly codeRevision: string;
  /** Absolute URIs; unique, sorted ascending by Unicode code point. */
  readonly datasetUris: readonly string[];
  /** Model ids; unique, sorted ascending. */
  readonly parentModelIds: readonly string[];
}

/** The lineage of a model registered without one. */
export const emptyLineage: LineageRecord = Object.freeze({
  runUri: "",
  codeRevision: "",
  datasetUris: Object.freeze([]) as readonly string[],
  parentModelIds: Object.freeze([]) as readonly string[],
});

/** Who a call is made by, as its history entries record it: {@link StorageCallOptions.actor}, or `anonymous`. */
export const actorOf = (call: StorageCallOptions | undefined): string => call?.actor ?? "anonymous";

/** A copy of a lineage, its arrays copied too. */
export function copyLineage(lineage: LineageRecord): LineageRecord {
  return {
    runUri: lineage.runUri,
    codeRevision: lineage.codeRevision,
    datasetUris: [...lineage.datasetUris],
    parentModelIds: [...lineage.parentModelIds],
  };
}

/** An alias as storage holds it: a model name's named pointer at one of its versions. */
export interface AliasRecord {
  /** The model name it belongs to. */
  readonly name: string;
  /** The alias, for example `champion`. Unique per name. */
  readonly alias: string;
  /** The version it points at. */
  readonly version: string;
  /** The id of the model (name, version) it points at. */
  readonly modelId: string;
  /** The revision of the history entry that last set it; its etag is derived from it. */
  readonly revision: number;
  /** When it was last set, in microseconds since the Unix epoch. */
  readonly updateTime: number;
  /** Who last set it (the call's `actor`). */
  readonly updatedBy: string;
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
export type ChangeType = "created" | "updated" | "deleted" | "alias_set" | "alias_deleted";

/**
 * Why a promotion policy refused an alias move or delete (see
 * {@link SetAliasRequest.check}); stored with the refused entry in the
 * history and sent to the caller as its error.
 */
export interface AliasRefusal {
  /** PERMISSION_DENIED: the caller lacks the policy's role; FAILED_PRECONDITION: the target lacks evidence. */
  readonly code: "PERMISSION_DENIED" | "FAILED_PRECONDITION";
  /** The caller-facing message: what is missing and how to fix it. */
  readonly message: string;
  /** The `google.rpc.ErrorInfo` reason, for example `PROMOTION_REQUIREMENTS_UNMET`. */
  readonly reason: string;
  /** One `google.rpc.PreconditionFailure` violation per missing item (FAILED_PRECONDITION). */
  readonly violations: readonly {
    readonly type: string;
    readonly subject: string;
    readonly description: string;
  }[];
}

/**
 * One entry of the history: a committed write (what WatchModels streams),
 * or an alias move a policy refused (recorded, streamed to nobody).
 */
export interface ChangeRecord {
  /**
   * Position in the history: the previous entry's + 1, assigned in the
   * write's own transaction, so revisions commit in order with no gaps.
   */
  readonly revision: number;
  readonly type: ChangeType;
  /**
   * For a model change, the model after it (for a delete, its last state).
   * For an alias change, the model the alias points at (for a delete, pointed
   * at) as it was then.
   */
  readonly model: ModelRecord;
  /** When the change was made, in microseconds since the Unix epoch. */
  readonly commitTime: number;
  /**
   * Who made it: the call's {@link StorageCallOptions.actor} (`anonymous`
   * when the call named none); `""` for entries written before the history
   * recorded actors.
   */
  readonly actor: string;
  /** The request id of the call that made it, or `""`. */
  readonly requestId: string;
  /** Alias changes: the alias after the change (for a delete, its last state). For a refused move, the move asked for. */
  readonly alias?: AliasRecord | undefined;
  /** Alias changes: the alias before the change, when it existed. */
  readonly aliasBefore?: AliasRecord | undefined;
  /**
   * Set on an entry that records a refused alias move or delete: it changed
   * nothing, so WatchModels skips it (it still takes a revision).
   */
  readonly refusal?: AliasRefusal | undefined;
  /**
   * For `updated` and `deleted`: the model after its previous change (absent
   * when that entry was pruned). Absent for every other type. Both
   * {@link StorageAdapter.readChanges} and {@link StorageAdapter.listHistory}
   * fill it: a filtered watch needs it to tell a watcher that a model
   * stopped matching.
   */
  readonly before?: ModelRecord | undefined;
}

/** A {@link ChangeRecord} as ListModelHistory returns it (the same shape; kept as its own name). */
export type HistoryRecord = ChangeRecord;

/** A ListModelHistory query as the service hands it to storage; every condition is ANDed. */
export interface HistoryQuery {
  /** Only entries of this model name (its versions and its aliases). */
  readonly name?: string | undefined;
  /** Only entries of this alias (`name` is then set too). */
  readonly alias?: string | undefined;
  /** Only entries whose `model.id` is this. */
  readonly modelId?: string | undefined;
  /** Only entries made by this actor. */
  readonly actor?: string | undefined;
  /** Only entries of these types; absent: every type. */
  readonly types?: readonly ChangeType[] | undefined;
  /** true: only refused moves; false: only committed changes; absent: both. */
  readonly refused?: boolean | undefined;
  /** Only entries committed at or after this time (microseconds since the epoch). */
  readonly fromTime?: number | undefined;
  /** Only entries committed at or before this time (microseconds since the epoch). */
  readonly toTime?: number | undefined;
  /** Keyset paging: only entries with a revision below this one. */
  readonly beforeRevision?: number | undefined;
  /** How many entries to return at most (1 or more), newest (highest revision) first. */
  readonly limit: number;
}

/** What {@link StorageAdapter.setAlias} is asked to do. */
export interface SetAliasRequest {
  readonly name: string;
  readonly alias: string;
  /** The version of `name` to point at; it must exist. */
  readonly version: string;
  /** Compare-and-set: move only if the alias points at this version now; `""`: only if it does not exist. */
  readonly expectedVersion?: string | undefined;
  /** Recorded in the history; a second call with the same one gets `requestIdUsed`. */
  readonly requestId?: string | undefined;
  /**
   * The promotion policy: called after the compare-and-set passed and only
   * when the alias would change, with the target and the alias's current
   * state, read together from one snapshot. It runs OUTSIDE any database
   * transaction, so a slow hook holds no lock and no connection; the move
   * then commits only if neither the target (its revision) nor the alias
   * changed since, so what `check` saw is exactly what the move commits
   * against. If either changed, the adapter starts over (compare-and-set
   * included) and calls `check` again, a bounded number of times, then
   * throws ABORTED. A refusal it returns is recorded in the history (one
   * entry with `refusal`) and returned; nothing moves. Whatever it throws
   * fails the call and records nothing.
   */
  readonly check?:
    | ((target: ModelRecord, current: AliasRecord | undefined) => Promise<AliasRefusal | undefined>)
    | undefined;
}

/** The outcome of {@link StorageAdapter.setAlias}. */
export type SetAliasResult =
  /** The alias was created or moved; one history entry was appended (its revision is `alias.revision`). */
  | { readonly status: "set"; readonly alias: AliasRecord; readonly target: ModelRecord }
  /** The alias already pointed at that version (and its expectation held); nothing was appended. */
  | { readonly status: "unchanged"; readonly alias: AliasRecord; readonly target: ModelRecord }
  /** `name` has no such `version`. */
  | { readonly status: "versionNotFound" }
  /** The alias does not point at `expectedVersion` (or exists, for `""`); `current` is what it points at. */
  | { readonly status: "aliasChanged"; readonly current: AliasRecord | undefined }
  /** `check` refused the move; the refusal was recorded with this revision. */
  | { readonly status: "refused"; readonly refusal: AliasRefusal; readonly revision: number }
  /** A move was already made with this request id; `alias` is the alias as that move left it. Nothing else was done. */
  | { readonly status: "requestIdUsed"; readonly alias: AliasRecord };

/** What {@link StorageAdapter.deleteAlias} is asked to do. */
export interface DeleteAliasRequest {
  readonly name: string;
  readonly alias: string;
  /** Delete only if the alias points at this version now. */
  readonly expectedVersion?: string | undefined;
  /** As {@link SetAliasRequest.check}, with the alias's current state and its target. */
  readonly check?:
    | ((current: AliasRecord, target: ModelRecord) => Promise<AliasRefusal | undefined>)
    | undefined;
}

/** The outcome of {@link StorageAdapter.deleteAlias}. */
export type DeleteAliasResult =
  /** Deleted, as the `alias_deleted` entry with this revision; `alias` is its last state. */
  | { readonly status: "deleted"; readonly alias: AliasRecord; readonly revision: number }
  | { readonly status: "notFound" }
  | { readonly status: "aliasChanged"; readonly current: AliasRecord }
  | { readonly status: "refused"; readonly refusal: AliasRefusal; readonly revision: number };

/** The outcome of {@link StorageAdapter.resolveAlias}. */
export type AliasResolution =
  | { readonly status: "found"; readonly alias: AliasRecord; readonly model: ModelRecord }
  /** The alias does not exist (did not, at the read time). */
  | { readonly status: "notFound" }
  /** The history of the read time was pruned: the answer is unknown. */
  | { readonly status: "historyPruned"; readonly prunedThrough: number };

/** A ListModelAliases query: by (name, alias) ascending, strictly after `after`. */
export interface AliasListQuery {
  /** Only this name's aliases; absent: every name's. */
  readonly name?: string | undefined;
  readonly after?: { readonly name: string; readonly alias: string } | undefined;
  /** How many aliases to return at most (1 or more). */
  readonly limit: number;
}

/** Options for {@link StorageAdapter.delete}. */
export interface DeleteOptions extends StorageCallOptions {
  /** Delete the model's aliases with it (each an `alias_deleted` entry first) instead of answering `aliased`. */
  readonly force?: boolean | undefined;
  /**
   * With `force`: called inside the delete's atomic step with the aliases
   * about to be deleted (only when there are some). Synchronous (it must
   * not wait: it decides from the caller's roles). When it returns a
   * refusal, that refusal is recorded in the history as one `alias_deleted`
   * entry with `refusal` for the alias it names, nothing is deleted, and the
   * delete answers `refused`.
   */
  readonly checkAliases?:
    | ((
        aliases: readonly AliasRecord[],
      ) => { readonly alias: AliasRecord; readonly refusal: AliasRefusal } | undefined)
    | undefined;
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

/**
 * Validates a `retainHistory` option: absent (keep every entry, the
 * default: the history is an audit log) or a whole number of at least 1.
 * Entries are pruned only past both this and `retainChanges`.
 */
export function checkRetainHistory(value: number | undefined, caller: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(
      `${caller}: \`retainHistory\` must be a whole number of at least 1, or absent to keep every entry`,
    );
  }
  return value;
}

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
  /**
   * Who makes the call (the authenticated principal); writes record it in
   * the history as the entry's `actor`. Absent: `anonymous`.
   */
  readonly actor?: string | undefined;
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
  /** The record was stored, as the history entry with this revision. */
  | { readonly status: "created"; readonly revision: number }
  /** Another model already has this (name, version); nothing was stored. */
  | { readonly status: "nameVersionTaken"; readonly existingId: string }
  /** A model was already created with this request id; nothing was stored. */
  | { readonly status: "requestIdUsed"; readonly existing: ModelRecord };

/** The outcome of a conditional write ({@link StorageAdapter.replace}, {@link StorageAdapter.delete}). */
export type WriteResult =
  /** Done; `revision` is the history entry the write appended (for a delete, its `deleted` entry). */
  | { readonly status: "ok"; readonly revision: number }
  /** No model has this id. */
  | { readonly status: "notFound" }
  /** The stored revision is not the expected one; nothing changed. */
  | { readonly status: "conflict"; readonly currentRevision: number };

/** The outcome of {@link StorageAdapter.delete}: a {@link WriteResult}, or the aliases that keep the model. */
export type DeleteResult =
  | WriteResult
  /** Aliases point at the model and `force` was not set; nothing changed. */
  | { readonly status: "aliased"; readonly aliases: readonly AliasRecord[] }
  /** `checkAliases` refused the forced delete; the refusal was recorded with this revision, nothing changed. */
  | { readonly status: "refused"; readonly refusal: AliasRefusal; readonly revision: number };

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
 *    replace that is `ok`, an alias `set` or `deleted`) appends exactly one
 *    {@link ChangeRecord} in the same atomic step, numbered one past the
 *    latest (a forced delete appends one `alias_deleted` per alias, then the
 *    `deleted`); a refused alias move appends one entry with `refusal`; a
 *    write that fails or changes nothing appends none. Each entry carries
 *    the call's `actor` (`anonymous` when absent). The entries are the
 *    change feed and the audit history at once: they are pruned only past
 *    both the latest `retainChanges` (default 100 000) and the latest
 *    `retainHistory` (default: none is ever pruned).
 * 9. Aliases: (name, alias) is unique; an alias always points at an existing
 *    model (a model with aliases is deleted only with `force`, which deletes
 *    them in the same step); of concurrent compare-and-set moves with the
 *    same expectation exactly one is `set`.
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

  /**
   * Deletes the model, only if its revision is `expectedRevision` when one
   * is given, and only if no alias points at it unless `options.force`.
   */
  delete(id: string, expectedRevision?: number, options?: DeleteOptions): Promise<DeleteResult>;

  /** Creates or moves an alias atomically (see {@link SetAliasRequest}). */
  setAlias(request: SetAliasRequest, options?: StorageCallOptions): Promise<SetAliasResult>;

  /** The alias, or `undefined`. */
  getAlias(name: string, alias: string, options?: StorageCallOptions): Promise<AliasRecord | undefined>;

  /** Aliases ordered by (name, alias) ascending, keyset-paged. */
  listAliases(query: AliasListQuery, options?: StorageCallOptions): Promise<AliasRecord[]>;

  /** Deletes an alias (see {@link DeleteAliasRequest}); appends one `alias_deleted` entry. */
  deleteAlias(request: DeleteAliasRequest, options?: StorageCallOptions): Promise<DeleteAliasResult>;

  /**
   * The alias and the model it points at, from one snapshot. With
   * `readTime` (microseconds since the epoch), time travel: the alias as the
   * latest committed alias entry at or before that time left it; with none
   * kept (pruned): the current alias if it was set at or before that time
   * (never moved since), else, when every entry after the time is kept (it
   * is at or after the oldest kept entry's commit time), the `aliasBefore`
   * of the alias's earliest entry after it, or absent if it has none. The
   * model as its latest committed entry at or before that time left it;
   * with none kept: as it is now if never written since created (revision
   * 1), else, when every entry after the time is kept, as its earliest
   * entry after it carries it if that is an alias entry, or as it is now if
   * it has none. `notFound` if the alias did not exist then;
   * `historyPruned` only when pruning leaves none of these to tell.
   */
  resolveAlias(
    name: string,
    alias: string,
    readTime?: number,
    options?: StorageCallOptions,
  ): Promise<AliasResolution>;

  /** History entries matching the query, newest first (see {@link HistoryQuery}). */
  listHistory(query: HistoryQuery, options?: StorageCallOptions): Promise<HistoryRecord[]>;

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
