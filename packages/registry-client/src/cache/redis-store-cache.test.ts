// End to end: cached clients sharing a private Redis (which the test kills
// and restarts), in front of a registry in its own process.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Code, type Model, RegistryError } from "@modelreg/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RedisServerProcess,
  requireRedisServer,
  startRedisServer,
} from "../../../../test-support/redis";
import { until } from "../../../../test-support/waiting";
import { type CacheOptions, createRegistryClient, type RegistryClient } from "../index";
import { createRedisCacheStore, type RedisCacheStore } from "../redis";

const redisServerAvailable = await requireRedisServer("redis-store-cache.test.ts");

/** The registry (memory storage) in its own process, as test-support/server-process.ts starts it. */
async function startRegistryProcess(): Promise<{ child: ChildProcess; address: string }> {
  const tsx = createRequire(import.meta.url).resolve("tsx");
  const script = join(import.meta.dirname, "../test-support/server-process.ts");
  const child = spawn(process.execPath, ["--import", tsx, script, "0"], {
    stdio: ["ignore", "pipe", "inherit"],
    cwd: join(import.meta.dirname, "../../../.."),
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (line) =>
      resolve(JSON.parse(line).port),
    );
    child.once("exit", (code) => reject(new Error(`the registry process exited early (${code})`)));
  });
  return { child, address: `127.0.0.1:${port}` };
}

describe.skipIf(!redisServerAvailable)("cached clients sharing Redis", { timeout: 120_000 }, () => {
  let registry: ChildProcess;
  let address: string;
  let redis: RedisServerProcess;
  let writer: RegistryClient;
  const clients: RegistryClient[] = [];
  const stores: RedisCacheStore[] = [];
  const prefix = `modelreg-test:${randomUUID()}:`;

  beforeAll(async () => {
    ({ child: registry, address } = await startRegistryProcess());
    redis = await startRedisServer();
    writer = createRegistryClient({ target: address, insecure: true });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    writer?.close();
    for (const store of stores) await store.close();
    await redis?.stop();
    registry?.kill("SIGKILL");
  });

  /** A client as one process would make it: its own store (own connection) on the shared Redis and prefix. */
  async function cachedClient(cache: Omit<CacheOptions, "shared"> = {}): Promise<RegistryClient> {
    const store = createRedisCacheStore({ url: redis.url, keyPrefix: prefix, maxReconnectDelayMs: 200 });
    stores.push(store);
    const client = createRegistryClient({
      target: address,
      insecure: true,
      // A generous bound on each Redis call: a loaded test machine must not turn hits into timeouts.
      cache: { shared: store, progressIntervalMs: 200, sharedTimeoutMs: 2000, ...cache },
    });
    clients.push(client);
    await until(() => client.cacheStats()?.current === true, "the cache's watch is current");
    return client;
  }

  const stats = (client: RegistryClient) => {
    const current = client.cacheStats();
    if (!current) throw new Error("the client has no cache");
    return current;
  };

  it("answers B from what A's read put in Redis, and B sees an update made through A", async () => {
    const model = await writer.createModel({
      model: { name: "shared-e2e", version: "1", description: "old" },
    });
    const a = await cachedClient();
    const peek = stores[0] as RedisCacheStore;
    // A trusts Redis (and fills it) once Redis is exact up to a revision, which A records when it writes
    // a change event there (a quiet registry leaves a fresh Redis without one): one unrelated write.
    await writer.createModel({ model: { name: "shared-e2e-other", version: "1" } });
    await until(async () => (await peek.appliedRevision()) !== undefined, "Redis has an applied revision");
    expect(await a.getModel({ id: model.id })).toEqual(model);
    expect(stats(a).misses).toBe(1);
    // B starts after the create: only A's read can have put the model in Redis.
    await until(async () => (await peek.get([`id:${model.id}`]))[0] !== undefined, "A's fill reached Redis");
    const b = await cachedClient();
    expect(await b.getModel({ id: model.id })).toEqual(model);
    expect(stats(b)).toMatchObject({ sharedHits: 1, misses: 0 });

    const updated = await a.updateModel({
      model: { id: model.id, description: "new" },
      updateMask: { paths: ["description"] },
    });
    await until(
      async () => (await b.getModel({ id: model.id })).etag === updated.etag,
      "B serves the update",
    );
    for (let i = 0; i < 20; i++) expect((await b.getModel({ id: model.id })).description).toBe("new");
  });

  it("fails no read while Redis is killed and restarted, and answers from Redis again after", async () => {
    const models = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        writer.createModel({ model: { name: "loop-e2e", version: `${i}`, description: "x".repeat(200) } }),
      ),
    );
    const a = await cachedClient();
    // C's in-process level (4 KiB, the least) holds a few of the 64 models read in turn: its reads go to Redis.
    const c = await cachedClient({ maxBytes: 4096 });
    const failures: unknown[] = [];
    let reads = 0;
    let running = true;
    const readLoop = async (client: RegistryClient) => {
      while (running) {
        for (const model of models) {
          const read = await client.getModel({ id: model.id }).catch((error: unknown) => error);
          if (!(typeof read === "object" && read !== null && "etag" in read)) failures.push(read);
          reads++;
        }
        const unknown = await client.getModel({ id: randomUUID() }).catch((error: unknown) => error);
        if (!(unknown instanceof RegistryError && unknown.code === Code.NOT_FOUND)) failures.push(unknown);
        reads++;
      }
    };
    const loops = [readLoop(a), readLoop(c)];

    await until(() => stats(c).sharedHits >= 20, "C answers from Redis");
    const errorsBefore = stats(c).sharedErrors;
    await redis.kill();
    const readsAtKill = reads;
    await until(
      () => stats(c).sharedErrors > errorsBefore && reads >= readsAtKill + 100,
      "reads went on while Redis was down",
    );
    // An update while Redis is down reaches every cache (the feed goes on without Redis).
    const target = models[0] as Model;
    const updated = await writer.updateModel({
      model: { id: target.id, description: "while Redis was down" },
      updateMask: { paths: ["description"] },
    });
    for (const client of [a, c]) {
      await until(async () => (await client.getModel({ id: target.id })).etag === updated.etag, "the update");
    }

    await redis.restart();
    const hitsAtRestart = stats(c).sharedHits;
    await until(() => stats(c).sharedHits >= hitsAtRestart + 20, "C answers from Redis again");
    running = false;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(readsAtKill + 100);
    // What C reads from Redis after the restart is the update, not the state before it.
    for (let i = 0; i < 10; i++) expect((await c.getModel({ id: target.id })).etag).toBe(updated.etag);
  });
});
