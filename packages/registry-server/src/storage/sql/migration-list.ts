import { type AlterTableBuilder, type ColumnDefinitionBuilder, type Migration, sql } from "kysely";
import { type Ddl, ddlFor, type SqlDialectName, type UntypedDb } from "./ddl";

/** 0001: the models table and the indexes of its keyset orders. */
async function createModelsTable(db: UntypedDb, { text, table }: Ddl): Promise<void> {
  await table(
    db.schema
      .createTable("models")
      .addColumn("id", "varchar(64)", (c) => text(c).primaryKey())
      .addColumn("name", "varchar(128)", (c) => text(c).notNull())
      .addColumn("version", "varchar(64)", (c) => text(c).notNull())
      .addColumn("framework", "varchar(64)", (c) => text(c).notNull())
      .addColumn("description", "text", (c) => text(c).notNull())
      // Never indexed: 2048 characters are 8 KiB in utf8mb4, over InnoDB's 3072-byte key limit.
      .addColumn("artifact_uri", "varchar(2048)", (c) => text(c).notNull())
      .addColumn("revision", "bigint", (c) => c.notNull())
      .addColumn("create_time", "bigint", (c) => c.notNull())
      .addColumn("update_time", "bigint", (c) => c.notNull())
      .addColumn("request_id", "varchar(128)", (c) => text(c).unique())
      .addUniqueConstraint("models_name_version_key", ["name", "version"]),
  ).execute();
  // Keyset pages in the default order and the orders ListModels offers.
  await db.schema.createIndex("models_create_time_idx").on("models").columns(["create_time", "id"]).execute();
  await db.schema.createIndex("models_update_time_idx").on("models").columns(["update_time", "id"]).execute();
  await db.schema.createIndex("models_framework_idx").on("models").columns(["framework", "id"]).execute();
}

/** 0001: the tags and metadata tables, each row going with its model. */
async function createChildTables(db: UntypedDb, { text, table }: Ddl): Promise<void> {
  // Foreign keys as table constraints: MySQL ignores a REFERENCES clause on a column.
  await table(
    db.schema
      .createTable("model_tags")
      .addColumn("model_id", "varchar(64)", (c) => text(c).notNull())
      .addColumn("tag", "varchar(64)", (c) => text(c).notNull())
      .addPrimaryKeyConstraint("model_tags_pkey", ["model_id", "tag"])
      .addForeignKeyConstraint("model_tags_model_id_fkey", ["model_id"], "models", ["id"], (fk) =>
        fk.onDelete("cascade"),
      ),
  ).execute();
  await db.schema.createIndex("model_tags_tag_idx").on("model_tags").columns(["tag", "model_id"]).execute();

  await table(
    db.schema
      .createTable("model_metadata")
      .addColumn("model_id", "varchar(64)", (c) => text(c).notNull())
      .addColumn("key", "varchar(128)", (c) => text(c).notNull())
      .addColumn("value", "text", (c) => text(c).notNull())
      .addPrimaryKeyConstraint("model_metadata_pkey", ["model_id", "key"])
      .addForeignKeyConstraint("model_metadata_model_id_fkey", ["model_id"], "models", ["id"], (fk) =>
        fk.onDelete("cascade"),
      ),
  ).execute();
  await db.schema
    .createIndex("model_metadata_key_idx")
    .on("model_metadata")
    .columns(["key", "model_id"])
    .execute();
}

/** 0002: the state row that numbers changes, and the change history. */
async function createChangeTables(
  db: UntypedDb,
  { text, table }: Ddl,
  dialect: SqlDialectName,
): Promise<void> {
  // One row: the latest change revision and how far history was pruned.
  // Each write bumps `revision` in its own transaction, which holds the
  // row's lock until commit: revisions commit in order, with no gaps.
  await table(
    db.schema
      .createTable("modelreg_state")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("revision", "bigint", (c) => c.notNull())
      .addColumn("pruned_through", "bigint", (c) => c.notNull()),
  ).execute();
  await db.insertInto("modelreg_state").values({ id: 1, revision: 0, pruned_through: 0 }).execute();
  // The change history WatchModels reads: each change with the model's
  // state after it (its last state for a delete), as JSON.
  await table(
    db.schema
      .createTable("model_changes")
      .addColumn("revision", "bigint", (c) => c.primaryKey())
      .addColumn("type", "varchar(16)", (c) => text(c).notNull())
      .addColumn("model_id", "varchar(64)", (c) => text(c).notNull())
      .addColumn("model", dialect === "mysql" ? sql`longtext` : "text", (c) => text(c).notNull())
      .addColumn("commit_time", "bigint", (c) => c.notNull()),
  ).execute();
}

/** 0003: indexes that return the mixed-direction orders without sorting. */
async function createKeysetOrderIndexes(db: UntypedDb): Promise<void> {
  // Newest first with id ascending breaking ties (ListModels' default,
  // and `update_time desc`) is a mixed-direction order: an ascending
  // index cannot return it without sorting every candidate row. These
  // can, so a keyset page reads ~one page of rows at any table size.
  // (MariaDB honours DESC in indexes from 10.8; older ones sort.)
  await db.schema
    .createIndex("models_create_time_desc_idx")
    .on("models")
    .columns(["create_time desc", "id"])
    .execute();
  await db.schema
    .createIndex("models_update_time_desc_idx")
    .on("models")
    .columns(["update_time desc", "id"])
    .execute();
  // The commonest filter (one framework) in the default order.
  await db.schema
    .createIndex("models_framework_create_time_desc_idx")
    .on("models")
    .columns(["framework", "create_time desc", "id"])
    .execute();
}

/** 0004: the model's artifact digest and lineage; the lineage lists in a table a filter can use by index. */
async function addModelProvenance(db: UntypedDb, { text, table }: Ddl): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema
    .alterTable("models")
    .addColumn("artifact_digest", "varchar(71)", (c) => text(c).notNull().defaultTo(""))
    .execute();
  await db.schema
    .alterTable("models")
    .addColumn("lineage_run_uri", "varchar(2048)", (c) => text(c).notNull().defaultTo(""))
    .execute();
  await db.schema
    .alterTable("models")
    .addColumn("lineage_code_revision", "varchar(128)", (c) => text(c).notNull().defaultTo(""))
    .execute();
  // A URI of 2048 characters is 8 KiB in utf8mb4, over InnoDB's 3072-byte key
  // limit: the key is its SHA-256 (computed in JS), and lookups compare both.
  await table(
    db.schema
      .createTable("model_lineage")
      .addColumn("model_id", "varchar(64)", (c) => text(c).notNull())
      .addColumn("kind", "varchar(16)", (c) => text(c).notNull())
      .addColumn("value_hash", "varchar(64)", (c) => text(c).notNull())
      .addColumn("value", "varchar(2048)", (c) => text(c).notNull())
      .addPrimaryKeyConstraint("model_lineage_pkey", ["model_id", "kind", "value_hash"])
      .addForeignKeyConstraint("model_lineage_model_id_fkey", ["model_id"], "models", ["id"], (fk) =>
        fk.onDelete("cascade"),
      ),
  ).execute();
  await db.schema
    .createIndex("model_lineage_value_idx")
    .on("model_lineage")
    .columns(["kind", "value_hash", "model_id"])
    .execute();
}

/** 0004: aliases; a model they point at cannot be deleted under them (ON DELETE RESTRICT). */
async function createAliasTable(db: UntypedDb, { text, table }: Ddl): Promise<void> {
  await table(
    db.schema
      .createTable("model_aliases")
      .addColumn("name", "varchar(128)", (c) => text(c).notNull())
      .addColumn("alias", "varchar(64)", (c) => text(c).notNull())
      .addColumn("version", "varchar(64)", (c) => text(c).notNull())
      .addColumn("model_id", "varchar(64)", (c) => text(c).notNull())
      .addColumn("revision", "bigint", (c) => c.notNull())
      .addColumn("update_time", "bigint", (c) => c.notNull())
      .addColumn("updated_by", "varchar(512)", (c) => text(c).notNull())
      .addPrimaryKeyConstraint("model_aliases_pkey", ["name", "alias"])
      .addForeignKeyConstraint("model_aliases_model_id_fkey", ["model_id"], "models", ["id"], (fk) =>
        fk.onDelete("restrict"),
      ),
  ).execute();
  await db.schema
    .createIndex("model_aliases_model_id_idx")
    .on("model_aliases")
    .columns(["model_id"])
    .execute();
}

/** The SQL that reads a change row's model name out of its JSON, per dialect. */
function nameFromModelJson(dialect: SqlDialectName) {
  switch (dialect) {
    case "sqlite":
      return sql`json_extract(model, '$.name')`;
    case "postgres":
      return sql`(model::json ->> 'name')`;
    case "mysql":
      return sql`json_unquote(json_extract(model, '$.name'))`;
  }
}

/** 0004: the change table becomes the audit history too: who, which request, which name and alias, refusals. */
async function extendChangeTable(db: UntypedDb, { text }: Ddl, dialect: SqlDialectName): Promise<void> {
  const json = dialect === "mysql" ? sql`longtext` : "text";
  const add = (
    column: string,
    type: Parameters<AlterTableBuilder["addColumn"]>[1],
    build: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder,
  ) => db.schema.alterTable("model_changes").addColumn(column, type, build).execute();
  // Entries written before: actor "" (unknown), no request id.
  await add("actor", "varchar(512)", (c) => text(c).notNull().defaultTo(""));
  await add("request_id", "varchar(128)", (c) => text(c).notNull().defaultTo(""));
  await add("name", "varchar(128)", (c) => text(c).notNull().defaultTo(""));
  await add("alias", "varchar(64)", (c) => text(c));
  await add("alias_state", json, (c) => text(c));
  await add("alias_before", json, (c) => text(c));
  await add("refusal", json, (c) => text(c));
  // 1 for a refused move or delete (its refusal set): the `refused` filter's index (a JSON column is none).
  await add("refused", "integer", (c) => c.notNull().defaultTo(0));
  await sql`update model_changes set name = ${nameFromModelJson(dialect)}`.execute(db);
  await sql`update model_changes set refused = 1 where refusal is not null`.execute(db);
  // History pages are `... ORDER BY revision DESC LIMIT n`: each index ends in the revision.
  const indexes: [string, string[]][] = [
    ["model_changes_name_idx", ["name", "revision"]],
    ["model_changes_model_id_idx", ["model_id", "revision"]],
    ["model_changes_alias_idx", ["name", "alias", "revision"]],
    ["model_changes_actor_idx", ["actor", "revision"]],
    ["model_changes_request_id_idx", ["request_id"]],
    ["model_changes_commit_time_idx", ["commit_time", "revision"]],
    // History filtered only by type or by refusal (the audit's "every alias move", "every refusal").
    ["model_changes_type_idx", ["type", "revision"]],
    ["model_changes_refused_idx", ["refused", "revision"]],
  ];
  for (const [name, columns] of indexes) {
    await db.schema.createIndex(name).on("model_changes").columns(columns).execute();
  }
  // Commit times strictly increase with the revision: the next is at least the last + 1.
  await db.schema
    .alterTable("modelreg_state")
    .addColumn("last_commit_time", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update modelreg_state set last_commit_time =
    coalesce((select max(commit_time) from model_changes), 0) where id = 1`.execute(db);
}

/**
 * Versioned schema migrations, in order. Never edit a released migration;
 * add a new one. Written with Kysely's schema builder so one definition
 * serves SQLite, PostgreSQL and MySQL; {@link Ddl} holds the few differences.
 */
export function createMigrations(dialect: SqlDialectName): Record<string, Migration> {
  return {
    "0001_models": {
      async up(db: UntypedDb) {
        const ddl = await ddlFor(db, dialect);
        await createModelsTable(db, ddl);
        await createChildTables(db, ddl);
      },
    },
    "0002_changes": {
      async up(db: UntypedDb) {
        await createChangeTables(db, await ddlFor(db, dialect), dialect);
      },
    },
    "0003_keyset_order_indexes": { up: createKeysetOrderIndexes },
    "0004_aliases_history": {
      async up(db: UntypedDb) {
        const ddl = await ddlFor(db, dialect);
        await addModelProvenance(db, ddl);
        await createAliasTable(db, ddl);
        await extendChangeTable(db, ddl, dialect);
      },
    },
  };
}
