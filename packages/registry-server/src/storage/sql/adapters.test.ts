import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@modelreg/proto";
import Database from "better-sqlite3";
import { Kysely, type Migration, Migrator, MysqlDialect, PostgresDialect, SqliteDialect, sql } from "kysely";
import { createPool as createMysqlPool } from "mysql2";
import { createConnection } from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  mysqlUrl,
  postgresUrl,
  requireMysql,
  requirePostgres,
} from "../../../../../test-support/sql-servers";
import type { FilterExpression } from "../../filter/ast";
import { makeModelRecord } from "../../testing/conformance";
import type { StorageAdapter } from "../adapter";
import { createMysqlStorage } from "../mysql";
import { createPostgresStorage } from "../postgres";
import { createSqliteStorage } from "../sqlite";
import { aliasPageQuery } from "./aliases";
import type { SqlDialectName, UntypedDb } from "./ddl";
import { createMigrations } from "./migration-list";
import type { RegistryDatabase } from "./schema";

const postgresAvailable = await requirePostgres("adapters.test.ts");
const mysqlAvailable = await requireMysql("adapters.test.ts");

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A new MySQL database named `prefix` and a random suffix, dropped after the file: its URI. */
async function freshMysqlDatabase(prefix: string): Promise<string> {
  const database = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = await createConnection({ uri: mysqlUrl });
  await admin.query(`create database \`${database}\` character set utf8mb4`);
  cleanups.push(async () => {
    await admin.query(`drop database if exists \`${database}\``);
    await admin.end();
  });
  const uri = new URL(mysqlUrl);
  uri.pathname = `/${database}`;
  return uri.toString();
}

/**
 * These tests are about locking and concurrency, not failing fast: a CI machine busy with browser tests
 * can keep the database from answering the circuit breaker's probe within its 750 ms default, which
 * (rightly) fails the calls in flight. The circuit has its own tests (mysql.test.ts, postgres.test.ts).
 */
const circuitBreaker = { probeTimeoutMs: 10_000 };

/** Fresh adapters of each database, dropped after the file. */
const fresh = {
  sqlite: async (): Promise<StorageAdapter> => {
    const dir = mkdtempSync(join(tmpdir(), "modelreg-sql-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return createSqliteStorage({ path: join(dir, "fresh.db") });
  },
  postgres: async (): Promise<StorageAdapter> => {
    const schema = `modelreg_sql_${randomBytes(6).toString("hex")}`;
    cleanups.push(async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    });
    return createPostgresStorage({ connectionString: postgresUrl, schema, circuitBreaker });
  },
  mysql: async (): Promise<StorageAdapter> =>
    createMysqlStorage({ uri: await freshMysqlDatabase("modelreg_sql"), circuitBreaker }),
};
const databases = [
  ["sqlite", true],
  ["postgres", postgresAvailable],
  ["mysql", mysqlAvailable],
] as const;

/** Migrates `db` to 0003 only: the schema a registry released before aliases and history left. */
async function migrateTo0003(db: UntypedDb, dialect: SqlDialectName, schema?: string): Promise<void> {
  const all = createMigrations(dialect);
  const migrations: Record<string, Migration> = {};
  for (const name of ["0001_models", "0002_changes", "0003_keyset_order_indexes"]) {
    const migration = all[name];
    if (!migration) throw new Error(`no migration ${name}`);
    migrations[name] = migration;
  }
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "modelreg_migration",
    migrationLockTableName: "modelreg_migration_lock",
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

/** An old model as 0003 stored it, created then updated: rows and change entries without the new fields. */
const oldModel = { id: "old-1", name: "legacy", version: "1", framework: "onnx", description: "" };
const oldJson = (revision: number, description: string, time: number) =>
  JSON.stringify({
    ...oldModel,
    description,
    tags: ["t"],
    metadata: {},
    artifactUri: "s3://a",
    revision,
    createTime: 1000,
    updateTime: time,
  });

async function seedOldRows(db: UntypedDb): Promise<void> {
  await db
    .insertInto("models")
    .values({
      ...oldModel,
      description: "second",
      artifact_uri: "s3://a",
      revision: 2,
      create_time: 1000,
      update_time: 2000,
      request_id: "old-request",
    })
    .execute();
  await db.insertInto("model_tags").values({ model_id: "old-1", tag: "t" }).execute();
  await db
    .insertInto("model_changes")
    .values([
      { revision: 1, type: "created", model_id: "old-1", model: oldJson(1, "", 1000), commit_time: 1000 },
      {
        revision: 2,
        type: "updated",
        model_id: "old-1",
        model: oldJson(2, "second", 2000),
        commit_time: 2000,
      },
    ])
    .execute();
  await db.updateTable("modelreg_state").set({ revision: 2 }).where("id", "=", 1).execute();
}

/** What an adapter opened on the seeded 0003 database must show once 0004 ran. */
async function expectUpgraded(adapter: StorageAdapter): Promise<void> {
  const model = await adapter.get("old-1");
  expect(model).toMatchObject({
    name: "legacy",
    tags: ["t"],
    artifactDigest: "",
    lineage: { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: [] },
  });
  if (!model) throw new Error("the old model is gone");
  // `name` was backfilled from the entries' JSON: the history by name finds them.
  const history = await adapter.listHistory({ name: "legacy", limit: 10 });
  expect(history.map((e) => [e.revision, e.type, e.actor, e.requestId])).toEqual([
    [2, "updated", "", ""],
    [1, "created", "", ""],
  ]);
  expect(history[0]?.before).toMatchObject({ revision: 1, artifactDigest: "", lineage: { datasetUris: [] } });
  // New writes go on from the old revisions and times, recorded with their actor.
  const next = { ...model, revision: 3, description: "third", updateTime: 3000 };
  expect(await adapter.replace(next, 2, { actor: "alice" })).toEqual({
    status: "ok",
    revision: expect.any(Number),
  });
  const set = await adapter.setAlias({ name: "legacy", alias: "prod", version: "1" }, { actor: "bob" });
  expect(set).toMatchObject({ status: "set", alias: { revision: 4, updatedBy: "bob", modelId: "old-1" } });
  const { changes } = await adapter.readChanges(2, 10);
  expect(changes.map((c) => [c.revision, c.type, c.actor])).toEqual([
    [3, "updated", "alice"],
    [4, "alias_set", "bob"],
  ]);
  expect(changes[0]?.commitTime).toBeGreaterThan(2000);
  expect(changes[1]?.commitTime).toBeGreaterThan(changes[0]?.commitTime ?? 0);
  expect(await adapter.delete("old-1")).toMatchObject({ status: "aliased" });
  // The old request id still replays.
  expect(await adapter.insert(makeModelRecord({ name: "other" }), "old-request")).toMatchObject({
    status: "requestIdUsed",
  });
}

describe("upgrading a 0003 database with rows to 0004", () => {
  it("sqlite: keeps the models and history, backfills names, and numbers on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelreg-upgrade-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "old.db");
    const old: UntypedDb = new Kysely({ dialect: new SqliteDialect({ database: new Database(path) }) });
    await migrateTo0003(old, "sqlite");
    await seedOldRows(old);
    await old.destroy();
    const adapter = await createSqliteStorage({ path });
    try {
      await expectUpgraded(adapter);
    } finally {
      await adapter.close();
    }
  });

  it.skipIf(!postgresAvailable)(
    "postgres: keeps the models and history, backfills names, and numbers on",
    async () => {
      const schema = `modelreg_upgrade_${randomBytes(6).toString("hex")}`;
      const pool = new pg.Pool({
        connectionString: postgresUrl,
        max: 2,
        options: `-c search_path=${schema}`,
      });
      pool.on("error", () => {});
      const old: UntypedDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
      cleanups.push(async () => {
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(old);
        await old.destroy();
      });
      await sql`create schema ${sql.id(schema)}`.execute(old);
      await migrateTo0003(old, "postgres", schema);
      await seedOldRows(old);
      const adapter = await createPostgresStorage({ connectionString: postgresUrl, schema });
      try {
        await expectUpgraded(adapter);
      } finally {
        await adapter.close();
      }
    },
  );

  it.skipIf(!mysqlAvailable)(
    "mysql: keeps the models and history, backfills names, and numbers on",
    async () => {
      const uri = await freshMysqlDatabase("modelreg_upgrade");
      const pool = createMysqlPool({ uri, connectionLimit: 2, charset: "utf8mb4" });
      const old: UntypedDb = new Kysely({ dialect: new MysqlDialect({ pool }) });
      cleanups.push(() => old.destroy());
      await migrateTo0003(old, "mysql");
      await seedOldRows(old);
      const adapter = await createMysqlStorage({ uri });
      try {
        await expectUpgraded(adapter);
      } finally {
        await adapter.close();
      }
    },
  );
});

describe.skipIf(!postgresAvailable)("postgres history indexes", () => {
  it("a history page by name, by alias, by model id, by type or refused reads an index, not the table, at 60 000 entries", async () => {
    const schema = `modelreg_explain_${randomBytes(6).toString("hex")}`;
    const adapter = await createPostgresStorage({ connectionString: postgresUrl, schema });
    await adapter.close();
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 1, options: `-c search_path=${schema}` });
    pool.on("error", () => {});
    cleanups.push(async () => {
      await pool.query(`drop schema if exists "${schema}" cascade`);
      await pool.end();
    });
    // 600 names with 100 entries each, alias entries every tenth, a refused one every thousandth.
    await pool.query(`
      insert into model_changes (revision, type, model_id, model, commit_time, actor, request_id, name, alias, refused)
      select g, case when g % 10 = 0 then 'alias_set' else 'updated' end, 'id-' || (g % 6000), '{}', g,
             'actor-' || (g % 7), '', 'name-' || (g % 600), case when g % 10 = 0 then 'prod' end,
             case when g % 1000 = 0 then 1 else 0 end
      from generate_series(1, 60000) g`);
    await pool.query("analyze model_changes");
    const plan = async (where: string, ...params: unknown[]) => {
      const { rows } = await pool.query<{ "QUERY PLAN": string }>(
        `explain select * from model_changes where ${where} order by revision desc limit 51`,
        params,
      );
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    };
    expect(await plan("name = $1", "name-5")).toMatch(/model_changes_name_idx/);
    expect(await plan("name = $1 and alias = $2", "name-10", "prod")).toMatch(/model_changes_alias_idx/);
    expect(await plan("model_id = $1", "id-5")).toMatch(/model_changes_model_id_idx/);
    expect(await plan("name = $1 and revision < $2", "name-5", 30000)).not.toMatch(/Seq Scan/);
    // The audit's "every alias move" and "every refusal" (no name): one index each, not the table.
    expect(await plan("type = $1", "alias_set")).toMatch(/model_changes_type_idx/);
    expect(await plan("refused = $1", 1)).toMatch(/model_changes_refused_idx/);
  });
});

describe.skipIf(!postgresAvailable)("postgres alias pages", () => {
  it("a page of every name's aliases past a cursor seeks the (name, alias) key to the cursor, at 60 000 aliases", async () => {
    const schema = `modelreg_explain_${randomBytes(6).toString("hex")}`;
    const adapter = await createPostgresStorage({ connectionString: postgresUrl, schema });
    await adapter.close();
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 1, options: `-c search_path=${schema}` });
    pool.on("error", () => {});
    const db = new Kysely<RegistryDatabase>({ dialect: new PostgresDialect({ pool }) });
    cleanups.push(async () => {
      await sql.raw(`drop schema if exists "${schema}" cascade`).execute(db);
      await db.destroy();
    });
    // 600 names with 100 aliases each, each at one version of its name.
    await sql`insert into models (id, name, version, framework, description, artifact_uri, revision, create_time, update_time)
      select 'id-' || g, 'name-' || lpad(g::text, 3, '0'), '1', 'onnx', '', '', g, g, g
      from generate_series(0, 599) g`.execute(db);
    await sql`insert into model_aliases (name, alias, version, model_id, revision, update_time, updated_by)
      select 'name-' || lpad((g % 600)::text, 3, '0'), 'a' || g, '1', 'id-' || (g % 600), g, g, 'x'
      from generate_series(0, 59999) g`.execute(db);
    await sql`analyze model_aliases`.execute(db);
    const page = aliasPageQuery(db, { after: { name: "name-550", alias: "a550" }, limit: 51 }).compile();
    const { rows } = await pool.query<{ "QUERY PLAN": string }>(`explain ${page.sql}`, [...page.parameters]);
    const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
    // The cursor bounds the key scan (an Index Cond on name), not a filter on every row before it.
    expect(plan).toMatch(/Index Cond: \(+name\)(::text)? >= /);
  });
});

describe.each(databases)("%s: a setAlias retried concurrently with one request id", (database, available) => {
  const RETRIES = 20;
  it.skipIf(!available)(
    `of ${RETRIES} concurrent retries of a create ("") one is set, the rest requestIdUsed, one entry`,
    async () => {
      const adapter = await fresh[database]();
      try {
        const model = makeModelRecord({ name: "bert", version: "1.0.0" });
        expect(await adapter.insert(model)).toEqual({ status: "created", revision: expect.any(Number) });
        const request = {
          name: "bert",
          alias: "champion",
          version: "1.0.0",
          expectedVersion: "",
          requestId: "r1",
        };
        const results = await Promise.all(Array.from({ length: RETRIES }, () => adapter.setAlias(request)));
        const statuses = results.map((r) => r.status).sort();
        expect(statuses).toEqual([...Array(RETRIES - 1).fill("requestIdUsed"), "set"]);
        const set = results.find((r) => r.status === "set");
        for (const r of results) if (r.status === "requestIdUsed") expect(r.alias).toEqual(set?.alias);
        const history = await adapter.listHistory({ name: "bert", types: ["alias_set"], limit: 100 });
        expect(history.map((e) => e.requestId)).toEqual(["r1"]);
      } finally {
        await adapter.close();
      }
    },
  );

  it.skipIf(!available)(
    `of ${RETRIES} concurrent retries of a move one is set, the rest requestIdUsed, one entry`,
    async () => {
      const adapter = await fresh[database]();
      try {
        for (const version of ["1.0.0", "2.0.0"]) {
          expect(await adapter.insert(makeModelRecord({ name: "bert", version }))).toEqual({
            status: "created",
            revision: expect.any(Number),
          });
        }
        expect(await adapter.setAlias({ name: "bert", alias: "champion", version: "1.0.0" })).toMatchObject({
          status: "set",
        });
        const request = {
          name: "bert",
          alias: "champion",
          version: "2.0.0",
          expectedVersion: "1.0.0",
          requestId: "r2",
        };
        const results = await Promise.all(Array.from({ length: RETRIES }, () => adapter.setAlias(request)));
        expect(results.map((r) => r.status).sort()).toEqual([
          ...Array(RETRIES - 1).fill("requestIdUsed"),
          "set",
        ]);
        const history = await adapter.listHistory({ name: "bert", types: ["alias_set"], limit: 100 });
        expect(history.map((e) => e.requestId)).toEqual(["r2", ""]);
      } finally {
        await adapter.close();
      }
    },
  );
});

describe.each(databases)("%s: lineage at its limits", (database, available) => {
  it.skipIf(!available)(
    "2048-character URIs (4-byte characters too) are stored exactly and found by a lineage filter",
    async () => {
      const adapter = await fresh[database]();
      try {
        // 2048 characters, the longest allowed: 8 KiB in utf8mb4, past MySQL's 3072-byte index key limit.
        const long = (prefix: string) =>
          `${prefix}${"😀".repeat(1000)}${"x".repeat(2048 - prefix.length - 1000)}`;
        const datasetUris = [long("s3://a/"), long("s3://b/")].sort();
        const runUri = long("https://runs/");
        expect([...runUri].length).toBe(2048);
        const parent = makeModelRecord({ name: "base" });
        const child = makeModelRecord({
          name: "tuned",
          lineage: { runUri, codeRevision: "v1", datasetUris, parentModelIds: [parent.id] },
        });
        expect(await adapter.insertMany([{ record: parent }, { record: child }])).toEqual([
          { status: "created", revision: expect.any(Number) },
          { status: "created", revision: expect.any(Number) },
        ]);
        expect(await adapter.get(child.id)).toEqual(child);
        const found = async (filter: FilterExpression) =>
          (await adapter.list({ filter, orderBy: [{ field: "name", descending: false }], limit: 10 })).map(
            (r) => r.name,
          );
        const has = (field: "dataset_uris" | "parent_model_ids", value: string): FilterExpression => ({
          kind: "hasLineage",
          field,
          value,
        });
        expect(await found(has("dataset_uris", datasetUris[1] ?? ""))).toEqual(["tuned"]);
        expect(await found(has("dataset_uris", `${datasetUris[1]}`.slice(0, -1)))).toEqual([]);
        expect(await found(has("parent_model_ids", parent.id))).toEqual(["tuned"]);
        expect(await found(has("dataset_uris", parent.id))).toEqual([]);
        const run: FilterExpression = {
          kind: "string",
          field: "lineage.run_uri",
          op: "=",
          value: runUri,
          prefix: false,
        };
        expect(await found(run)).toEqual(["tuned"]);
        expect(await found({ kind: "not", operand: run })).toEqual(["base"]);
      } finally {
        await adapter.close();
      }
    },
  );
});

describe.each(databases)(
  "%s: the promotion check runs outside the move's transaction",
  (database, available) => {
    const refusal = {
      code: "PERMISSION_DENIED",
      message: "needs the promoter role",
      reason: "PROMOTION_ROLE_REQUIRED",
      violations: [],
    } as const;

    /** A fresh adapter with bert 1.0.0 and 2.0.0, and bert@champion -> 1.0.0. */
    async function withChampion() {
      const adapter = await fresh[database]();
      const v1 = makeModelRecord({ name: "bert", version: "1.0.0" });
      const v2 = makeModelRecord({ name: "bert", version: "2.0.0" });
      expect(await adapter.insertMany([{ record: v1 }, { record: v2 }])).toEqual([
        { status: "created", revision: expect.any(Number) },
        { status: "created", revision: expect.any(Number) },
      ]);
      expect(await adapter.setAlias({ name: "bert", alias: "champion", version: "1.0.0" })).toMatchObject({
        status: "set",
      });
      return { adapter, v1, v2 };
    }

    it.skipIf(!available)(
      "a check that reads the same storage does not wait on the move (SQLite has one connection)",
      async () => {
        const { adapter, v2 } = await withChampion();
        try {
          const result = await adapter.setAlias({
            name: "bert",
            alias: "champion",
            version: "2.0.0",
            check: async (target) => {
              // Before this contract the check ran inside the move's transaction: this read never returned on SQLite.
              expect(await adapter.get(target.id)).toEqual(v2);
              expect((await adapter.getAlias("bert", "champion"))?.version).toBe("1.0.0");
              return undefined;
            },
          });
          expect(result).toMatchObject({ status: "set", alias: { version: "2.0.0" } });
          const deleted = await adapter.deleteAlias({
            name: "bert",
            alias: "champion",
            check: async (current) => {
              expect(await adapter.getAlias("bert", "champion")).toEqual(current);
              return undefined;
            },
          });
          expect(deleted).toMatchObject({ status: "deleted" });
        } finally {
          await adapter.close();
        }
      },
    );

    it.skipIf(!available)(
      "a target changed while the check ran is checked again, and the move commits against what the last check saw",
      async () => {
        const { adapter, v2 } = await withChampion();
        try {
          const seen: number[] = [];
          const result = await adapter.setAlias({
            name: "bert",
            alias: "champion",
            version: "2.0.0",
            check: async (target) => {
              seen.push(target.revision);
              if (seen.length === 1) {
                const edited = {
                  ...v2,
                  revision: 2,
                  description: "edited while checked",
                  updateTime: v2.updateTime + 1,
                };
                expect(await adapter.replace(edited, 1)).toEqual({
                  status: "ok",
                  revision: expect.any(Number),
                });
              }
              return undefined;
            },
          });
          expect(seen).toEqual([1, 2]);
          expect(result).toMatchObject({
            status: "set",
            target: { revision: 2, description: "edited while checked" },
          });
          const [entry] = await adapter.listHistory({ name: "bert", types: ["alias_set"], limit: 1 });
          expect(entry?.model.revision).toBe(2);
        } finally {
          await adapter.close();
        }
      },
    );

    it.skipIf(!available)(
      "an alias that keeps moving while the check runs fails ABORTED after a few rounds, having moved nothing of its own",
      async () => {
        const { adapter } = await withChampion();
        try {
          expect(await adapter.insert(makeModelRecord({ name: "bert", version: "3.0.0" }))).toEqual({
            status: "created",
            revision: expect.any(Number),
          });
          let rounds = 0;
          const versions = ["1.0.0", "3.0.0"];
          const failure = await adapter
            .setAlias({
              name: "bert",
              alias: "champion",
              version: "2.0.0",
              requestId: "req-contested",
              check: async () => {
                rounds++;
                // Someone else moves the alias each time the policy looks.
                const version = versions[rounds % 2] ?? "1.0.0";
                await adapter.setAlias({ name: "bert", alias: "champion", version });
                return undefined;
              },
            })
            .catch((error: unknown) => error);
          expect(failure).toMatchObject({ code: Code.ABORTED });
          expect(rounds).toBeGreaterThan(1);
          expect(rounds).toBeLessThanOrEqual(10);
          const entries = await adapter.listHistory({ name: "bert", types: ["alias_set"], limit: 100 });
          expect(entries.filter((e) => e.requestId === "req-contested")).toEqual([]);
        } finally {
          await adapter.close();
        }
      },
    );

    it.skipIf(!available)(
      "a forced delete refused by checkAliases records the refusal and deletes nothing",
      async () => {
        const { adapter, v1 } = await withChampion();
        try {
          const before = await adapter.readChanges(0, 100);
          const result = await adapter.delete(v1.id, undefined, {
            force: true,
            actor: "carol",
            checkAliases: (aliases) => {
              const [alias] = aliases;
              return alias && { alias, refusal };
            },
          });
          expect(result).toEqual({ status: "refused", refusal, revision: before.latestRevision + 1 });
          expect(await adapter.get(v1.id)).toEqual(v1);
          expect((await adapter.getAlias("bert", "champion"))?.version).toBe("1.0.0");
          const { changes } = await adapter.readChanges(before.latestRevision, 100);
          expect(changes).toMatchObject([
            { type: "alias_deleted", actor: "carol", refusal, alias: { alias: "champion" } },
          ]);
          // Allowed, it deletes the alias and then the model.
          expect(
            await adapter.delete(v1.id, undefined, { force: true, checkAliases: () => undefined }),
          ).toEqual({ status: "ok", revision: expect.any(Number) });
          expect(await adapter.getAlias("bert", "champion")).toBeUndefined();
        } finally {
          await adapter.close();
        }
      },
    );
  },
);

describe.skipIf(!mysqlAvailable)(
  "mysql: a move with a request id whose target is replaced while it waits",
  () => {
    it("records the target as committed (revision and children together), not the new revision with the old metadata", async () => {
      const uri = await freshMysqlDatabase("modelreg_sql");
      const adapter = await createMysqlStorage({ uri, circuitBreaker });
      const outside = await createConnection({ uri });
      try {
        const model = makeModelRecord({ name: "bert", version: "1.0.0", metadata: { eval: "pass" } });
        expect(await adapter.insert(model)).toEqual({ status: "created", revision: expect.any(Number) });
        // Another writer replaces the target and holds its row until the move is waiting for it.
        await outside.query("begin");
        await outside.query("update models set revision = 2 where id = ?", [model.id]);
        await outside.query("update model_metadata set value = 'fail' where model_id = ?", [model.id]);
        const move = adapter.setAlias({ name: "bert", alias: "champion", version: "1.0.0", requestId: "r1" });
        await new Promise((resolve) => setTimeout(resolve, 300));
        await outside.query("commit");
        const result = await move;
        expect(result.status).toBe("set");
        const { changes } = await adapter.readChanges(0, 10);
        const entry = changes.find((c) => c.type === "alias_set");
        expect({ revision: entry?.model.revision, metadata: entry?.model.metadata }).toEqual({
          revision: 2,
          metadata: { eval: "fail" },
        });
      } finally {
        await outside.end().catch(() => {});
        await adapter.close();
      }
    });
  },
);
