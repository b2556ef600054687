import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { createPool as createMysqlPool, type RowDataPacket } from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  mysqlUrl,
  postgresUrl,
  requireMysql,
  requirePostgres,
} from "../../../../../test-support/sql-servers";
import { SchemaNotCurrentError as RootSchemaNotCurrentError } from "../../index";
import { makeModelRecord } from "../../testing/conformance";
import type { StorageAdapter } from "../adapter";
import { createMysqlStorage, migrateMysql } from "../mysql";
import { createPostgresStorage, migratePostgres } from "../postgres";
import { createSqliteStorage, migrateSqlite } from "../sqlite";
import { createMigrations } from "./migration-list";
import { type MigrationReport, migrationNames, SchemaNotCurrentError } from "./migrations";

/** One empty database of one dialect, and what the tests do with it. */
interface Target {
  migrate(dryRun: boolean): Promise<MigrationReport>;
  open(migrate: boolean | undefined): Promise<StorageAdapter>;
  /** How many tables the database (schema) holds. */
  tableCount(): Promise<number>;
  /** Records a migration this build does not know, as a newer registry would. */
  addUnknownMigration(name: string): Promise<void>;
}

interface Dialect {
  readonly name: string;
  readonly available: boolean;
  fresh(): Promise<Target>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const tmp = mkdtempSync(join(tmpdir(), "modelreg-migrate-"));
cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));

const sqlite: Dialect = {
  name: "sqlite",
  available: true,
  async fresh() {
    const path = join(tmp, `${randomBytes(6).toString("hex")}.db`);
    const query = <T>(run: (db: Database.Database) => T): T => {
      const db = new Database(path);
      try {
        return run(db);
      } finally {
        db.close();
      }
    };
    return {
      migrate: (dryRun) => migrateSqlite({ path, dryRun }),
      open: (migrate) => createSqliteStorage({ path, ...(migrate === undefined ? {} : { migrate }) }),
      tableCount: async () =>
        existsSync(path)
          ? query(
              (db) =>
                db.prepare("select count(*) as n from sqlite_master where type = 'table'").get() as {
                  n: number;
                },
            ).n
          : 0,
      addUnknownMigration: async (name) =>
        void query((db) =>
          db.prepare("insert into modelreg_migration (name, timestamp) values (?, ?)").run(name, "x"),
        ),
    };
  },
};

let pgAdmin: pg.Pool | undefined;
const pgQuote = (name: string) => `"${name.replaceAll('"', '""')}"`;

const postgres: Dialect = {
  name: "postgres",
  available: await requirePostgres("migrations.test.ts"),
  async fresh() {
    if (pgAdmin === undefined) {
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
      pool.on("error", () => {});
      pgAdmin = pool;
      cleanups.push(() => pool.end());
    }
    const admin = pgAdmin;
    const schema = `modelreg_test_${randomBytes(6).toString("hex")}`;
    cleanups.push(async () => void (await admin.query(`drop schema if exists ${pgQuote(schema)} cascade`)));
    const options = { connectionString: postgresUrl, schema };
    return {
      migrate: (dryRun) => migratePostgres({ ...options, dryRun }),
      open: (migrate) => createPostgresStorage({ ...options, ...(migrate === undefined ? {} : { migrate }) }),
      tableCount: async () =>
        Number(
          (await admin.query("select count(*) as n from pg_tables where schemaname = $1", [schema])).rows[0]
            .n,
        ),
      addUnknownMigration: async (name) =>
        void (await admin.query(
          `insert into ${pgQuote(schema)}.modelreg_migration (name, timestamp) values ($1, $2)`,
          [name, new Date().toISOString()],
        )),
    };
  },
};

let mysqlAdmin: ReturnType<typeof createMysqlPool> | undefined;

const mysql: Dialect = {
  name: "mariadb/mysql",
  available: await requireMysql("migrations.test.ts"),
  async fresh() {
    if (mysqlAdmin === undefined) {
      const pool = createMysqlPool({ uri: mysqlUrl, connectionLimit: 2 });
      mysqlAdmin = pool;
      cleanups.push(() => pool.end());
    }
    const admin = mysqlAdmin;
    const database = `modelreg_test_${randomBytes(6).toString("hex")}`;
    await admin.query(`create database \`${database}\` character set utf8mb4`);
    cleanups.push(async () => void (await admin.query(`drop database if exists \`${database}\``)));
    const url = new URL(mysqlUrl);
    url.pathname = `/${database}`;
    const uri = url.toString();
    return {
      migrate: (dryRun) => migrateMysql({ uri, dryRun }),
      open: (migrate) => createMysqlStorage({ uri, ...(migrate === undefined ? {} : { migrate }) }),
      tableCount: async () => {
        const [rows] = await admin.query<RowDataPacket[]>(
          "select count(*) as n from information_schema.tables where table_schema = ?",
          [database],
        );
        return Number(rows[0]?.n);
      },
      addUnknownMigration: async (name) =>
        void (await admin.query(
          `insert into \`${database}\`.modelreg_migration (name, timestamp) values (?, ?)`,
          [name, new Date().toISOString()],
        )),
    };
  },
};

/** Whether `open` rejects with a SchemaNotCurrentError naming `pending`. */
async function expectRefused(opening: Promise<unknown>, pending: readonly string[]): Promise<void> {
  const error = await opening.then(
    () => expect.fail("the storage opened"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SchemaNotCurrentError);
  expect(error).toBeInstanceOf(RootSchemaNotCurrentError);
  expect((error as SchemaNotCurrentError).pending).toEqual(pending);
  for (const name of pending) expect((error as Error).message).toContain(name);
  expect((error as Error).message).toContain("modelreg migrate");
}

for (const dialect of [sqlite, postgres, mysql]) {
  const suite = dialect.available ? describe : describe.skip;
  suite(`schema migrations on demand (${dialect.name})`, () => {
    it("a dry run on an empty database lists every migration and creates nothing", async () => {
      const target = await dialect.fresh();
      expect(await target.migrate(true)).toEqual({ applied: [], pending: migrationNames, ran: [] });
      expect(await target.tableCount()).toBe(0);
    }, 60_000);

    it("migrate applies them all, a second run applies none, and the storage then opens", async () => {
      const target = await dialect.fresh();
      expect(await target.migrate(false)).toEqual({
        applied: [],
        pending: migrationNames,
        ran: migrationNames,
      });
      expect(await target.tableCount()).toBeGreaterThan(0);
      const current = { applied: migrationNames, pending: [], ran: [] };
      expect(await target.migrate(false)).toEqual(current);
      expect(await target.migrate(true)).toEqual(current);
      // `migrate: false` on a current database opens and works.
      const storage = await target.open(false);
      try {
        const record = makeModelRecord({ name: "after-migrate" });
        expect(await storage.insert(record)).toMatchObject({ status: "created" });
        expect(await storage.get(record.id)).toEqual(record);
      } finally {
        await storage.close();
      }
    }, 60_000);

    it("`migrate: false` on an empty database refuses, naming the pending migrations, and creates nothing", async () => {
      const target = await dialect.fresh();
      await expectRefused(target.open(false), migrationNames);
      expect(await target.tableCount()).toBe(0);
      // Still pending: the refusal changed nothing.
      expect((await target.migrate(true)).pending).toEqual(migrationNames);
    }, 60_000);

    it("a database ahead of this build is refused by the storage (either mode) and by migrate", async () => {
      const target = await dialect.fresh();
      await target.migrate(false);
      await target.addUnknownMigration("9999_from_the_future");
      const attempts = [
        () => target.open(undefined),
        () => target.open(false),
        () => target.migrate(true),
        () => target.migrate(false),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(
          () => expect.fail("accepted a database ahead of this build"),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(SchemaNotCurrentError);
        expect((error as SchemaNotCurrentError).unknown).toEqual(["9999_from_the_future"]);
        expect((error as Error).message).toMatch(/ahead of this registry.*9999_from_the_future/);
      }
    }, 60_000);
  });
}

describe("schema migrations on demand (sqlite file)", () => {
  it("a dry run and `migrate: false` leave a missing database file missing", async () => {
    const path = join(tmp, "never-created.db");
    expect(await migrateSqlite({ path, dryRun: true })).toEqual({
      applied: [],
      pending: migrationNames,
      ran: [],
    });
    await expectRefused(createSqliteStorage({ path, migrate: false }), migrationNames);
    expect(existsSync(path)).toBe(false);
  });
});

describe("schema migrations on demand (an older registry's database)", () => {
  it("lists and applies only the migrations a database made by an older version lacks", async () => {
    const path = join(tmp, "older.db");
    const older = migrationNames.slice(0, -1);
    const db = new Kysely({ dialect: new SqliteDialect({ database: new Database(path) }) });
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => createMigrations("sqlite") },
      migrationTableName: "modelreg_migration",
      migrationLockTableName: "modelreg_migration_lock",
    });
    const { error } = await migrator.migrateTo(older.at(-1) ?? "");
    await db.destroy();
    expect(error).toBeUndefined();
    const latest = migrationNames.slice(-1);
    await expectRefused(createSqliteStorage({ path, migrate: false }), latest);
    expect(await migrateSqlite({ path, dryRun: true })).toEqual({ applied: older, pending: latest, ran: [] });
    expect(await migrateSqlite({ path })).toEqual({ applied: older, pending: latest, ran: latest });
    await (await createSqliteStorage({ path, migrate: false })).close();
  });
});

/** Every byte of every file in `dir`, by name: what "changes nothing" is checked against. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) files[name] = readFileSync(join(dir, name)).toString("hex");
  return files;
}

describe("schema migrations on demand (sqlite: a dry run and `migrate: false` write nothing)", () => {
  it("leave an existing rollback-journal database byte for byte as it was (no switch to WAL)", async () => {
    const dir = mkdtempSync(join(tmp, "journal-"));
    const path = join(dir, "shared.db");
    const other = new Database(path);
    other.pragma("journal_mode = DELETE");
    other.exec("create table notes (x text)");
    other.close();
    const before = snapshot(dir);
    expect(await migrateSqlite({ path, dryRun: true })).toEqual({
      applied: [],
      pending: migrationNames,
      ran: [],
    });
    await expectRefused(createSqliteStorage({ path, migrate: false }), migrationNames);
    expect(snapshot(dir)).toEqual(before);
    // Header byte 18: the file format's write version, 1 = rollback journal, 2 = WAL.
    expect(readFileSync(path)[18]).toBe(1);
  });

  it("leave a 0-byte file empty (no SQLite header written into it)", async () => {
    const dir = mkdtempSync(join(tmp, "empty-"));
    const path = join(dir, "empty.db");
    writeFileSync(path, "");
    expect((await migrateSqlite({ path, dryRun: true })).pending).toEqual(migrationNames);
    await expectRefused(createSqliteStorage({ path, migrate: false }), migrationNames);
    expect(snapshot(dir)).toEqual({ "empty.db": "" });
  });
});

/** The file's schema: every table, index and trigger's SQL, and the migrations recorded. */
function schemaOf(path: string): { sql: string[]; recorded: string[] } {
  const db = new Database(path, { readonly: true });
  try {
    const sql = db
      .prepare("select sql from sqlite_master where sql is not null order by name")
      .pluck()
      .all() as string[];
    const recorded = db
      .prepare("select name from modelreg_migration order by name")
      .pluck()
      .all() as string[];
    return { sql, recorded };
  } finally {
    db.close();
  }
}

/** A child process that migrates `path` with `migrateSqlite` when it reads a line, and prints the report. */
function migratingProcess(path: string): {
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<string>;
} {
  const module = resolve(import.meta.dirname, "../sqlite.ts");
  const script = `const { migrateSqlite } = await import(process.argv[1]);
console.log("ready");
await new Promise((go) => process.stdin.once("data", go));
try { console.log(JSON.stringify(await migrateSqlite({ path: process.argv[2] }))); }
catch (e) { console.log("FAILED " + e.message + " | " + e.cause?.message); }
process.exit(0);`;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", script, module, path],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  let out = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolveReady) => {
    markReady = resolveReady;
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith("ready\n")) markReady();
  });
  const done = new Promise<string>((resolveDone) =>
    child.on("close", () => resolveDone(out.replace(/^ready\n/, "").trim())),
  );
  return { child, ready, done };
}

describe("schema migrations on demand (sqlite: one writer at a time, all or nothing)", () => {
  it("several processes migrating one fresh file at once all succeed, each migration applied once", async () => {
    for (let round = 0; round < 2; round++) {
      const path = join(tmp, `concurrent-${round}.db`);
      const processes = [1, 2, 3].map(() => migratingProcess(path));
      await Promise.all(processes.map((p) => p.ready));
      for (const p of processes) p.child.stdin?.write("go\n");
      const outputs = await Promise.all(processes.map((p) => p.done));
      const reports = outputs.map((out) => {
        expect(out).not.toMatch(/FAILED/);
        return JSON.parse(out) as MigrationReport;
      });
      expect(reports.flatMap((r) => r.ran).sort()).toEqual([...migrationNames].sort());
      expect(schemaOf(path).recorded).toEqual([...migrationNames].sort());
    }
  }, 120_000);

  it("a migration that fails half-way leaves nothing of itself applied, and a later run succeeds", async () => {
    const path = join(tmp, "half-way.db");
    const older = migrationNames.slice(0, -1);
    const latest = migrationNames.slice(-1);
    const db = new Kysely({ dialect: new SqliteDialect({ database: new Database(path) }) });
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => createMigrations("sqlite") },
      migrationTableName: "modelreg_migration",
      migrationLockTableName: "modelreg_migration_lock",
    });
    expect((await migrator.migrateTo(older.at(-1) ?? "")).error).toBeUndefined();
    await db.destroy();
    // An index a DBA made by hand, with the name of one the last migration creates after other statements.
    const raw = new Database(path);
    raw.exec("create index model_changes_type_idx on model_changes (type)");
    raw.close();
    const before = schemaOf(path);
    await expect(migrateSqlite({ path })).rejects.toThrow(new RegExp(`schema migration ${latest[0]} failed`));
    expect(schemaOf(path)).toEqual(before);
    const fix = new Database(path);
    fix.exec("drop index model_changes_type_idx");
    fix.close();
    expect(await migrateSqlite({ path })).toEqual({ applied: older, pending: latest, ran: latest });
  }, 60_000);
});
