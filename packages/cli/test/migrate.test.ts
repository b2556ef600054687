import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/main";
import { runMigrations } from "../src/migrate/run";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-cli-migrate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The registry's migrations, in order, as this build knows them (a dry run on a missing file lists them). */
const all = (await runMigrations({ databaseUrl: `sqlite:${join(tmp, "probe.db")}`, dryRun: true })).pending;

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
    const { code, stdout, stderr } = await modelreg([
      "migrate",
      "--dry-run",
      "--database-url",
      "sqlite:dry.db",
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toBe(`${all.length} pending migration(s):\n${all.map((name) => `  ${name}\n`).join("")}`);
    expect(existsSync(join(tmp, "dry.db"))).toBe(false);
  });

  it("applies them (relative path from the working directory, folder created), then has nothing to do", async () => {
    const url = "sqlite:data/registry.db";
    const first = await modelreg(["migrate", "--database-url", url]);
    expect(first).toEqual({
      code: 0,
      stdout: `applied ${all.length} migration(s):\n${all.map((name) => `  ${name}\n`).join("")}`,
      stderr: "",
    });
    const second = await modelreg(["migrate", "--database-url", url]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`the schema is up to date (${all.length} applied, nothing to do)\n`);
    const dry = await modelreg(["migrate", "--dry-run", "--database-url", url]);
    expect(dry.stdout).toBe(`the schema is up to date (${all.length} applied)\n`);
    // A storage told not to migrate now opens the file.
    const storage = await createSqliteStorage({ path: join(tmp, "data/registry.db"), migrate: false });
    await storage.close();
  });

  it("reads DATABASE_URL, and --json prints the report", async () => {
    const env = { DATABASE_URL: "file:json.db" };
    const dry = await modelreg(["migrate", "--dry-run", "--json"], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ applied: [], pending: all, ran: [] });
    const applied = await modelreg(["migrate", "--json"], env);
    expect(JSON.parse(applied.stdout)).toEqual({ applied: [], pending: all, ran: all });
    expect(existsSync(join(tmp, "json.db"))).toBe(true);
    const again = await modelreg(["migrate", "--json"], env);
    expect(JSON.parse(again.stdout)).toEqual({ applied: all, pending: [], ran: [] });
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
    expect(JSON.parse(env.stderr).error.message).toMatch(/must be sqlite:PATH/);
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

  it("memory: has nothing to migrate, and says so", async () => {
    const { code, stdout } = await modelreg(["migrate", "--database-url", "memory:"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^memory: has nothing to migrate/);
  });
});
