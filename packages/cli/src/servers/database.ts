// DATABASE_URL: which storage the registry uses. Shared by `modelreg serve` and `modelreg migrate`
// (one parser, one place that opens a database).
import { accessSync, constants, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { StorageAdapter } from "@modelreg/registry-server";
import { ConfigError } from "./options";

/** A `--database-url` value (or `DATABASE_URL`) that is not one the registry can use: a usage error (exit 1). */
export class DatabaseUrlError extends ConfigError {
  override readonly name: string = "DatabaseUrlError";
}

/**
 * The storage a database URL names: `memory:`; `sqlite:PATH` or `file:PATH`
 * (a SQLite file, relative paths from the working directory); `postgres://`
 * or `postgresql://`; `mysql://` or `mariadb://`. `where` is what a log line
 * may show: never the password.
 */
export type DatabaseSetting =
  | { readonly kind: "memory"; readonly where: "memory:" }
  | { readonly kind: "sqlite"; readonly path: string; readonly where: string }
  | { readonly kind: "postgres"; readonly connectionString: string; readonly where: string }
  | { readonly kind: "mysql"; readonly uri: string; readonly where: string };

/** The URL without its credentials, query and fragment: scheme, host and path. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(not a valid URL)";
  }
}

/** The URL's path (`""` or `/` when it names no database), `undefined` when it does not parse. */
function pathOf(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}

/** The URL's query parameters, none when it does not parse. */
function queryOf(url: string): URLSearchParams {
  try {
    return new URL(url).searchParams;
  } catch {
    return new URLSearchParams();
  }
}

/**
 * The PostgreSQL driver reads the files of `sslrootcert`, `sslcert` and
 * `sslkey` when it connects: one it cannot read is said here, naming the parameter.
 */
function checkPostgresFiles(url: string, name: string): void {
  const query = queryOf(url);
  for (const parameter of ["sslrootcert", "sslcert", "sslkey"]) {
    const file = query.get(parameter);
    if (!file) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
      throw new DatabaseUrlError(`${name}: ${parameter}: cannot read ${file} (${reason})`);
    }
  }
}

/**
 * The MySQL driver takes `ssl` as a JSON object of TLS options
 * (`?ssl={"rejectUnauthorized":true}`) or the name of one of its profiles.
 */
function checkMysqlSsl(url: string, name: string): void {
  const ssl = queryOf(url).get("ssl");
  if (ssl === null) return;
  let value: unknown = ssl;
  try {
    value = JSON.parse(ssl);
  } catch {
    // a plain string: a profile name
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return;
  if (value === "Amazon RDS") return;
  throw new DatabaseUrlError(
    `${name}: the ssl parameter must be a JSON object of TLS options, e.g. ssl={"rejectUnauthorized":true}`,
  );
}

/**
 * Parses a database URL (`--database-url`, `DATABASE_URL`). Relative SQLite
 * paths are resolved from `cwd`. Throws {@link DatabaseUrlError}, whose
 * message never repeats the URL (it may hold a password); `name` is the
 * flag or variable the message names.
 */
export function parseDatabaseUrl(
  url: string,
  cwd: string = process.cwd(),
  name = "DATABASE_URL",
): DatabaseSetting {
  const value = url.trim();
  if (value === "memory:") return { kind: "memory", where: "memory:" };
  const sqlite = /^(?:sqlite|file):(.+)$/.exec(value);
  if (sqlite?.[1]) {
    const path = resolve(cwd, sqlite[1]);
    return { kind: "sqlite", path, where: `sqlite:${path}` };
  }
  if (/^postgres(?:ql)?:\/\/./.test(value)) {
    checkPostgresFiles(value, name);
    return { kind: "postgres", connectionString: value, where: shown(value) };
  }
  if (/^(?:mysql|mariadb):\/\/./.test(value)) {
    const uri = value.replace(/^mariadb:/, "mysql:");
    // Without one, MySQL has no database selected: every query fails (a usage error, said up front).
    if (/^\/?$/.test(pathOf(uri) ?? "x")) {
      throw new DatabaseUrlError(`${name} needs a database name: mysql://user:pass@host:3306/DATABASE`);
    }
    checkMysqlSsl(uri, name);
    return { kind: "mysql", uri, where: shown(uri) };
  }
  // Never echo the URL: it may hold a password.
  throw new DatabaseUrlError(`${name} must be sqlite:PATH, memory:, postgres://... or mysql://...`);
}

/** How {@link openStorage} opens a database. */
export interface OpenStorageOptions {
  /** The PostgreSQL schema (`--database-schema`, `DATABASE_SCHEMA`); default: the search_path. */
  readonly schema?: string | undefined;
  /** How many of the latest history entries are always kept (`--retain-history`); default: all. */
  readonly retainHistory?: number | undefined;
  /**
   * `false`: do not apply pending migrations; a database that is not current is refused
   * (`modelreg serve --no-migrate`). Default: migrate on open.
   */
  readonly migrate?: boolean | undefined;
}

/**
 * Opens the storage `setting` names (creating a SQLite file's directory,
 * unless `migrate` is false).
 * The database drivers are loaded only for the kind used.
 */
export async function openStorage(
  setting: DatabaseSetting,
  options: OpenStorageOptions = {},
): Promise<StorageAdapter> {
  const retention = options.retainHistory === undefined ? {} : { retainHistory: options.retainHistory };
  const migrate = options.migrate === false ? { migrate: false as const } : {};
  switch (setting.kind) {
    case "memory": {
      const { createMemoryStorage } = await import("@modelreg/registry-server");
      return createMemoryStorage(retention);
    }
    case "sqlite": {
      // Not when told not to migrate: a missing file is then refused, and nothing is created for it.
      if (options.migrate !== false) mkdirSync(dirname(setting.path), { recursive: true });
      const { createSqliteStorage } = await import("@modelreg/registry-server/storage/sqlite");
      return createSqliteStorage({ path: setting.path, ...retention, ...migrate });
    }
    case "postgres": {
      const { createPostgresStorage } = await import("@modelreg/registry-server/storage/postgres");
      const schema = options.schema?.trim() ? { schema: options.schema.trim() } : {};
      return createPostgresStorage({
        connectionString: setting.connectionString,
        ...schema,
        ...retention,
        ...migrate,
      });
    }
    case "mysql": {
      const { createMysqlStorage } = await import("@modelreg/registry-server/storage/mysql");
      return createMysqlStorage({ uri: setting.uri, ...retention, ...migrate });
    }
  }
}
