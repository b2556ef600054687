// A silent network partition between the registry and its database (packets
// dropped, nothing refused or reset), through a real gRPC server and a TCP
// proxy in front of real PostgreSQL and MariaDB: calls fail UNAVAILABLE and
// readiness turns NOT_SERVING within 2 s, and both recover within 1 s of the
// network returning.
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import { createConnection as createMysqlConnection } from "mysql2/promise";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { mysqlUrl, postgresUrl, requireMysql, requirePostgres } from "../../../test-support/sql-servers";
import { startTcpProxy, type TcpProxy } from "../../../test-support/tcp-proxy";
import { msUntil } from "../../../test-support/waiting";
import { createRegistryServer } from "./server";
import type { StorageAdapter } from "./storage/adapter";
import { createMemoryStorage } from "./storage/memory";
import { createMysqlStorage } from "./storage/mysql";
import { createPostgresStorage } from "./storage/postgres";
import { createTestClient } from "./test-support/grpc-client";
import { makeModelRecord } from "./testing/conformance";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The acceptance's bounds: failing (and NOT_SERVING) after the partition,
 * recovering after the heal (in process: measured from heal() to the answer).
 */
const failWithinMs = 2000;
const recoverWithinMs = 1000;

/** A session outside the proxy that can hold the registry's tables, so a call is surely in flight. */
interface Locker {
  lock(): Promise<void>;
  unlock(): Promise<void>;
  end(): Promise<void>;
}

/** A database to test: how to reach it through a proxy, how to hold its models table, how to clean up. */
interface Database {
  readonly name: string;
  readonly available: boolean;
  readonly url: string;
  /** A fresh, empty registry behind `proxy`, a locker for its models table, and cleanup. */
  open(proxy: TcpProxy): Promise<{ storage: StorageAdapter; locker: Locker; drop(): Promise<void> }>;
}

const postgres: Database = {
  name: "PostgreSQL",
  url: postgresUrl,
  available: await requirePostgres("partition.test.ts"),
  async open(proxy) {
    const schema = `modelreg_partition_${randomBytes(6).toString("hex")}`;
    const viaProxy = new URL(postgresUrl);
    viaProxy.port = String(proxy.port);
    const storage = await createPostgresStorage({ connectionString: viaProxy.toString(), schema });
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    return {
      storage,
      locker: {
        lock: async () => {
          await admin.query("begin");
          await admin.query(`lock table "${schema}".models in access exclusive mode`);
        },
        unlock: async () => {
          await admin.query("rollback");
        },
        end: () => admin.end(),
      },
      drop: async () => {
        await admin.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
        await admin.end().catch(() => {});
      },
    };
  },
};

const mariadb: Database = {
  name: "MariaDB",
  url: mysqlUrl,
  available: await requireMysql("partition.test.ts"),
  async open(proxy) {
    const database = `modelreg_partition_${randomBytes(6).toString("hex")}`;
    const admin = await createMysqlConnection({ uri: mysqlUrl });
    await admin.query(`create database \`${database}\``);
    const viaProxy = new URL(mysqlUrl);
    viaProxy.port = String(proxy.port);
    viaProxy.pathname = `/${database}`;
    const storage = await createMysqlStorage({ uri: viaProxy.toString() });
    const lockerUrl = new URL(mysqlUrl);
    lockerUrl.pathname = `/${database}`;
    const locking = await createMysqlConnection({ uri: lockerUrl.toString() });
    return {
      storage,
      locker: {
        lock: async () => {
          await locking.query("lock tables models write");
        },
        unlock: async () => {
          await locking.query("unlock tables");
        },
        end: () => locking.end(),
      },
      drop: async () => {
        await locking.end().catch(() => {});
        await admin.query(`drop database if exists \`${database}\``).catch(() => {});
        await admin.end().catch(() => {});
      },
    };
  },
};

/** The gRPC health Check status of the whole server: 1 SERVING, 2 NOT_SERVING. */
function healthCheck(client: grpc.Client): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (v: Buffer) => v,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 1000 },
      (error, response) => (error ? reject(error) : resolve(response?.[1] ?? 0)),
    ),
  );
}

/** The error a call fails with, and when it failed. */
async function failure(call: Promise<unknown>) {
  const error = await call.then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  return { error, at: Date.now() };
}

function expectDatabaseUnreachable(error: unknown, what: string, database: Database) {
  expect(error, what).toBeInstanceOf(RegistryError);
  const registryError = error as RegistryError;
  expect(registryError.code, what).toBe(Code.UNAVAILABLE);
  expect(registryError.reason, what).toBe("DATABASE_UNAVAILABLE");
  expect(registryError.message, what).toMatch(/database is unreachable/);
  // Nothing of where the database is.
  const { hostname, port } = new URL(database.url);
  expect(registryError.message, what).not.toContain(hostname);
  expect(registryError.message, what).not.toContain(port || "543");
}

for (const database of [postgres, mariadb]) {
  (database.available ? describe : describe.skip)(`a silent partition from ${database.name}`, () => {
    it("fails calls and readiness within 2 s, and recovers within 1 s of the network returning", async () => {
      const target = new URL(database.url);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
      const { storage, locker, drop } = await database.open(proxy);
      // The defaults, as an operator gets them.
      const server = createRegistryServer({
        storage,
        insecure: true,
        host: "127.0.0.1",
        port: 0,
        httpPort: 0,
        logger: quiet,
      });
      const { port, httpPort } = await server.listen();
      const client = createTestClient(`127.0.0.1:${port}`);
      const health = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const ready = async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status;
      const get = (id: string, timeoutMs = 10_000) =>
        client.call<{ model: { id: string; description: string } }>("GetModel", { id }, {}, timeoutMs);
      try {
        const model = { name: "partitioned", version: "1", framework: "onnx", description: "before" };
        const { model: created } = await client.call<{ model: { id: string } }>("CreateModel", { model });
        expect(await healthCheck(health)).toBe(1);
        expect(await ready()).toBe(200);
        // Several pooled connections, idle when the network goes.
        await Promise.all(Array.from({ length: 6 }, () => get(created.id)));

        // A call surely in flight when the network goes: it waits for the table lock.
        await locker.lock();
        const inFlight = failure(get(created.id));
        await new Promise((r) => setTimeout(r, 200));

        const partitionedAt = Date.now();
        proxy.partition();
        // Its answer can no longer come back.
        await locker.unlock();
        const first = await failure(get(created.id));
        const stuck = await inFlight;
        const notServingMs = await msUntil(
          partitionedAt,
          async () => (await healthCheck(health)) === 2 && (await ready()) === 503,
          "NOT_SERVING",
          failWithinMs + 3000,
        );
        expectDatabaseUnreachable(first.error, "a call made after the partition", database);
        expectDatabaseUnreachable(stuck.error, "the call in flight", database);
        const firstMs = first.at - partitionedAt;
        const stuckMs = stuck.at - partitionedAt;
        expect(firstMs, "the first call's failure, ms after the partition").toBeLessThan(failWithinMs);
        expect(stuckMs, "the in-flight call's failure, ms after the partition").toBeLessThan(failWithinMs);
        expect(notServingMs, "NOT_SERVING, ms after the partition").toBeLessThan(failWithinMs);

        // Known unreachable: a call (a write too) fails at once, not after a timeout.
        const meanwhile = Date.now();
        const write = await failure(client.call("CreateModel", { model: { ...model, version: "2" } }));
        expectDatabaseUnreachable(write.error, "a write while unreachable", database);
        expect(write.at - meanwhile, "a write while unreachable fails at once").toBeLessThan(500);

        // Both measured from the heal() itself, watched side by side (neither waits for the other).
        const healedAt = Date.now();
        proxy.heal();
        const [recoveredMs, servingMs] = await Promise.all([
          msUntil(
            healedAt,
            async () => (await get(created.id, 500)).model.id === created.id,
            "a call succeeding",
            recoverWithinMs + 3000,
          ),
          msUntil(
            healedAt,
            async () => (await healthCheck(health)) === 1 && (await ready()) === 200,
            "SERVING",
            recoverWithinMs + 3000,
          ),
        ]);
        process.stdout.write(
          `[partition ${database.name}] first UNAVAILABLE ${firstMs} ms, in-flight call failed ` +
            `${stuckMs} ms, NOT_SERVING ${notServingMs} ms after the partition; ` +
            `call OK ${recoveredMs} ms, SERVING ${servingMs} ms after the heal\n`,
        );
        expect(recoveredMs, "a call succeeds again, ms after the heal").toBeLessThan(recoverWithinMs);
        expect(servingMs, "SERVING again, ms after the heal").toBeLessThan(recoverWithinMs);
        // The write acknowledged before the partition is there; writes work again.
        expect((await get(created.id)).model.description).toBe("before");
        await client.call("CreateModel", { model: { ...model, version: "3" } });
      } finally {
        health.close();
        client.close();
        await server.shutdown({ graceMs: 0 });
        await storage.close();
        await proxy.close();
        await locker.end().catch(() => {});
        await drop();
      }
    });

    it("an adapter used without the server (nothing pings it) still fails a stuck call and recovers", async () => {
      const target = new URL(database.url);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
      const { storage, locker, drop } = await database.open(proxy);
      try {
        const record = makeModelRecord();
        expect(await storage.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
        expect((await storage.get(record.id))?.id).toBe(record.id);
        const partitionedAt = Date.now();
        proxy.partition();
        // No deadline: only the circuit can end it.
        const stuck = await failure(storage.get(record.id));
        expectDatabaseUnreachable(stuck.error, "a call with no deadline", database);
        // Probed again once the last probe is 500 ms old (checked every 125 ms while calls wait); 750 ms each.
        expect(stuck.at - partitionedAt).toBeLessThan(failWithinMs);
        const healedAt = Date.now();
        proxy.heal();
        const recoveredMs = await msUntil(
          healedAt,
          async () => (await storage.get(record.id))?.id === record.id,
          "a call succeeding",
          5000,
        );
        process.stdout.write(
          `[partition ${database.name}, adapter alone] stuck call failed ${stuck.at - partitionedAt} ms ` +
            `after the partition; call OK ${recoveredMs} ms after the heal\n`,
        );
        expect(recoveredMs).toBeLessThan(recoverWithinMs);
      } finally {
        await storage.close();
        await proxy.close();
        await locker.end().catch(() => {});
        await drop();
      }
    });

    it("a busy database is not a partition: calls held by a table lock past the probe timeout, the pool full, still succeed and readiness stays SERVING", async () => {
      const target = new URL(database.url);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
      const { storage, locker, drop } = await database.open(proxy);
      const server = createRegistryServer({
        storage,
        insecure: true,
        host: "127.0.0.1",
        port: 0,
        logger: quiet,
      });
      const { port } = await server.listen();
      const client = createTestClient(`127.0.0.1:${port}`);
      const health = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      try {
        const model = { name: "busy", version: "1", framework: "onnx" };
        const { model: created } = await client.call<{ model: { id: string } }>("CreateModel", { model });
        await locker.lock();
        // More calls than the pool has connections (10), all waiting for the lock.
        const waiting = Array.from({ length: 12 }, () =>
          client.call<{ model: { id: string } }>("GetModel", { id: created.id }),
        );
        const statuses: number[] = [];
        // Twice the probe timeout, with pings every 250 ms.
        for (const until = Date.now() + 1500; Date.now() < until; ) {
          statuses.push(await healthCheck(health));
          await new Promise((r) => setTimeout(r, 50));
        }
        await locker.unlock();
        const answers = await Promise.all(waiting);
        expect(answers.map((a) => a.model.id)).toEqual(answers.map(() => created.id));
        expect(new Set(statuses)).toEqual(new Set([1]));
      } finally {
        health.close();
        client.close();
        await server.shutdown({ graceMs: 0 });
        await storage.close();
        await proxy.close();
        await locker.end().catch(() => {});
        await drop();
      }
    });
  });
}

describe("storage that stops answering its pings (any adapter)", () => {
  it("turns NOT_SERVING once a ping outlasts healthCheckTimeoutMs, starts no second ping beside the hung one, and SERVING soon after pings answer again", async () => {
    const memory = createMemoryStorage();
    let silent = false;
    const hanging: (() => void)[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    // A ping that does not settle while `silent` (no error, no answer, as a partition looks), until the test answers it.
    const ping = async () => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        await (silent ? new Promise<void>((resolve) => hanging.push(resolve)) : memory.ping());
      } finally {
        inFlight--;
      }
    };
    const storage: StorageAdapter = Object.assign(Object.create(memory) as StorageAdapter, { ping });
    const server = createRegistryServer({
      storage,
      insecure: true,
      host: "127.0.0.1",
      port: 0,
      logger: quiet,
    });
    const { port } = await server.listen();
    const health = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      expect(await healthCheck(health)).toBe(1);
      const silentAt = Date.now();
      silent = true;
      // Default interval 250 ms + timeout 1000 ms.
      const notServingMs = await msUntil(
        silentAt,
        async () => (await healthCheck(health)) === 2,
        "NOT_SERVING",
        5000,
      );
      expect(notServingMs).toBeGreaterThanOrEqual(1000);
      expect(notServingMs).toBeLessThan(failWithinMs);
      // Well past several more timeouts: still the one hung ping, none beside it.
      await new Promise((r) => setTimeout(r, 2500));
      expect(await healthCheck(health)).toBe(2);
      expect(hanging.length, "pings started while one hangs").toBe(1);
      expect(mostInFlight, "pings in flight at once").toBe(1);
      // The network is back: the hung ping is answered, and so are the next ones.
      const answeringAt = Date.now();
      silent = false;
      for (const resolve of hanging.splice(0)) resolve();
      const servingMs = await msUntil(
        answeringAt,
        async () => (await healthCheck(health)) === 1,
        "SERVING",
        5000,
      );
      expect(servingMs).toBeLessThan(recoverWithinMs);
    } finally {
      for (const resolve of hanging) resolve();
      health.close();
      await server.shutdown({ graceMs: 0 });
    }
  });
});

describe("fail-fast options", () => {
  it("are checked, with a TypeError naming the option", async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, "100"]) {
      await expect(
        createPostgresStorage({
          connectionString: postgresUrl,
          circuitBreaker: { probeTimeoutMs: bad as number },
        }),
      ).rejects.toThrow(/`circuitBreaker.probeTimeoutMs` must be a whole number of milliseconds/);
      await expect(
        createMysqlStorage({ uri: mysqlUrl, circuitBreaker: { retryIntervalMs: bad as number } }),
      ).rejects.toThrow(/createMysqlStorage: `circuitBreaker.retryIntervalMs` must be/);
      await expect(
        createPostgresStorage({
          connectionString: postgresUrl,
          pool: { connectionTimeoutMs: bad as number },
        }),
      ).rejects.toThrow(/`pool.connectionTimeoutMs` must be/);
      await expect(
        createMysqlStorage({ uri: mysqlUrl, pool: { keepAliveInitialDelayMs: bad as number } }),
      ).rejects.toThrow(/`pool.keepAliveInitialDelayMs` must be/);
      expect(() =>
        createRegistryServer({
          storage: createMemoryStorage(),
          insecure: true,
          healthCheckTimeoutMs: bad as number,
        }),
      ).toThrow(/createRegistryServer: `healthCheckTimeoutMs` must be a whole number of milliseconds/);
      expect(() =>
        createRegistryServer({
          storage: createMemoryStorage(),
          insecure: true,
          healthCheckIntervalMs: bad as number,
        }),
      ).toThrow(TypeError);
    }
    await expect(createMysqlStorage({ uri: mysqlUrl, circuitBreaker: "fast" as never })).rejects.toThrow(
      /`circuitBreaker` must be an object/,
    );
  });
});
