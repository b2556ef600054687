import {
  type ColumnDefinitionBuilder,
  type CreateTableBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  type RawBuilder,
  sql,
} from "kysely";

/** The SQL dialects the registry schema is written for. */
export type SqlDialectName = "sqlite" | "postgres" | "mysql";

/**
 * How strings must compare (rule 5 of `StorageAdapter`): by Unicode code
 * point, which is UTF-8 byte order, with no trailing-space padding and no
 * normalization. Every string column gets the dialect's collation for that:
 *
 * - SQLite: none needed, its default BINARY already is.
 * - PostgreSQL: `COLLATE "C"` on each column. Per column rather than per
 *   database, so the schema is right whatever collation the database was
 *   created with (often `en_US.UTF-8`, which ignores case and punctuation
 *   at first level and depends on the glibc version).
 * - MySQL / MariaDB: a binary utf8mb4 collation that is NO PAD. Plain
 *   `utf8mb4_bin` is PAD SPACE: `'a'` and `'a '` are equal (a unique key
 *   rejects the second) and `'a\t'` sorts before `'a'`. So: MariaDB's
 *   `utf8mb4_nopad_bin` (10.2+), else MySQL's `utf8mb4_0900_bin` (8.0.17+),
 *   both ordering by code point. Also the tables' default collation.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
async function binaryCollation(db: Kysely<any>, dialect: SqlDialectName): Promise<string | undefined> {
  switch (dialect) {
    case "sqlite":
      return undefined;
    case "postgres":
      return '"C"';
    case "mysql": {
      const { rows } = await sql<{ name: string }>`
        select collation_name as name from information_schema.collations
        where collation_name in ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`.execute(db);
      const names = rows.map((r) => r.name);
      const name = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"].find((n) => names.includes(n));
      if (name === undefined) {
        throw new Error(
          "this MySQL server has no NO PAD binary utf8mb4 collation: use MySQL 8.0.17+ or MariaDB 10.2+",
        );
      }
      return name;
    }
  }
}

/**
 * The pieces of DDL that differ by dialect, so that each migration is one
 * definition for all of them.
 */
interface Ddl {
  /** A string column: gives it the code-point collation (see {@link binaryCollation}). */
  text(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /** A table: InnoDB with utf8mb4 and the binary collation by default on MySQL. */
  // biome-ignore lint/suspicious/noExplicitAny: the table builder's column types are irrelevant here.
  table<T extends CreateTableBuilder<any, any>>(table: T): T;
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
async function ddlFor(db: Kysely<any>, dialect: SqlDialectName): Promise<Ddl> {
  const collation = await binaryCollation(db, dialect);
  // The names are fixed strings above, never input.
  const collate: RawBuilder<unknown> | undefined =
    collation === undefined ? undefined : sql.raw(`collate ${collation}`);
  const tableOptions =
    dialect === "mysql" && collation !== undefined
      ? sql.raw(`engine = InnoDB default character set utf8mb4 collate ${collation}`)
      : undefined;
  return {
    // Right after the type (Kysely's "front" modifiers): valid there in both grammars.
    text: (column) => (collate ? column.modifyFront(collate) : column),
    table: (table) => (tableOptions ? (table.modifyEnd(tableOptions) as typeof table) : table),
  };
}

/**
 * Versioned schema migrations, in order. Never edit a released migration;
 * add a new one. Written with Kysely's schema builder so one definition
 * serves SQLite, PostgreSQL and MySQL; {@link Ddl} holds the few differences.
 */
function createMigrations(dialect: SqlDialectName): Record<string, Migration> {
  return {
    "0001_models": {
      // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
      async up(db: Kysely<any>) {
        const { text, table } = await ddlFor(db, dialect);
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
        await db.schema
          .createIndex("models_framework_idx")
          .on("models")
          .columns(["framework", "id"])
          .execute();

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
        await db.schema
          .createIndex("model_tags_tag_idx")
          .on("model_tags")
          .columns(["tag", "model_id"])
          .execute();

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
      },
    },
    "0002_changes": {
      // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
      async up(db: Kysely<any>) {
        const { text, table } = await ddlFor(db, dialect);
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
      },
    },
    "0003_keyset_order_indexes": {
      // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
      async up(db: Kysely<any>) {
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
      },
    },
  };
}

/** The migrations' names, in order (the same for every dialect). */
export const migrationNames: readonly string[] = Object.keys(createMigrations("sqlite"));

/** The latest migration's name, for logs and health output. */
export const latestSchemaVersion = migrationNames.at(-1) ?? "";

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  /**
   * PostgreSQL: the schema that holds the migration tables (the schema the
   * registry tables go to). Needed because Kysely's migrator otherwise looks
   * for its tables in every schema and would take another schema's for ours.
   */
  readonly migrationTableSchema?: string | undefined;
}

/**
 * Brings the schema up to date. Safe to run from several processes at once:
 * Kysely's migrator takes a lock (a PostgreSQL advisory lock, MySQL
 * `GET_LOCK`; SQLite's write transaction) and keeps a table of applied
 * migrations, so each migration runs exactly once.
 */
export async function migrateToLatest(
  // biome-ignore lint/suspicious/noExplicitAny: the migrator works on the untyped database.
  db: Kysely<any>,
  dialect: SqlDialectName,
  options: MigrateOptions = {},
): Promise<void> {
  const migrations = createMigrations(dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      return migrations;
    },
  };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: "modelreg_migration",
    migrationLockTableName: "modelreg_migration_lock",
    ...(options.migrationTableSchema === undefined
      ? {}
      : { migrationTableSchema: options.migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error !== undefined || failed) {
    throw new Error(`schema migration ${failed?.migrationName ?? ""} failed`, { cause: error });
  }
}
