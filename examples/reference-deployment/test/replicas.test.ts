// Two registry replicas (two OS processes) on one PostgreSQL schema, behind
// one client and one gateway, as a team that outgrows SQLite runs them. The
// database is reached through a TCP proxy the test can cut, to take it away
// from under running calls and bring it back.
import { randomBytes } from "node:crypto";
import { Code, createRegistryClient, type RegistryClient, RegistryError } from "@modelreg/registry-client";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpProxy, type TcpProxy } from "../../../test-support/tcp-proxy";
import { until } from "../../../test-support/waiting";
import {
  connectPostgres,
  http,
  postgresUrl,
  type StartedProcess,
  startGateway,
  startRegistry,
} from "./processes";

const admin = await connectPostgres("replicas.test.ts");
const suite = admin ? describe : describe.skip;
const schema = `replicas_${randomBytes(5).toString("hex")}`;

let proxy: TcpProxy;
let replicas: { process: StartedProcess; address: string; httpPort: number }[] = [];
const clients: RegistryClient[] = [];

/** A client of the given replica addresses, closed after the file. */
function clientOf(...addresses: string[]): RegistryClient {
  const client = createRegistryClient({ target: addresses, insecure: true, defaultTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

async function outcome<T>(promise: Promise<T>): Promise<T | RegistryError> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
}

const readiness = async (httpPort: number) =>
  (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).json() as Promise<{ status: string }>;

beforeAll(async () => {
  if (!admin) return;
  const target = new URL(postgresUrl);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const viaProxy = new URL(postgresUrl);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  const started = [1, 2].map(() =>
    startRegistry(viaProxy.toString(), {
      DATABASE_SCHEMA: schema,
      REGISTRY_HTTP_PORT: "0",
      HEALTH_CHECK_INTERVAL_MS: "200",
    }),
  );
  replicas = await Promise.all(
    started.map(async (process) => {
      const ready = await process.ready;
      return { process, address: `127.0.0.1:${Number(ready.port)}`, httpPort: Number(ready.httpPort) };
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const { process } of replicas) process.child.kill("SIGKILL");
  await proxy?.close();
  await admin?.query(`drop schema if exists "${schema}" cascade`);
  await admin?.end();
});

suite("two registry replicas on one PostgreSQL", () => {
  const replica = (i: 0 | 1) => {
    const found = replicas[i];
    if (!found) throw new Error(`replica ${i + 1} did not start`);
    return found;
  };

  it("both migrated the one schema, and each sees what the other wrote", async () => {
    const [first, second] = [clientOf(replica(0).address), clientOf(replica(1).address)];
    const created = await first.createModel({ model: { name: "shared", version: "1" } });
    expect(await second.getModel({ id: created.id })).toEqual(created);
    const { rows } = await (admin as pg.Client).query(
      `select count(*)::int as n from "${schema}".modelreg_migration`,
    );
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it("concurrent creates of one (name, version) through both replicas: exactly one succeeds", async () => {
    const [first, second] = [clientOf(replica(0).address), clientOf(replica(1).address)];
    for (let round = 0; round < 3; round++) {
      const model = { name: `contested-${round}`, version: "1.0.0", framework: "onnx" };
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) => outcome((i % 2 ? first : second).createModel({ model }))),
      );
      const created = results.filter((r) => !(r instanceof RegistryError));
      const refused = results.filter((r): r is RegistryError => r instanceof RegistryError);
      expect(created, `round ${round}`).toHaveLength(1);
      expect(refused.map((e) => Code[e.code])).toEqual(Array(15).fill("ALREADY_EXISTS"));
      const stored = await (admin as pg.Client).query(
        `select count(*)::int as n from "${schema}".models where name = $1`,
        [model.name],
      );
      expect(stored.rows[0].n).toBe(1);
    }
  }, 30_000);

  it("concurrent etag-conditional updates through both replicas lose nothing", async () => {
    const [first, second] = [clientOf(replica(0).address), clientOf(replica(1).address)];
    const model = await first.createModel({
      model: { name: "counter", version: "1", metadata: { count: "0" } },
    });
    let conflicts = 0;
    // Each writer reads, increments, and writes back conditionally on the
    // etag it read, starting over when another writer got there first.
    const increment = async (client: RegistryClient) => {
      for (;;) {
        const current = await client.getModel({ id: model.id });
        const next = String(Number(current.metadata.count) + 1);
        const written = await outcome(
          client.updateModelMetadata({ id: model.id, set: { count: next }, etag: current.etag }),
        );
        if (!(written instanceof RegistryError)) return;
        expect(Code[written.code]).toBe("ABORTED");
        conflicts++;
      }
    };
    const writers = [first, second, first, second].map(async (client) => {
      for (let i = 0; i < 10; i++) await increment(client);
    });
    await Promise.all(writers);
    const final = await second.getModel({ id: model.id });
    expect(final.metadata.count).toBe("40");
    expect(final.etag).toBe('"41"');
    // The writers did race: some writes were refused and made again.
    expect(conflicts).toBeGreaterThan(0);

    // Without etags, the replicas retry lost races themselves: no tag is lost.
    const tags = Array.from({ length: 20 }, (_, i) => `tag-${i}`);
    await Promise.all(
      tags.map((tag, i) => (i % 2 ? first : second).addModelTags({ id: model.id, tags: [tag] })),
    );
    expect([...(await first.getModel({ id: model.id })).tags].sort()).toEqual([...tags].sort());
  }, 30_000);

  it("a watch on one replica sees every write made through the other, in order, each once", async () => {
    const [writer, watcher] = [clientOf(replica(0).address), clientOf(replica(1).address)];
    const stop = new AbortController();
    const seen: [number, string][] = [];
    const watch = watcher.watchModels({ filter: 'name = "watched-*"' }, { signal: stop.signal });
    let start: bigint | undefined;
    const reading = (async () => {
      try {
        for await (const message of watch) {
          start ??= message.revision;
          if (message.event) seen.push([Number(message.revision), message.event.model?.name ?? ""]);
        }
      } catch (error) {
        if (!stop.signal.aborted) throw error;
      }
    })();
    await until(async () => start !== undefined, "the watch has started");
    const names = Array.from({ length: 12 }, (_, i) => `watched-${String(i).padStart(2, "0")}`);
    await Promise.all(names.map((name) => writer.createModel({ model: { name, version: "1" } })));
    await until(async () => seen.length >= names.length, "the other replica's writes arrive");
    stop.abort();
    await reading;
    const revisions = seen.map(([revision]) => revision);
    // The filter matches every write, so the revisions run on with no gap.
    expect(revisions).toEqual(revisions.map((_, i) => Number(start) + 1 + i));
    expect(seen.map(([, name]) => name).sort()).toEqual(names);
  }, 30_000);

  it("while the database is away: UNAVAILABLE and 503 at once, NOT_SERVING, no crash; then it recovers by itself", async () => {
    const client = clientOf(replica(0).address, replica(1).address);
    // No read cache: this is the database outage as the registry reports it, not what a cache still knows.
    const gateway = startGateway(`${replica(0).address},${replica(1).address}`, {
      REGISTRY_TIMEOUT_MS: "20000",
      CACHE_URL: "off",
    });
    const base = `http://127.0.0.1:${(await gateway.ready).port}`;
    const model = await client.createModel({ model: { name: "through-an-outage", version: "1" } });
    expect((await http(base, "GET", `/api/v1/models/${model.id}`)).status).toBe(200);

    // Calls are running when the database goes.
    let stop = false;
    const failures: string[] = [];
    const load = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const result = await outcome(client.getModel({ id: model.id }));
        if (result instanceof RegistryError) failures.push(Code[result.code]);
      }
    });
    await new Promise((r) => setTimeout(r, 200));
    proxy.cut();

    const started = Date.now();
    const viaGateway = await http(base, "GET", `/api/v1/models/${model.id}`);
    const gatewayMs = Date.now() - started;
    expect(viaGateway.status).toBe(503);
    expect(viaGateway.json).toMatchObject({ error: { status: "UNAVAILABLE" } });
    // Not a wait for the 20 s deadline: the database's absence is reported as soon as it is seen.
    expect(gatewayMs).toBeLessThan(5000);
    expect(JSON.stringify(viaGateway.json)).not.toMatch(/ECONNRESET|postgres|select|stack/i);
    const direct = await outcome(client.listModels({}));
    expect(direct).toBeInstanceOf(RegistryError);
    expect(Code[(direct as RegistryError).code]).toBe("UNAVAILABLE");
    for (const { httpPort } of replicas) {
      await until(
        async () => (await readiness(httpPort)).status === "NOT_SERVING",
        "readyz says NOT_SERVING",
      );
    }
    stop = true;
    await Promise.all(load);
    expect(new Set(failures)).toEqual(new Set(["UNAVAILABLE"]));

    proxy.restore();
    for (const { httpPort } of replicas) {
      await until(async () => (await readiness(httpPort)).status === "SERVING", "readyz says SERVING again");
    }
    await until(
      async () => (await http(base, "GET", `/api/v1/models/${model.id}`)).status === 200,
      "the gateway answers 200 again",
    );
    expect((await client.getModel({ id: model.id })).id).toBe(model.id);
    for (const { process } of replicas) expect(process.child.exitCode).toBeNull();
    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
  }, 60_000);

  it("one client over both replicas keeps answering idempotent calls when a replica is killed", async () => {
    const client = clientOf(replica(0).address, replica(1).address);
    await client.connect();
    const model = await client.createModel({ model: { name: "survivor", version: "1" } });
    let stop = false;
    let afterKill = 0;
    let killed = false;
    const failures: string[] = [];
    const load = Array.from({ length: 4 }, async (_, i) => {
      while (!stop) {
        const call: Promise<unknown> =
          i % 2 ? client.getModel({ id: model.id }) : client.listModels({ pageSize: 5 });
        const result = await outcome(call);
        if (result instanceof RegistryError) failures.push(`${Code[result.code]}: ${result.message}`);
        else if (killed) afterKill++;
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    replica(0).process.child.kill("SIGKILL");
    killed = true;
    await replica(0).process.exited;
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(afterKill).toBeGreaterThan(20);
    expect((await client.getModel({ id: model.id })).name).toBe("survivor");
  }, 30_000);
});
