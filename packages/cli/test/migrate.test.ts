import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { mysqlUrl, postgresUrl, requireMysql, requirePostgres } from "../../../test-support/sql-servers";
import { migrationNames } from "../../registry-server/src/storage/sql/migrations";
import { runCli } from "../src/main";
import { runMigrations } from "../src/migrate/run";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-cli-migrate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The registry's migrations, in order, from the registry-server's own list (not from the code under test). */
const all = [...migrationNames];

/** Runs `modelreg ...argv` in process with captured output. */
async function modelreg(argv: string[], env: Record<string, string> = {}) {
  const capture = () => {
    const stream = new PassThrough();
    let text = "";
    stream.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
    });
    return { stream, text: () => text };
  };
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(argv, {
    stdin: new PassThrough(),
    stdout: stdout.stream,
    stderr: stderr.stream,
    env,
    cwd: tmp,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe("modelreg migrate (SQLite)", () => {
  it("--dry-run lists every pending migration and leaves a missing file missing", async () => {
    expect(all.length).toBeGreaterThan(0);
    // The function behind the command, on a missing file: the same list, nothing created.
    const probe = join(tmp, "probe.db");
    expect(await runMigrations({ databaseUrl: `sqlite:${probe}`, dryRun: true })).toEqual({
      applied: [],
      pending: all,
      ran: [],
    });
    expect(existsSync(probe)).toBe(false);
    const { code, stdout, stderr } = await modelreg([
      "migrate",
      "--dry-run",
      "--database-url",
      "sqlite:dry.db",
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const where = `sqlite:${join(tmp, "dry.db")}`;
    expect(stdout).toBe(
      `${all.length} pending migration(s) on ${where}:\n${all.map((name) => `  ${name}\n`).join("")}`,
    );
    expect(existsSync(join(tmp, "dry.db"))).toBe(false);
  });

  it("applies them (relative path from the working directory, folder created), then has nothing to do", async () => {
    const url = "sqlite:data/registry.db";
    const where = `sqlite:${join(tmp, "data/registry.db")}`;
    const first = await modelreg(["migrate", "--database-url", url]);
    expect(first).toEqual({
      code: 0,
      stdout: `applied ${all.length} migration(s) on ${where}:\n${all.map((name) => `  ${name}\n`).join("")}`,
      stderr: "",
    });
    const second = await modelreg(["migrate", "--database-url", url]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(
      `the schema of ${where} is up to date (${all.length} applied, nothing to do)\n`,
    );
    const dry = await modelreg(["migrate", "--dry-run", "--database-url", url]);
    expect(dry.stdout).toBe(`the schema of ${where} is up to date (${all.length} applied)\n`);
    // A storage told not to migrate now opens the file.
    const storage = await createSqliteStorage({ path: join(tmp, "data/registry.db"), migrate: false });
    await storage.close();
  });

  it("reads DATABASE_URL, and --json prints the report, naming the database", async () => {
    const env = { DATABASE_URL: "file:json.db" };
    const database = `sqlite:${join(tmp, "json.db")}`;
    const dry = await modelreg(["migrate", "--dry-run", "--json"], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ database, applied: [], pending: all, ran: [] });
    const applied = await modelreg(["migrate", "--json"], env);
    expect(JSON.parse(applied.stdout)).toEqual({ database, applied: [], pending: all, ran: all });
    expect(existsSync(join(tmp, "json.db"))).toBe(true);
    const again = await modelreg(["migrate", "--json"], env);
    expect(JSON.parse(again.stdout)).toEqual({ database, applied: all, pending: [], ran: [] });
  });

  it("takes its options from the config file's migrate section, below the environment", async () => {
    writeFileSync(join(tmp, "modelreg.yaml"), "migrate:\n  database-url: sqlite:from-config.db\n");
    const fromFile = await modelreg(["migrate", "--config", "modelreg.yaml", "--json"]);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout).ran).toEqual(all);
    expect(existsSync(join(tmp, "from-config.db"))).toBe(true);
    const env = { DATABASE_URL: "sqlite:from-env.db", MODELREG_CONFIG: "modelreg.yaml" };
    const fromEnv = await modelreg(["migrate", "--dry-run", "--json"], env);
    expect(JSON.parse(fromEnv.stdout).pending).toEqual(all);
    expect(JSON.parse(fromEnv.stdout).database).toBe(`sqlite:${join(tmp, "from-env.db")}`);
  });

  it("--help says the database comes from the config file's migrate: section, not serve:", async () => {
    const { code, stdout } = await modelreg(["migrate", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/`migrate:` section/);
    expect(stdout).toMatch(/not from `serve:`/);
  });

  it("a bad URL is a usage error (exit 1) that never repeats the URL and its password", async () => {
    const secret = "hunter2-secret";
    const flag = await modelreg(["migrate", "--database-url", `oracle://admin:${secret}@db:1521/x`]);
    expect(flag.code).toBe(1);
    expect(flag.stdout).toBe("");
    expect(flag.stderr).toMatch(/^modelreg: --database-url must be sqlite:PATH/);
    expect(flag.stderr).not.toContain(secret);
    const env = await modelreg(["migrate", "--json"], { DATABASE_URL: `redis://:${secret}@cache:6379` });
    expect(env.code).toBe(1);
    expect(env.stderr).not.toContain(secret);
    expect(JSON.parse(env.stderr).error.message).toMatch(/^DATABASE_URL must be sqlite:PATH/);
  });

  it("an unreachable database is exit 4, named without the password", async () => {
    const secret = "hunter2-secret";
    const { code, stderr } = await modelreg([
      "migrate",
      "--database-url",
      `postgres://registry:${secret}@127.0.0.1:1/registry`,
    ]);
    expect(code).toBe(4);
    expect(stderr).toMatch(/cannot connect to PostgreSQL at 127\.0\.0\.1:1\/registry/);
    expect(stderr).not.toContain(secret);
  });

  it("a MySQL URL that names no database is a usage error (exit 1) up front, in any mode", async () => {
    for (const argv of [["--dry-run"], []]) {
      const url = "mysql://root:hunter2-secret@127.0.0.1:1";
      const { code, stdout, stderr } = await modelreg(["migrate", ...argv, "--database-url", url]);
      expect({ code, stdout }).toEqual({ code: 1, stdout: "" });
      expect(stderr).toBe(
        "modelreg: --database-url needs a database name: mysql://user:pass@host:3306/DATABASE\n",
      );
    }
    const env = await modelreg(["migrate", "--json"], { DATABASE_URL: "mariadb://root@127.0.0.1:1/" });
    expect(env.code).toBe(1);
    expect(JSON.parse(env.stderr).error.message).toMatch(/^DATABASE_URL needs a database name/);
  });

  it("memory: has nothing to migrate, and says so", async () => {
    const { code, stdout } = await modelreg(["migrate", "--database-url", "memory:"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^memory: has nothing to migrate/);
  });
});

const postgresSuite = (await requirePostgres("migrate.test.ts")) ? describe : describe.skip;

postgresSuite("modelreg migrate (PostgreSQL)", () => {
  it("honours --database-schema: a dry run creates nothing, migrate fills that schema only", async () => {
    const schema = `modelreg_cli_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    const schemaExists = async () =>
      (await admin.query("select 1 from pg_namespace where nspname = $1", [schema])).rows.length > 0;
    try {
      const argv = ["migrate", "--database-url", postgresUrl, "--json"];
      const env = { DATABASE_SCHEMA: schema };
      const dry = await modelreg([...argv, "--dry-run"], env);
      expect(dry.code).toBe(0);
      // The database by scheme, host and path: no user, no password.
      const pgUrl = new URL(postgresUrl);
      const database = `${pgUrl.protocol}//${pgUrl.host}${pgUrl.pathname}`;
      expect(JSON.parse(dry.stdout)).toEqual({ database, applied: [], pending: all, ran: [] });
      expect(await schemaExists()).toBe(false);
      const applied = await modelreg(argv, env);
      expect(JSON.parse(applied.stdout)).toEqual({ database, applied: [], pending: all, ran: all });
      const { rows } = await admin.query(`select name from "${schema}".modelreg_migration order by name`);
      expect(rows.map((row) => row.name)).toEqual(all);
    } finally {
      await admin.query(`drop schema if exists "${schema}" cascade`);
      await admin.end();
    }
  }, 60_000);
});

const mysqlSuite = (await requireMysql("migrate.test.ts")) ? describe : describe.skip;

mysqlSuite("modelreg migrate (MariaDB/MySQL)", () => {
  it("a database that does not exist is exit 7 with the server's reason", async () => {
    const url = new URL(mysqlUrl);
    url.protocol = "mariadb:";
    const missing = `modelreg_missing_${randomBytes(4).toString("hex")}`;
    url.pathname = `/${missing}`;
    const { code, stderr } = await modelreg(["migrate", "--dry-run", "--database-url", url.toString()]);
    expect(code).toBe(7);
    expect(stderr).toMatch(
      new RegExp(`^modelreg: cannot migrate mysql://[^ ]*/${missing}: Unknown database '${missing}'`),
    );
  }, 60_000);

  it("a wrong password is exit 7 with the server's reason, and the password is never printed", async () => {
    const url = new URL(mysqlUrl);
    url.protocol = "mariadb:";
    url.password = "hunter2-secret";
    const { code, stderr } = await modelreg(["migrate", "--dry-run", "--database-url", url.toString()]);
    expect(code).toBe(7);
    expect(stderr).toMatch(/^modelreg: cannot migrate mysql:\/\/[^ ]*: Access denied/);
    expect(stderr).not.toContain("hunter2-secret");
  }, 60_000);
});

describe("modelreg migrate (the bin, as a child process)", () => {
  it("prints the pending migrations and exits 0", async () => {
    // From the repository's root, so that tsx resolves @modelreg/* through tsconfig paths to the sources.
    const root = join(import.meta.dirname, "../../..");
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", tsx, "packages/cli/src/bin.ts", "migrate", "--dry-run"],
      { cwd: root, env: { ...process.env, DATABASE_URL: `sqlite:${join(tmp, "bin.db")}` }, timeout: 60_000 },
    );
    expect(stdout).toBe(
      `${all.length} pending migration(s) on sqlite:${join(tmp, "bin.db")}:\n` +
        all.map((name) => `  ${name}\n`).join(""),
    );
    expect(existsSync(join(tmp, "bin.db"))).toBe(false);
  }, 90_000);
});
