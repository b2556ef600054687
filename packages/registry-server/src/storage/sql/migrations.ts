import { type MigrationProvider, Migrator, sql } from "kysely";
import type { SqlDialectName, UntypedDb } from "./ddl";
import { errorChain, stringCode } from "./errors";
import { createMigrations } from "./migration-list";

/** The migrations' names, in order (the same for every dialect). */
export const migrationNames: readonly string[] = Object.keys(createMigrations("sqlite"));

/** The latest migration's name, for logs and health output. */
export const latestSchemaVersion = migrationNames.at(-1) ?? "";

/**
 * What a migration run found and did. `applied` and `pending` partition the
 * migrations this build knows, as they were before the call; `ran` is what
 * the call applied (empty for a dry run, or when another process applied
 * them meanwhile).
 */
export interface MigrationReport {
  /** The migrations already applied before this call, in order. */
  readonly applied: readonly string[];
  /** The migrations not applied before this call, in order. */
  readonly pending: readonly string[];
  /** The migrations this call applied, in order (empty with `dryRun`). */
  readonly ran: readonly string[];
}

/** Marks a {@link SchemaNotCurrentError}, whichever bundle's copy of the class made it. */
const brand = Symbol.for("@modelreg/registry-server:SchemaNotCurrentError");

/**
 * The database's schema is not the one this build of the registry uses, and
 * the storage was told not to migrate (`migrate: false`), or the database is
 * ahead of this build. `pending` are the migrations to apply (`modelreg
 * migrate`); `unknown` are migrations the database has that this build does
 * not know (a newer registry migrated it: run that version, or a newer one).
 */
export class SchemaNotCurrentError extends Error {
  /**
   * Each storage entry point is its own bundle with its own copy of this
   * class: `instanceof` recognizes any copy's errors by a shared brand.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && brand in value;
  }
  override readonly name = "SchemaNotCurrentError";
  /** The migrations this build knows that the database has not applied, in order. */
  readonly pending: readonly string[];
  /** Applied migrations this build does not know: the database is ahead of it. */
  readonly unknown: readonly string[];

  constructor(pending: readonly string[], unknown: readonly string[] = []) {
    super(
      unknown.length > 0
        ? `the database schema is ahead of this registry: it has migration(s) ${unknown.join(", ")} ` +
            `that this version does not know; run the registry version that applied them, or a newer one`
        : `the database schema is not current: ${pending.length} pending migration(s) ` +
            `(${pending.join(", ")}); run \`modelreg migrate\` first`,
    );
    Object.defineProperty(this, brand, { value: true });
    this.pending = Object.freeze([...pending]);
    this.unknown = Object.freeze([...unknown]);
  }
}

/** The migration table (Kysely's migrator keeps one row per applied migration). */
const migrationTable = "modelreg_migration";

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  /**
   * PostgreSQL: the schema that holds the migration tables (the schema the
   * registry tables go to). Needed because Kysely's migrator otherwise looks
   * for its tables in every schema and would take another schema's for ours.
   */
  readonly migrationTableSchema?: string | undefined;
}

/** Whether the migration table exists, from the dialect's catalog (no error to catch, nothing created). */
async function hasMigrationTable(db: UntypedDb, dialect: SqlDialectName, schema?: string): Promise<boolean> {
  const query =
    dialect === "sqlite"
      ? sql`select 1 from sqlite_master where type = 'table' and name = ${migrationTable}`
      : dialect === "mysql"
        ? sql`select 1 from information_schema.tables
              where table_schema = database() and table_name = ${migrationTable}`
        : sql`select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
              where n.nspname = coalesce(${schema ?? null}, current_schema()) and c.relname = ${migrationTable}`;
  return (await query.execute(db)).rows.length > 0;
}

/**
 * Which of this build's migrations the database has applied, which are
 * pending, and which applied ones this build does not know. Reads only: a
 * database with no registry tables has every migration pending.
 */
export async function readMigrationState(
  db: UntypedDb,
  dialect: SqlDialectName,
  options: MigrateOptions = {},
): Promise<{ applied: string[]; pending: string[]; unknown: string[] }> {
  const schema = options.migrationTableSchema;
  let done: string[] = [];
  if (await hasMigrationTable(db, dialect, schema)) {
    const from = schema === undefined ? db : db.withSchema(schema);
    const rows = await from.selectFrom(migrationTable).select("name").execute();
    done = rows.map((row) => String(row.name));
  }
  const known = new Set(migrationNames);
  return {
    applied: migrationNames.filter((name) => done.includes(name)),
    pending: migrationNames.filter((name) => !done.includes(name)),
    unknown: done.filter((name) => !known.has(name)).sort(),
  };
}

/**
 * What to do with the schema: `migrate` applies pending migrations; `dryRun`
 * reports them; `check` refuses a database with pending ones. Every mode
 * refuses a database ahead of this build ({@link SchemaNotCurrentError}).
 */
export type MigrationMode = "migrate" | "dryRun" | "check";

/** Inspects the schema and, in `migrate` mode, brings it up to date: see {@link MigrationMode}. */
export async function runMigrations(
  db: UntypedDb,
  dialect: SqlDialectName,
  mode: MigrationMode,
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  if (dialect === "sqlite" && mode === "migrate") {
    return inSqliteWriteTransaction(db, (connection) => inspectAndRun(connection, dialect, mode, options));
  }
  return inspectAndRun(db, dialect, mode, options);
}

async function inspectAndRun(
  db: UntypedDb,
  dialect: SqlDialectName,
  mode: MigrationMode,
  options: MigrateOptions,
): Promise<MigrationReport> {
  const { applied, pending, unknown } = await readMigrationState(db, dialect, options);
  if (unknown.length > 0) throw new SchemaNotCurrentError(pending, unknown);
  if (mode === "check" && pending.length > 0) throw new SchemaNotCurrentError(pending);
  if (mode !== "migrate" || pending.length === 0) return { applied, pending, ran: [] };
  const ran = await migrateToLatest(db, dialect, options);
  return { applied, pending, ran };
}

/**
 * Runs `work` on one connection inside `BEGIN IMMEDIATE … COMMIT`, rolled
 * back when it throws. Kysely's SQLite migrator takes no lock and runs
 * outside a transaction: the write lock taken up front (waiting up to the
 * busy timeout for another process's) makes the check and the migrations
 * one step that another process cannot interleave with, and a migration
 * that fails half-way leaves nothing of itself behind (SQLite's DDL is
 * transactional).
 */
async function inSqliteWriteTransaction<T>(db: UntypedDb, work: (db: UntypedDb) => Promise<T>): Promise<T> {
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    let result: T;
    try {
      result = await work(connection);
    } catch (error) {
      // SQLite may have rolled back already (some errors end the transaction): nothing left to undo then.
      await sql`rollback`.execute(connection).catch(() => undefined);
      throw error;
    }
    await sql`commit`.execute(connection);
    return result;
  });
}

/**
 * Brings the schema up to date, and returns the migrations it applied. Safe
 * to run from several processes at once on PostgreSQL and MySQL: Kysely's
 * migrator takes a lock (a PostgreSQL advisory lock, MySQL `GET_LOCK`) and
 * keeps a table of applied migrations, so each migration runs exactly once.
 * On SQLite it takes no lock: call it through {@link runMigrations}, which
 * runs it in a `BEGIN IMMEDIATE` transaction.
 */
export async function migrateToLatest(
  db: UntypedDb,
  dialect: SqlDialectName,
  options: MigrateOptions = {},
): Promise<string[]> {
  const migrations = createMigrations(dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      return migrations;
    },
  };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: migrationTable,
    migrationLockTableName: "modelreg_migration_lock",
    ...(options.migrationTableSchema === undefined
      ? {}
      : { migrationTableSchema: options.migrationTableSchema }),
  });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === "Error");
    if (error === undefined && !failed) {
      return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
    }
    // Before any migration ran, Kysely's PostgreSQL introspection reads every schema's tables and
    // fails when another schema is dropped meanwhile (3F000, 42P01, 42703): nothing was done; look again.
    if (!failed && attempt < 5 && droppedMeanwhile(error)) continue;
    throw new Error(`schema migration ${failed?.migrationName ?? ""} failed`, { cause: error });
  }
}

/** PostgreSQL's errors for an object that vanished while a catalog query ran (a concurrent DROP). */
const DROPPED_MEANWHILE = new Set(["3F000", "42P01", "42703"]);

function droppedMeanwhile(error: unknown): boolean {
  return errorChain(error).some((e) => DROPPED_MEANWHILE.has(stringCode(e)));
}
