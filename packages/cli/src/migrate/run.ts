// `modelreg migrate` without the command line: the database URL parsed by the servers' one parser,
// the registry-server's per-dialect migrate functions, errors turned into messages without the URL.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { RegistryError } from "@modelreg/proto";
import { type MigrationReport, SchemaNotCurrentError } from "@modelreg/registry-server";
import { CliError, CliUsageError } from "../errors";
import { ExitCode } from "../exit-codes";
import { type DatabaseSetting, parseDatabaseUrl } from "../servers/database";

/** Options of {@link runMigrations}. */
export interface RunMigrationsOptions {
  /**
   * The database: `sqlite:PATH` / `file:PATH`, `postgres://...`, `mysql://...`
   * or `mariadb://...` (as `DATABASE_URL`). `memory:` has nothing to migrate.
   */
  readonly databaseUrl: string;
  /** PostgreSQL: the schema of the registry's tables (`DATABASE_SCHEMA`); default: the search_path. */
  readonly schema?: string | undefined;
  /** Report the pending migrations and change nothing. */
  readonly dryRun?: boolean | undefined;
  /** The directory a relative SQLite path is resolved from. Default: the process's. */
  readonly cwd?: string | undefined;
  /** The option or variable a bad URL is reported as. Default `DATABASE_URL`. */
  readonly urlName?: string | undefined;
}

/** The report of a database with nothing to migrate (`memory:`). */
const nothing: MigrationReport = Object.freeze({ applied: [], pending: [], ran: [] });

/** The parsed `--database-url`; a bad one is a usage error whose message never repeats the URL. */
export function databaseSettingOf(url: string, cwd: string, name = "DATABASE_URL"): DatabaseSetting {
  return parseDatabaseUrl(url, cwd, name);
}

/** Runs the migrations of the database `setting` names, with the storage's own connection code. */
async function migrateSetting(
  setting: DatabaseSetting,
  options: Pick<RunMigrationsOptions, "schema" | "dryRun">,
): Promise<MigrationReport> {
  const dryRun = options.dryRun === true;
  switch (setting.kind) {
    case "memory":
      return nothing;
    case "sqlite": {
      if (!dryRun) mkdirSync(dirname(setting.path), { recursive: true });
      const { migrateSqlite } = await import("@modelreg/registry-server/storage/sqlite");
      return migrateSqlite({ path: setting.path, dryRun });
    }
    case "postgres": {
      const { migratePostgres } = await import("@modelreg/registry-server/storage/postgres");
      const schema = options.schema?.trim();
      return migratePostgres({
        connectionString: setting.connectionString,
        ...(schema ? { schema } : {}),
        dryRun,
      });
    }
    case "mysql": {
      const { migrateMysql } = await import("@modelreg/registry-server/storage/mysql");
      return migrateMysql({ uri: setting.uri, dryRun });
    }
  }
}

/**
 * The error a command reports for a schema that is not current (a storage
 * opened with `migrate: false`, or a database ahead of this build): a
 * conflict (exit 3) with the storage's message, which names the pending
 * migrations; a migration that failed names itself and the database's
 * reason (exit 7). Anything else is returned as is: connection failures
 * stay the storage's UNAVAILABLE (exit 4), whose message names the server
 * without credentials. `serve --no-migrate` reports its refusal with it.
 */
export function migrationError(error: unknown, where: string): unknown {
  if (error instanceof SchemaNotCurrentError) return new CliError(error.message, ExitCode.CONFLICT);
  if (error instanceof Error && /^schema migration /.test(error.message)) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return new CliError(`${error.message} on ${where}${cause}`, ExitCode.FAILURE, { cause: error });
  }
  return error;
}

/** {@link runMigrations} on a parsed setting, with errors as the CLI reports them. */
export async function migrateDatabase(
  setting: DatabaseSetting,
  options: Pick<RunMigrationsOptions, "schema" | "dryRun"> = {},
): Promise<MigrationReport> {
  try {
    return await migrateSetting(setting, options);
  } catch (error) {
    const reported = migrationError(error, setting.where);
    if (reported !== error || !(error instanceof Error) || error instanceof RegistryError) throw reported;
    // An option the storage refused (a schema name too long): what to fix is in its message.
    if (error instanceof TypeError) throw new CliUsageError(error.message.replace(/^\w+: /, ""));
    // The database's own refusal (an unknown database, a denied user): its message, never the URL.
    throw new CliError(`cannot migrate ${setting.where}: ${error.message}`, ExitCode.FAILURE, {
      cause: error,
    });
  }
}

/**
 * Brings the registry's database schema up to date, as `modelreg migrate`
 * does (with `dryRun`, only reports what is pending): for deployments that
 * start their servers with `--no-migrate`. Returns what was applied before,
 * what was pending, and what this call ran. Rejects with a `CliUsageError`
 * for a URL it does not know (the message never repeats the URL), a
 * `CliError` for a database ahead of this version or a failed migration,
 * and `RegistryError` UNAVAILABLE when the database cannot be reached.
 *
 * ```ts
 * import { runMigrations } from "@modelreg/cli";
 * const { ran } = await runMigrations({ databaseUrl: "postgres://registry@db/registry", schema: "modelreg" });
 * ```
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<MigrationReport> {
  const setting = databaseSettingOf(options.databaseUrl, options.cwd ?? process.cwd(), options.urlName);
  return migrateDatabase(setting, options);
}
