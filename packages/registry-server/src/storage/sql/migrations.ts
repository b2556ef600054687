import { type Kysely, type Migration, type MigrationProvider, Migrator } from "kysely";

/**
 * Versioned schema migrations, in order. Never edit a released migration;
 * add a new one. Written with Kysely's schema builder so one definition
 * serves SQLite, PostgreSQL and MySQL.
 */
const migrations: Record<string, Migration> = {
  "0001_models": {
    // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("models")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("name", "varchar(128)", (c) => c.notNull())
        .addColumn("version", "varchar(64)", (c) => c.notNull())
        .addColumn("framework", "varchar(64)", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("artifact_uri", "varchar(2048)", (c) => c.notNull())
        .addColumn("revision", "bigint", (c) => c.notNull())
        .addColumn("create_time", "bigint", (c) => c.notNull())
        .addColumn("update_time", "bigint", (c) => c.notNull())
        .addColumn("request_id", "varchar(128)", (c) => c.unique())
        .addUniqueConstraint("models_name_version_key", ["name", "version"])
        .execute();
      // Keyset pages in the default order and the orders ListModels offers.
      await db.schema
        .createIndex("models_create_time_idx")
        .on("models")
        .columns(["create_time", "id"])
        .execute();
      await db.schema
        .createIndex("models_update_time_idx")
        .on("models")
        .columns(["update_time", "id"])
        .execute();
      await db.schema.createIndex("models_framework_idx").on("models").columns(["framework", "id"]).execute();

      await db.schema
        .createTable("model_tags")
        .addColumn("model_id", "varchar(64)", (c) => c.notNull().references("models.id").onDelete("cascade"))
        .addColumn("tag", "varchar(64)", (c) => c.notNull())
        .addPrimaryKeyConstraint("model_tags_pkey", ["model_id", "tag"])
        .execute();
      await db.schema
        .createIndex("model_tags_tag_idx")
        .on("model_tags")
        .columns(["tag", "model_id"])
        .execute();

      await db.schema
        .createTable("model_metadata")
        .addColumn("model_id", "varchar(64)", (c) => c.notNull().references("models.id").onDelete("cascade"))
        .addColumn("key", "varchar(128)", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("model_metadata_pkey", ["model_id", "key"])
        .execute();
      await db.schema
        .createIndex("model_metadata_key_idx")
        .on("model_metadata")
        .columns(["key", "model_id"])
        .execute();
    },
  },
};

const provider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/**
 * Brings the schema up to date. Safe to run from several processes at once:
 * Kysely's migrator takes a lock (and a table of applied migrations), so each
 * migration runs exactly once.
 */
// biome-ignore lint/suspicious/noExplicitAny: the migrator works on the untyped database.
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: "modelreg_migration",
    migrationLockTableName: "modelreg_migration_lock",
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error !== undefined || failed) {
    throw new Error(`schema migration ${failed?.migrationName ?? ""} failed`, { cause: error });
  }
}

/** The latest migration's name, for logs and health output. */
export const latestSchemaVersion = Object.keys(migrations).at(-1) ?? "";
