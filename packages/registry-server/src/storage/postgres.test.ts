import { randomBytes } from "node:crypto";
import { Code, RegistryError } from "@modelreg/proto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresUrl, requirePostgres } from "../../../../test-support/sql-servers";
import { closedPort, startTcpProxy } from "../../../../test-support/tcp-proxy";
import { until } from "../../../../test-support/waiting";
import {
  expectAbortWhileLockedCommitsNothing,
  expectEveryMethodUnavailable,
  expectUnavailable,
} from "../test-support/databases";
import { defineStorageConformanceSuite, makeModelRecord } from "../testing/conformance";
import type { StorageAdapter } from "./adapter";
import { createPostgresStorage } from "./postgres";
import { migrationNames } from "./sql/migrations";

const url = postgresUrl;

const available = await requirePostgres("postgres.test.ts");

const suite = available ? describe : describe.skip;

/** Schemas the tests made and have not dropped yet. */
const schemas = new Set<string>();
const schemaOf = new WeakMap<StorageAdapter, string>();
let admin: pg.Pool | undefined;

function adminPool(): pg.Pool {
  if (admin === undefined) {
    admin = new pg.Pool({ connectionString: url, max: 2 });
    admin.on("error", () => {});
  }
  return admin;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

function freshSchema(prefix = "modelreg_test_"): string {
  const name = `${prefix}${randomBytes(6).toString("hex")}`;
  schemas.add(name);
  return name;
}

async function dropSchema(name: string): Promise<void> {
  await adminPool().query(`drop schema if exists ${quote(name)} cascade`);
  schemas.delete(name);
}

afterAll(async () => {
  for (const name of [...schemas]) await dropSchema(name);
  await admin?.end();
});

/** The connection string with another port, or with query parameters added. */
function urlWith(changes: { port?: number; params?: Record<string, string> }): string {
  const changed = new URL(url);
  if (changes.port !== undefined) changed.port = String(changes.port);
  for (const [name, value] of Object.entries(changes.params ?? {})) changed.searchParams.set(name, value);
  return changed.toString();
}

defineStorageConformanceSuite({
  name: "postgres",
  describe: suite,
  it,
  createAdapter: async (settings) => {
    const schema = freshSchema();
    const adapter = await createPostgresStorage({ connectionString: url, schema, ...settings });
    schemaOf.set(adapter, schema);
    return adapter;
  },
  destroyAdapter: async (adapter) => {
    const schema = schemaOf.get(adapter);
    if (schema !== undefined) await dropSchema(schema);
  },
});

suite("postgres adapter", () => {
  it('gives every text column COLLATE "C" (code point order, whatever the database\'s collation)', async () => {
    const schema = freshSchema();
    const adapter = await createPostgresStorage({ connectionString: url, schema });
    await adapter.close();
    const { rows } = await adminPool().query<{
      table_name: string;
      column_name: string;
      collation_name: string;
    }>(
      // pg_catalog, not information_schema: its privilege checks on every schema fail while
      // another test's schema is being dropped.
      `select c.relname as table_name, a.attname as column_name, coll.collname as collation_name
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_collation coll on coll.oid = a.attcollation
       where n.nspname = $1 and c.relname in
         ('models', 'model_tags', 'model_metadata', 'model_lineage', 'model_aliases', 'model_changes')
         and a.attnum > 0 and not a.attisdropped
         and a.atttypid in ('varchar'::regtype, 'text'::regtype)
       order by c.relname, a.attname`,
      [schema],
    );
    // models 10, model_tags 2, model_metadata 3, model_lineage 4, model_aliases 5, model_changes 10.
    expect(rows.length).toBe(34);
    expect(rows.filter((r) => r.collation_name !== "C")).toEqual([]);
    await dropSchema(schema);
  });

  it("creates the schema if missing and keeps to it, even with a name that needs quoting", async () => {
    const schema = freshSchema('Model Reg "quoted" ');
    const adapter = await createPostgresStorage({
      connectionString: urlWith({ params: { application_name: "modelreg-quoting-test" } }),
      schema,
    });
    try {
      const record = makeModelRecord({ name: "in-a-quoted-schema" });
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      const { rows } = await adminPool().query<{ name: string }>(`select name from ${quote(schema)}.models`);
      expect(rows).toEqual([{ name: "in-a-quoted-schema" }]);
    } finally {
      await adapter.close();
      await dropSchema(schema);
    }
  });

  it("4 adapters starting together on a fresh schema all succeed and migrate once", async () => {
    const schema = freshSchema();
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => createPostgresStorage({ connectionString: url, schema })),
    );
    const adapters = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    try {
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const { rows } = await adminPool().query<{ name: string }>(
        `select name from ${quote(schema)}.modelreg_migration order by name`,
      );
      expect(rows.map((r) => r.name)).toEqual([...migrationNames]);
      // They share one database: a write through one is seen by the others.
      const [first, ...others] = adapters;
      const record = makeModelRecord();
      expect(await first?.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      for (const other of others) expect((await other.get(record.id))?.name).toBe(record.name);
    } finally {
      await Promise.all(adapters.map((a) => a.close()));
      await dropSchema(schema);
    }
  });

  it("rejects UNAVAILABLE when the server cannot be reached at start-up", async () => {
    const port = await closedPort();
    const started = createPostgresStorage({
      connectionString: urlWith({ port }),
      schema: "never_created",
      pool: { connectionTimeoutMs: 2000 },
    });
    await expectUnavailable(started, "createPostgresStorage on a closed port");
    await expect(started).rejects.toThrow(`cannot connect to PostgreSQL at 127.0.0.1:${port}`);
  });

  it("when the database goes away, every method rejects UNAVAILABLE and the process keeps running", async () => {
    const target = new URL(url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const schema = freshSchema();
    const adapter = await createPostgresStorage({
      connectionString: urlWith({ port: proxy.port }),
      schema,
      pool: { connectionTimeoutMs: 2000 },
    });
    try {
      const record = makeModelRecord({ tags: ["t"] });
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      await proxy.close(); // resets the pooled connections; the port is closed from now on
      await expectEveryMethodUnavailable(adapter, record);
    } finally {
      await proxy.close();
      await adapter.close();
      await dropSchema(schema);
    }
  });

  it("survives the server terminating its idle connections, and reconnects", async () => {
    const applicationName = `modelreg-terminate-${randomBytes(4).toString("hex")}`;
    const schema = freshSchema();
    const adapter = await createPostgresStorage({
      connectionString: urlWith({ params: { application_name: applicationName } }),
      schema,
    });
    try {
      const record = makeModelRecord();
      // Several connections in the pool, idle after this.
      await Promise.all(Array.from({ length: 4 }, () => adapter.get(record.id)));
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      const { rows } = await adminPool().query<{ terminated: boolean }>(
        "select pg_terminate_backend(pid) as terminated from pg_stat_activity where application_name = $1",
        [applicationName],
      );
      expect(rows.length).toBeGreaterThan(0);
      // Let the clients read the server's FATAL 57P01 and their sockets close.
      for (let i = 0; i < 50; i++) {
        const { rows: left } = await adminPool().query(
          "select 1 from pg_stat_activity where application_name = $1",
          [applicationName],
        );
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 100));
      expect((await adapter.get(record.id))?.name).toBe(record.name);
      await adapter.ping();
    } finally {
      await adapter.close();
      await dropSchema(schema);
    }
  });

  /** An adapter whose connections carry a unique application_name, so pg_stat_activity can find them. */
  async function tracedAdapter() {
    const applicationName = `modelreg-traced-${randomBytes(4).toString("hex")}`;
    const schema = freshSchema();
    const adapter = await createPostgresStorage({
      connectionString: urlWith({ params: { application_name: applicationName } }),
      schema,
    });
    /** The adapter's statements the server is running now that wait for a lock. */
    const waitingForLocks = async () =>
      (
        await adminPool().query(
          "select 1 from pg_stat_activity where application_name = $1 and state = 'active' and wait_event_type = 'Lock'",
          [applicationName],
        )
      ).rows.length;
    return { adapter, schema, waitingForLocks };
  }

  it("a call's deadline bounds its statements: the server cancels the query and the call fails DEADLINE_EXCEEDED", async () => {
    const { adapter, schema, waitingForLocks } = await tracedAdapter();
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    try {
      const record = makeModelRecord({ tags: ["t"] });
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      // Another session holds the table: without a time limit our statements would wait forever.
      await locker.query("begin");
      await locker.query(`lock table ${quote(schema)}.models in access exclusive mode`);

      for (const [what, call] of [
        ["get", () => adapter.get(record.id, { deadline: Date.now() + 300 })],
        ["replace", () => adapter.replace({ ...record, revision: 2 }, 1, { deadline: Date.now() + 300 })],
        ["list", () => adapter.list({ orderBy: [], limit: 5 }, { deadline: Date.now() + 300 })],
      ] as const) {
        const error = await call().catch((e: unknown) => e);
        expect(error, what).toBeInstanceOf(RegistryError);
        expect((error as RegistryError).code, what).toBe(Code.DEADLINE_EXCEEDED);
        expect(await waitingForLocks(), `${what}: no statement of ours is left waiting`).toBe(0);
      }
      // A deadline already past never reaches the database.
      await expect(adapter.get(record.id, { deadline: Date.now() - 1 })).rejects.toMatchObject({
        code: Code.DEADLINE_EXCEEDED,
      });

      // The limit ended with its transaction: a call without a deadline
      // waits for the lock as long as it takes (here ~700 ms, past 300).
      const waited = adapter.get(record.id);
      await until(async () => (await waitingForLocks()) === 1, "the read waits for the lock");
      await new Promise((r) => setTimeout(r, 700));
      await locker.query("rollback");
      expect((await waited)?.revision).toBe(1);
    } finally {
      await locker.end();
      await adapter.close();
      await dropSchema(schema);
    }
  });

  it("a write whose signal aborts while it waits for a row lock fails CANCELLED once the lock is freed, and commits nothing", async () => {
    const { adapter, schema, waitingForLocks } = await tracedAdapter();
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    try {
      await expectAbortWhileLockedCommitsNothing(adapter, {
        lock: async (id) => {
          await locker.query("begin");
          await locker.query(`select id from ${quote(schema)}.models where id = $1 for update`, [id]);
        },
        release: async () => {
          await locker.query("rollback");
        },
        waiting: waitingForLocks,
      });
    } finally {
      await locker.end();
      await adapter.close();
      await dropSchema(schema);
    }
  });

  it("a write that loses a deadlock is run again as a whole and succeeds", async () => {
    const { adapter, schema, waitingForLocks } = await tracedAdapter();
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const deadlocks = async () =>
      Number(
        (
          await adminPool().query<{ deadlocks: string }>(
            "select deadlocks from pg_stat_database where datname = current_database()",
          )
        ).rows[0]?.deadlocks,
      );
    try {
      const record = makeModelRecord({ tags: ["a", "b"], description: "before" });
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      const before = await deadlocks();
      // The other session: the adapter's session must be the one that finds
      // the deadlock (after the default deadlock_timeout of 1 s) and loses it.
      await other.query("set deadlock_timeout = '60s'");
      await other.query("begin");
      await other.query(`delete from ${quote(schema)}.model_tags where model_id = $1`, [record.id]);

      // Ours locks the model row, then waits for the tag rows the other holds...
      const replaced = adapter.replace({ ...record, revision: 2, description: "ours", tags: ["c"] }, 1);
      await until(async () => (await waitingForLocks()) === 1, "the replace waits for the tag rows");
      // ...and the other now waits for the model row: a deadlock. Ours is
      // rolled back, so the other's update goes through and it commits.
      await other.query(`update ${quote(schema)}.models set description = 'theirs' where id = $1`, [
        record.id,
      ]);
      await other.query("commit");

      expect(await replaced).toEqual({ status: "ok", revision: expect.any(Number) });
      const stored = await adapter.get(record.id);
      expect(stored).toMatchObject({ revision: 2, description: "ours", tags: ["c"] });
      await until(async () => (await deadlocks()) > before, "the server counts the deadlock");
    } finally {
      await other.end();
      await adapter.close();
      await dropSchema(schema);
    }
  });

  it("rejects bad options with a TypeError", async () => {
    await expect(createPostgresStorage({ connectionString: "" })).rejects.toThrow(TypeError);
    await expect(createPostgresStorage({ connectionString: url, schema: "" })).rejects.toThrow(TypeError);
    await expect(createPostgresStorage({ connectionString: url, schema: "x".repeat(64) })).rejects.toThrow(
      /63 bytes/,
    );
    for (const retainHistory of [0, 1.5, -1]) {
      await expect(createPostgresStorage({ connectionString: url, retainHistory })).rejects.toThrow(
        /retainHistory/,
      );
    }
  });
});
