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
}

/** The change history (WatchModels). */
export interface ModelChangesTable {
  revision: number;
  type: "created" | "updated" | "deleted";
  model_id: string;
  /** The model's state after the change (its last state for a delete), as JSON of a ModelRecord. */
  model: string;
  commit_time: number;
}

/** The Kysely database type. */
export interface RegistryDatabase {
  models: ModelsTable;
  model_tags: ModelTagsTable;
  model_metadata: ModelMetadataTable;
  modelreg_state: StateTable;
  model_changes: ModelChangesTable;
}
