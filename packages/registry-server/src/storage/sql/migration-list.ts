import { type Migration, sql } from "kysely";
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
  };
}
