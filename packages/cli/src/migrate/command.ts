// `modelreg migrate [--dry-run]`: applies (or lists) the registry's pending schema migrations, for
// deployments whose servers start with `--no-migrate`.
import type { MigrationReport } from "@modelreg/registry-server";
import { type Command, Option } from "commander";
import type { CliIo, RegisterCommands } from "../context";
import { databaseSettingOf, migrateDatabase } from "./run";

/** The options of `modelreg migrate`, as commander parsed them. */
interface MigrateOptions {
  readonly databaseUrl: string;
  readonly databaseSchema?: string | undefined;
  readonly dryRun?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/**
 * What `modelreg migrate` prints for a report (without `--json`); `where` names the database (scheme,
 * host and path, never a password: `DatabaseSetting.where`).
 */
export function describeReport(report: MigrationReport, dryRun: boolean, where?: string): string {
  const list = (names: readonly string[]) => names.map((name) => `  ${name}\n`).join("");
  const schema = where === undefined ? "the schema" : `the schema of ${where}`;
  const on = where === undefined ? "" : ` on ${where}`;
  if (dryRun) {
    if (report.pending.length === 0) return `${schema} is up to date (${report.applied.length} applied)\n`;
    return `${report.pending.length} pending migration(s)${on}:\n${list(report.pending)}`;
  }
  if (report.ran.length === 0) {
    return `${schema} is up to date (${report.applied.length} applied, nothing to do)\n`;
  }
  return `applied ${report.ran.length} migration(s)${on}:\n${list(report.ran)}`;
}

async function runMigrate(command: Command, io: CliIo): Promise<void> {
  const options = command.optsWithGlobals<MigrateOptions>();
  const dryRun = options.dryRun === true;
  // A bad URL is reported under the name the user gave it by.
  const source = command.getOptionValueSource("databaseUrl");
  const name =
    source === "env" ? "DATABASE_URL" : source === "config" ? "database-url (config file)" : "--database-url";
  const setting = databaseSettingOf(options.databaseUrl, io.cwd, name);
  const report = await migrateDatabase(setting, { schema: options.databaseSchema, dryRun });
  if (options.json === true) {
    io.stdout.write(`${JSON.stringify({ database: setting.where, ...report })}\n`);
  } else if (setting.kind === "memory") {
    io.stdout.write("memory: has nothing to migrate (an in-memory registry starts empty every time)\n");
  } else {
    io.stdout.write(describeReport(report, dryRun, setting.where));
  }
}

/**
 * `modelreg migrate [--dry-run] [--database-url URL] [--database-schema NAME] [--json]`:
 * brings the database schema up to date, or with `--dry-run` lists the
 * pending migrations and changes nothing.
 */
export const registerMigrateCommand: RegisterCommands = (parent, io) => {
  const command = parent
    .command("migrate")
    .description(
      "apply the registry's pending database schema migrations (for servers started with --no-migrate)",
    )
    .addOption(new Option("--dry-run", "list the pending migrations and change nothing"))
    .addOption(
      new Option(
        "--database-url <url>",
        "sqlite:PATH, postgres://user:pass@host:5432/db or mysql://user:pass@host:3306/db",
      )
        .env("DATABASE_URL")
        .default("sqlite:./data/registry.db"),
    )
    .addOption(
      new Option(
        "--database-schema <schema>",
        "PostgreSQL only: the schema of the registry's tables (default: the search_path)",
      ).env("DATABASE_SCHEMA"),
    )
    .addOption(
      new Option("--json", "print the report as one JSON document {database, applied, pending, ran}"),
    )
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  $ modelreg migrate --dry-run                  # what a start would apply\n" +
        "  $ DATABASE_URL=postgres://registry@db/registry modelreg migrate\n" +
        "  $ modelreg serve --no-migrate                 # refuses to start on a schema not current\n\n" +
        "With --config FILE (or MODELREG_CONFIG), the database comes from the file's `migrate:` section\n" +
        "(database-url, database-schema), not from `serve:`. The output names the database it migrated\n" +
        "(scheme, host and path; never a password).\n" +
        "Safe to run while servers run and from several places at once: each migration runs once.",
    );
  command.action(async (_options: unknown, self: Command) => runMigrate(self, io));
};
