/**
 * The relational schema every SQL adapter uses (SQLite, PostgreSQL, MySQL /
 * MariaDB), as Kysely table types. Tags and metadata live in their own
 * tables so filters on them use indexes. Times are microseconds since the
 * Unix epoch in a 64-bit integer column; `pg` returns such bigint columns as
 * strings, so sql-storage reads them through `Number()`.
 */
export interface ModelsTable {
  id: string;
  name: string;
  version: string;
  framework: string;
  description: string;
  artifact_uri: string;
  revision: number;
  create_time: number;
  update_time: number;
  /** The CreateModel request_id that created the row, or null. Unique when set. */
  request_id: string | null;
  /** `sha256:` and 64 hex digits, or `""`. */
  artifact_digest: string;
  /** The lineage's run URI, or `""`. */
  lineage_run_uri: string;
  /** The lineage's code revision, or `""`. */
  lineage_code_revision: string;
}

/** The lineage's lists, one row per value, so a filter finds the models that list a value by index. */
export interface ModelLineageTable {
  model_id: string;
  /** Which list: `dataset` (dataset_uris) or `parent` (parent_model_ids). */
  kind: "dataset" | "parent";
  /** Lower-case hex SHA-256 of `value` (computed in JS): the indexed key, as a 2048-character URI is too long to index in MySQL. */
  value_hash: string;
  value: string;
}

/** An alias of a model name: a pointer at one of its versions. */
export interface ModelAliasesTable {
  name: string;
  alias: string;
  version: string;
  /** The model it points at; the foreign key (ON DELETE RESTRICT) keeps it existing. */
  model_id: string;
  /** The revision of the history entry that last set it. */
  revision: number;
  update_time: number;
  updated_by: string;
}

export interface ModelTagsTable {
  model_id: string;
  tag: string;
}

export interface ModelMetadataTable {
  model_id: string;
  key: string;
  value: string;
}

/** The single row (`id` 1) that numbers changes. */
export interface StateTable {
  id: number;
  /** The latest change's revision; 0 before the first. */
  revision: number;
  /** Changes up to this revision were pruned from `model_changes`. */
  pruned_through: number;
  /** The latest change's commit time (microseconds): the next is at least one more. */
  last_commit_time: number;
}

/** The change history (WatchModels) and audit history (ListModelHistory) at once. */
export interface ModelChangesTable {
  revision: number;
  type: "created" | "updated" | "deleted" | "alias_set" | "alias_deleted";
  model_id: string;
  /** The model's state after the change (its last state for a delete), as JSON of a ModelRecord. */
  model: string;
  commit_time: number;
  /** Who made it; `""` for entries written before actors were recorded. */
  actor: string;
  /** The request id of the call that made it, or `""`. */
  request_id: string;
  /** The model name (of the model, or of the alias's model). */
  name: string;
  /** Alias entries: the alias; null otherwise. */
  alias: string | null;
  /** Alias entries: the AliasRecord after the change, as JSON. */
  alias_state: string | null;
  /** Alias entries: the AliasRecord before the change, as JSON, when it existed. */
  alias_before: string | null;
  /** A refused alias move or delete: the AliasRefusal as JSON. */
  refusal: string | null;
  /** 1 when `refusal` is set, else 0 (indexed with the revision for the history's `refused` filter). */
  refused: number;
}

/** The Kysely database type. */
export interface RegistryDatabase {
  models: ModelsTable;
  model_tags: ModelTagsTable;
  model_metadata: ModelMetadataTable;
  modelreg_state: StateTable;
  model_changes: ModelChangesTable;
  model_lineage: ModelLineageTable;
  model_aliases: ModelAliasesTable;
}
