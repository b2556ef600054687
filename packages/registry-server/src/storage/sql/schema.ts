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

/** The Kysely database type. */
export interface RegistryDatabase {
  models: ModelsTable;
  model_tags: ModelTagsTable;
  model_metadata: ModelMetadataTable;
}
