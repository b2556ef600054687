import {
  type ColumnDefinitionBuilder,
  type CreateTableBuilder,
  type Kysely,
  type RawBuilder,
  sql,
} from "kysely";

/** The database as migrations see it: they run before the typed schema exists. */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
export type UntypedDb = Kysely<any>;

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
async function binaryCollation(db: UntypedDb, dialect: SqlDialectName): Promise<string | undefined> {
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
export interface Ddl {
  /** A string column: gives it the code-point collation (see {@link binaryCollation}). */
  text(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /** A table: InnoDB with utf8mb4 and the binary collation by default on MySQL. */
  // biome-ignore lint/suspicious/noExplicitAny: the table builder's column types are irrelevant here.
  table<T extends CreateTableBuilder<any, any>>(table: T): T;
}

/** The dialect's {@link Ddl}; on MySQL it asks the server which binary collation it has. */
export async function ddlFor(db: UntypedDb, dialect: SqlDialectName): Promise<Ddl> {
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
