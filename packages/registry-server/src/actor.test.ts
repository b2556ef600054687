// The actor a write is recorded as, over a real gRPC server: a custom
// `authorize` hook may return a subject longer than the SQL databases'
// actor columns (varchar(512)); it is recorded cut to 512 characters (code
// points) ending in "…", on every storage, instead of failing the write.
import { randomBytes } from "node:crypto";
import type { HistoryEntry, Model, ModelAlias } from "@modelreg/proto";
import { createConnection } from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { mysqlUrl, postgresUrl, requireMysql, requirePostgres } from "../../../test-support/sql-servers";
import type { Authorize } from "./authorize";
import type { StorageAdapter } from "./storage/adapter";
import { createMysqlStorage } from "./storage/mysql";
import { createPostgresStorage } from "./storage/postgres";
import { startRegistry, storageFactories } from "./test-support/alias-registry";

const postgresAvailable = await requirePostgres("actor.test.ts");
const mysqlAvailable = await requireMysql("actor.test.ts");

const { adapters, cleanup } = storageFactories();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of cleanups.reverse()) await drop().catch(() => {});
  cleanup();
});

async function postgresStorage(): Promise<StorageAdapter> {
  const schema = `modelreg_actor_${randomBytes(6).toString("hex")}`;
  cleanups.push(async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });
  return createPostgresStorage({ connectionString: postgresUrl, schema });
}

async function mysqlStorage(): Promise<StorageAdapter> {
  const database = `modelreg_actor_${randomBytes(6).toString("hex")}`;
  const admin = await createConnection({ uri: mysqlUrl });
  await admin.query(`create database \`${database}\` character set utf8mb4`);
  cleanups.push(async () => {
    await admin.query(`drop database if exists \`${database}\``);
    await admin.end();
  });
  const uri = new URL(mysqlUrl);
  uri.pathname = `/${database}`;
  return createMysqlStorage({ uri: uri.toString() });
}

const storages: [string, () => Promise<StorageAdapter>][] = [...adapters];
if (postgresAvailable) storages.push(["postgres", postgresStorage]);
if (mysqlAvailable) storages.push(["mysql", mysqlStorage]);

/** Subjects of 4-byte characters (two UTF-16 code units each), chosen per call by the `x-who` header. */
const subjects: Record<string, string> = {
  long: `svc:${"😀".repeat(600)}`,
  exact: `svc:${"😀".repeat(508)}`,
};
/** The long subject as recorded: its first 511 code points and "…", 512 in all. */
const recorded = `svc:${"😀".repeat(507)}…`;

const authorize: Authorize = ({ metadata }) => ({
  subject: subjects[String(metadata.get("x-who")[0])] ?? "nobody",
  roles: ["admin"],
});

describe.each(storages)("the recorded actor over gRPC, %s storage", (_name, createStorage) => {
  it("cuts a subject longer than 512 characters to 511 and …, and keeps one of 512 whole", async () => {
    const storage = await createStorage();
    const registry = await startRegistry(storage, { authorize });
    try {
      const { call } = registry.client;
      const long = { "x-who": "long" };
      const { model } = await call<{ model: Model }>(
        "CreateModel",
        { model: { name: "actors", version: "1" } },
        long,
      );
      const { alias } = await call<{ alias: ModelAlias }>(
        "SetModelAlias",
        { name: "actors", alias: "champion", version: "1" },
        long,
      );
      expect([...recorded]).toHaveLength(512);
      expect(alias.updatedBy).toBe(recorded);
      await call("AddModelTags", { id: model.id, tags: ["reviewed"] }, { "x-who": "exact" });

      const { entries } = await call<{ entries: HistoryEntry[] }>("ListModelHistory", { name: "actors" });
      expect(entries.map((e) => e.actor)).toEqual([subjects.exact, recorded, recorded]);
      const mine = await call<{ entries: HistoryEntry[] }>("ListModelHistory", {
        name: "actors",
        filter: `actor = "${recorded}"`,
      });
      expect(mine.entries).toHaveLength(2);
    } finally {
      await registry.close();
      await storage.close();
    }
  });
});
