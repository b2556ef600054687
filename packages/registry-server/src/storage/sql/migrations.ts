import { type MigrationProvider, Migrator } from "kysely";
import type { SqlDialectName, UntypedDb } from "./ddl";
import { errorChain, stringCode } from "./errors";
import { createMigrations } from "./migration-list";

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
  db: UntypedDb,
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
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === "Error");
    if (error === undefined && !failed) return;
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
