import { randomBytes } from "node:crypto";
import { Code, RegistryError } from "@modelreg/proto";
import { createConnection, createPool, type Pool, type RowDataPacket } from "mysql2/promise";
import { afterAll, describe, expect, it } from "vitest";
import { mysqlUrl, requireMysql } from "../../../../test-support/sql-servers";
import { closedPort, startTcpProxy } from "../../../../test-support/tcp-proxy";
import { until } from "../../../../test-support/waiting";
import {
  expectAbortWhileLockedCommitsNothing,
  expectEveryMethodUnavailable,
  expectUnavailable,
} from "../test-support/databases";
import { defineStorageConformanceSuite, makeModelRecord } from "../testing/conformance";
import type { StorageAdapter } from "./adapter";
import { createMysqlStorage } from "./mysql";
import { migrationNames } from "./sql/migrations";

const url = mysqlUrl;

const available = await requireMysql("mysql.test.ts");

const suite = available ? describe : describe.skip;

/** Databases the tests made and have not dropped yet. */
const databases = new Set<string>();
const databaseOf = new WeakMap<StorageAdapter, string>();
let admin: Pool | undefined;

function adminPool(): Pool {
  admin ??= createPool({ uri: url, connectionLimit: 2, charset: "utf8mb4" });
  return admin;
}

/**
 * A new, empty database. Its default collation is deliberately a
 * case-insensitive, PAD SPACE one: the adapter's columns must not depend on it.
 */
async function freshDatabase(): Promise<string> {
  const name = `modelreg_test_${randomBytes(6).toString("hex")}`;
  databases.add(name);
  await adminPool().query(`create database \`${name}\` character set utf8mb4 collate utf8mb4_general_ci`);
  return name;
}

async function dropDatabase(name: string): Promise<void> {
  await adminPool().query(`drop database if exists \`${name}\``);
  databases.delete(name);
}

afterAll(async () => {
  for (const name of [...databases]) await dropDatabase(name);
  await admin?.end();
});

/** The URI with another database and/or port. */
function uriWith(changes: { database?: string; port?: number }): string {
  const changed = new URL(url);
  if (changes.database !== undefined) changed.pathname = `/${changes.database}`;
  if (changes.port !== undefined) changed.port = String(changes.port);
  return changed.toString();
}

defineStorageConformanceSuite({
  name: "mysql",
  describe: suite,
  it,
  createAdapter: async (settings) => {
    const database = await freshDatabase();
    const adapter = await createMysqlStorage({ uri: uriWith({ database }), ...settings });
    databaseOf.set(adapter, database);
    return adapter;
  },
  destroyAdapter: async (adapter) => {
    const database = databaseOf.get(adapter);
    if (database !== undefined) await dropDatabase(database);
  },
});

suite("mysql adapter", () => {
  it("stores 4-byte UTF-8 (emoji, astral symbols) exactly, as utf8mb4 bytes", async () => {
    const database = await freshDatabase();
    const adapter = await createMysqlStorage({ uri: uriWith({ database }) });
    try {
      const record = makeModelRecord({
        name: "emoji-😀",
        version: "𝟙.0",
        framework: "🔥torch",
        description: "👩‍👩‍👧 𝄞 \u{10FFFF} 🎉",
        tags: ["𝄞", "😀"], // sorted by code point: U+1D11E < U+1F600
        metadata: { "😀": "🎉🎉", note: "😀 ok" },
        artifactUri: "s3://bücket/😀/model.onnx",
      });
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      expect(await adapter.get(record.id)).toEqual(record);
      expect(await adapter.getByNameVersion("emoji-😀", "𝟙.0")).toEqual(record);
      const [rows] = await adminPool().query<RowDataPacket[]>(
        `select hex(name) as name, hex(description) as description from \`${database}\`.models`,
      );
      const hex = (s: string) => Buffer.from(s, "utf8").toString("hex").toUpperCase();
      expect(rows[0]).toEqual({ name: hex(record.name), description: hex(record.description) });
    } finally {
      await adapter.close();
      await dropDatabase(database);
    }
  });

  it("gives every text column a NO PAD binary utf8mb4 collation, whatever the database's default", async () => {
    const database = await freshDatabase();
    const adapter = await createMysqlStorage({ uri: uriWith({ database }) });
    await adapter.close();
    const [rows] = await adminPool().query<RowDataPacket[]>(
      `select table_name as t, column_name as c, collation_name as collation from information_schema.columns
       where table_schema = ? and table_name in
         ('models', 'model_tags', 'model_metadata', 'model_lineage', 'model_aliases', 'model_changes')
         and data_type in ('varchar', 'text', 'longtext')`,
      [database],
    );
    // models 10, model_tags 2, model_metadata 3, model_lineage 4, model_aliases 5, model_changes 10.
    expect(rows.length).toBe(34);
    // utf8mb4_bin would be PAD SPACE ('a' = 'a '); these two are NO PAD.
    expect(rows.filter((r) => !/^utf8mb4_(nopad|0900)_bin$/.test(r.collation))).toEqual([]);
    await dropDatabase(database);
  });

  it("4 adapters starting together on a fresh database all succeed and migrate once", async () => {
    const database = await freshDatabase();
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => createMysqlStorage({ uri: uriWith({ database }) })),
    );
    const adapters = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    try {
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const [rows] = await adminPool().query<RowDataPacket[]>(
        `select name from \`${database}\`.modelreg_migration order by name`,
      );
      expect(rows.map((r) => r.name)).toEqual([...migrationNames]);
    } finally {
      await Promise.all(adapters.map((a) => a.close()));
      await dropDatabase(database);
    }
  });

  it("rejects UNAVAILABLE when the server cannot be reached at start-up", async () => {
    const port = await closedPort();
    const started = createMysqlStorage({ uri: uriWith({ port }) });
    await expectUnavailable(started, "createMysqlStorage on a closed port");
    await expect(started).rejects.toThrow(`cannot connect to MySQL at 127.0.0.1:${port}`);
  });

  it("when the database goes away, every method rejects UNAVAILABLE and the process keeps running", async () => {
    const database = await freshDatabase();
    const target = new URL(url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 3306) });
    const adapter = await createMysqlStorage({ uri: uriWith({ database, port: proxy.port }) });
    try {
      const record = makeModelRecord({ tags: ["t"] });
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      await proxy.close(); // resets the pooled connections; the port is closed from now on
      await expectEveryMethodUnavailable(adapter, record);
    } finally {
      await proxy.close();
      await adapter.close();
      await dropDatabase(database);
    }
  });

  /** A fresh database and an adapter that reaches it through a TCP proxy the test can partition (fast probes). */
  async function behindProxy() {
    const database = await freshDatabase();
    const target = new URL(url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 3306) });
    const adapter = await createMysqlStorage({
      uri: uriWith({ database, port: proxy.port }),
      circuitBreaker: { probeTimeoutMs: 150, retryIntervalMs: 20 },
    });
    return { database, proxy, adapter };
  }

  it("in a silent partition, each timed-out probe's connection is really dropped, and close() does not hang", async () => {
    const { database, proxy, adapter } = await behindProxy();
    try {
      await adapter.ping();
      proxy.partition();
      await expect(adapter.ping()).rejects.toThrow();
      // This process's TCP sockets besides the proxy's client-facing ones
      // (those stay half-open at the proxy, holding back the FIN they got).
      const clientSockets = () =>
        process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length - proxy.open();
      const before = clientSockets();
      // Probes go on every ~170 ms (timeout + retry interval) while the circuit is open.
      const accepted = proxy.accepted();
      await until(() => proxy.accepted() >= accepted + 6, "six more probes connected", { timeoutMs: 5000 });
      // A timed-out probe's socket is destroyed: not one more open socket per probe.
      expect(clientSockets() - before, "sockets left open by six timed-out probes").toBeLessThanOrEqual(1);
      const closing = adapter.close();
      const outcome = await Promise.race([
        closing.then(() => "closed"),
        new Promise((r) => setTimeout(() => r("hung"), 3000)),
      ]);
      expect(outcome, "close() while still partitioned").toBe("closed");
    } finally {
      proxy.heal();
      await proxy.close();
      await adapter.close().catch(() => {});
      await dropDatabase(database);
    }
  });

  it("close() resolves right after a partition opened the circuit with calls in flight", async () => {
    const { database, proxy, adapter } = await behindProxy();
    try {
      const record = makeModelRecord();
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      proxy.partition();
      // The circuit opens under these calls: they fail at once and their connections are dropped,
      // which mysql2 learns of only later. close() must not report those connections as an error.
      const calls = await Promise.allSettled(Array.from({ length: 4 }, () => adapter.get(record.id)));
      expect(
        calls.map((c) => (c.status === "rejected" ? (c.reason as RegistryError).code : c.status)),
      ).toEqual(Array(4).fill(Code.UNAVAILABLE));
      await expect(adapter.close()).resolves.toBeUndefined();
    } finally {
      proxy.heal();
      await proxy.close();
      await adapter.close().catch(() => {});
      await dropDatabase(database);
    }
  });

  it("survives the server killing its idle connections, and reconnects", async () => {
    const database = await freshDatabase();
    const adapter = await createMysqlStorage({ uri: uriWith({ database }) });
    try {
      const record = makeModelRecord();
      await Promise.all(Array.from({ length: 4 }, () => adapter.get(record.id)));
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      const [connections] = await adminPool().query<RowDataPacket[]>(
        "select id from information_schema.processlist where db = ?",
        [database],
      );
      expect(connections.length).toBeGreaterThan(0);
      for (const { id } of connections) await adminPool().query(`kill connection ${Number(id)}`);
      await new Promise((r) => setTimeout(r, 200));
      // A killed connection may fail the first call that picks it: that one is UNAVAILABLE, never a crash.
      const first = await adapter.get(record.id).catch((e: unknown) => e);
      if (first instanceof Error) expect((first as RegistryError).code).toBe(Code.UNAVAILABLE);
      expect((await adapter.get(record.id))?.name).toBe(record.name);
      await adapter.ping();
    } finally {
      await adapter.close();
      await dropDatabase(database);
    }
  });

  /** Statements of `database`'s connections the server is running now (the admin's own never use it). */
  const running = async (database: string) =>
    (
      await adminPool().query<RowDataPacket[]>(
        "select id from information_schema.processlist where db = ? and command = 'Query'",
        [database],
      )
    )[0].length;

  it("a call's deadline bounds its statements: the server cancels the query and the call fails DEADLINE_EXCEEDED", async () => {
    const database = await freshDatabase();
    const adapter = await createMysqlStorage({ uri: uriWith({ database }) });
    const locker = await createConnection({ uri: url, charset: "utf8mb4" });
    try {
      const record = makeModelRecord({ tags: ["t"] });
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      // Another session holds the model's row: our writes would wait for
      // innodb_lock_wait_timeout (50 s) without a limit of their own.
      await locker.query("begin");
      await locker.query(`select id from \`${database}\`.models where id = ? for update`, [record.id]);

      for (const [what, call] of [
        ["replace", () => adapter.replace({ ...record, revision: 2 }, 1, { deadline: Date.now() + 300 })],
        ["delete", () => adapter.delete(record.id, 1, { deadline: Date.now() + 300 })],
      ] as const) {
        const started = Date.now();
        const error = await call().catch((e: unknown) => e);
        expect(error, what).toBeInstanceOf(RegistryError);
        expect((error as RegistryError).code, what).toBe(Code.DEADLINE_EXCEEDED);
        expect(
          Date.now() - started,
          `${what} ended near its deadline, not the lock wait timeout`,
        ).toBeLessThan(10_000);
        expect(await running(database), `${what}: no statement of ours is left running`).toBe(0);
      }

      // The limit was put back: a write without a deadline waits as long as it takes (~700 ms here).
      const waited = adapter.replace({ ...record, revision: 2, description: "later" }, 1);
      await until(async () => (await running(database)) === 1, "the replace waits for the row");
      await new Promise((r) => setTimeout(r, 700));
      await locker.query("rollback");
      expect(await waited).toEqual({ status: "ok", revision: expect.any(Number) });
    } finally {
      await locker.end();
      await adapter.close();
      await dropDatabase(database);
    }
  });

  it("a write whose signal aborts while it waits for a row lock fails CANCELLED once the lock is freed, and commits nothing", async () => {
    const database = await freshDatabase();
    const adapter = await createMysqlStorage({ uri: uriWith({ database }) });
    const locker = await createConnection({ uri: url, charset: "utf8mb4" });
    try {
      await expectAbortWhileLockedCommitsNothing(adapter, {
        lock: async (id) => {
          await locker.query("begin");
          await locker.query(`select id from \`${database}\`.models where id = ? for update`, [id]);
        },
        release: async () => {
          await locker.query("rollback");
        },
        waiting: () => running(database),
      });
    } finally {
      await locker.end();
      await adapter.close();
      await dropDatabase(database);
    }
  });

  it("a write that loses a deadlock is run again as a whole and succeeds", async () => {
    const database = await freshDatabase();
    const adapter = await createMysqlStorage({ uri: uriWith({ database }) });
    const other = await createConnection({ uri: uriWith({ database }), charset: "utf8mb4" });
    const deadlocks = async () =>
      Number(
        (await adminPool().query<RowDataPacket[]>("show global status like 'Innodb_deadlocks'"))[0][0]?.Value,
      );
    try {
      const record = makeModelRecord({ tags: ["a", "b"], description: "before" });
      const bystander = makeModelRecord();
      expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
      expect(await adapter.insert(bystander)).toEqual({ status: "created", revision: expect.any(Number) });
      const before = await deadlocks();
      // InnoDB rolls back the transaction that changed fewer rows: the other
      // session changes many first, so ours is the one that loses.
      await other.query("begin");
      await other.query(
        `insert into model_metadata (model_id, \`key\`, value) values ${Array(50).fill("(?, ?, '')").join(", ")}`,
        Array.from({ length: 50 }, (_, i) => [bystander.id, `k${i}`]).flat(),
      );
      await other.query("delete from model_tags where model_id = ?", [record.id]);

      // Ours locks the model row, then waits for the tag rows the other holds...
      const replaced = adapter.replace({ ...record, revision: 2, description: "ours", tags: ["c"] }, 1);
      await until(async () => (await running(database)) === 1, "the replace waits for the tag rows");
      // ...and the other now waits for the model row: a deadlock.
      await other.query("update models set description = 'theirs' where id = ?", [record.id]);
      await other.query("commit");

      expect(await replaced).toEqual({ status: "ok", revision: expect.any(Number) });
      expect(await adapter.get(record.id)).toMatchObject({ revision: 2, description: "ours", tags: ["c"] });
      expect(await deadlocks()).toBeGreaterThan(before);
    } finally {
      await other.end();
      await adapter.close();
      await dropDatabase(database);
    }
  });

  it("rejects bad options (a missing uri, a retainHistory below 1) with a TypeError", async () => {
    await expect(createMysqlStorage({ uri: "" })).rejects.toThrow(TypeError);
    for (const retainHistory of [0, 1.5, -1]) {
      await expect(createMysqlStorage({ uri: url, retainHistory })).rejects.toThrow(/retainHistory/);
    }
  });
});
