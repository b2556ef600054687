// The client cache with a shared level in a real Redis: several cached
// clients (as several processes) share one store under a prefix of their own;
// registry calls are counted by a server interceptor.
import { randomBytes } from "node:crypto";
import { createMemoryStorage, type ServerInterceptor } from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisUrl, requireRedis } from "../../../../test-support/redis";
import { startTestRegistry } from "../../../../test-support/registry";
import { startTcpProxy, type TcpProxy } from "../../../../test-support/tcp-proxy";
import { until } from "../../../../test-support/waiting";
import { createRegistryClient, type RegistryClient } from "../index";
import { createRedisCacheStore, type RedisCacheStore } from "../redis";

const redisAvailable = await requireRedis("shared-cache.test.ts");

const calls = new Map<string, number>();
const counter: ServerInterceptor = (next) => (call) => {
  calls.set(call.method.name, (calls.get(call.method.name) ?? 0) + 1);
  return next(call);
};
const count = (method: string) => calls.get(method) ?? 0;

/** Registry calls of `method` made while `action` ran. */
async function during(method: string, action: () => Promise<unknown>): Promise<number> {
  const before = count(method);
  await action();
  return count(method) - before;
}

describe.skipIf(!redisAvailable)(
  "the client cache with Redis as its shared level",
  { timeout: 60_000 },
  () => {
    let stopRegistry: () => Promise<void>;
    let address: string;
    let writer: RegistryClient;
    const clients: RegistryClient[] = [];
    const stores: RedisCacheStore[] = [];
    const proxies: TcpProxy[] = [];

    beforeAll(async () => {
      const registry = await startTestRegistry({
        streams: { pollIntervalMs: 50 },
        interceptors: [counter],
      });
      address = registry.address;
      stopRegistry = () => registry.server.shutdown({ graceMs: 100 });
      writer = createRegistryClient({ target: address, insecure: true });
    });
    afterAll(async () => {
      for (const client of clients) client.close();
      writer.close();
      for (const store of stores) {
        await store.clear().catch(() => {});
        await store.close();
      }
      for (const proxy of proxies) await proxy.close();
      await stopRegistry();
    });

    /** A store under a prefix of its own (optionally through a TCP proxy that can cut Redis away). */
    async function newStore(
      prefix: string,
      proxied = false,
    ): Promise<{ store: RedisCacheStore; proxy?: TcpProxy }> {
      let url = redisUrl;
      let proxy: TcpProxy | undefined;
      if (proxied) {
        const target = new URL(redisUrl);
        proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
        proxies.push(proxy);
        url = `redis://127.0.0.1:${proxy.port}${target.pathname}`;
      }
      const store = createRedisCacheStore({ url, keyPrefix: prefix, commandTimeoutMs: 1000 });
      stores.push(store);
      return proxy ? { store, proxy } : { store };
    }

    /** A cached client on `store`, once its watch is current and the store readable. */
    async function cachedClient(store: RedisCacheStore): Promise<RegistryClient> {
      const client = createRegistryClient({
        target: address,
        insecure: true,
        cache: { shared: store, progressIntervalMs: 200, sharedTimeoutMs: 2000 },
      });
      clients.push(client);
      await until(() => client.cacheStats()?.current === true, "the cache's watch is current");
      return client;
    }

    const prefix = () => `modelreg:test:${randomBytes(6).toString("hex")}:`;

    /**
     * Until `store` is marked applied up to what `client` has applied: a client
     * started after that replays no event (which would fill its L1 directly).
     */
    const settled = (store: RedisCacheStore, client: RegistryClient) =>
      until(async () => {
        const applied = await store.appliedRevision();
        return applied !== undefined && applied >= (client.cacheStats()?.revision ?? 0n);
      }, "the store is marked applied up to the client's revision");

    it("a second process reads what the first one filled from Redis, not from the registry", async () => {
      const { store } = await newStore(prefix());
      const first = await cachedClient(store);
      const model = await writer.createModel({ model: { name: "shared", version: "1" } });
      // `first` saw the create in its feed and wrote it to Redis; `second` starts after that.
      await until(
        async () => (await store.get([`id:${model.id}`]))[0] !== undefined,
        "the model is in Redis",
      );
      await settled(store, first);
      const second = await cachedClient(store);
      expect(await during("GetModel", () => second.getModel({ id: model.id }))).toBe(0);
      expect(second.cacheStats()?.sharedHits).toBe(1);
      expect(first.cacheStats()?.sharedErrors).toBe(0);
    });

    it("answers aliases (pointer, then model) and batch members from Redis in a second process", async () => {
      const { store } = await newStore(prefix());
      const first = await cachedClient(store);
      const [a, b] = [
        await writer.createModel({ model: { name: "l2-alias", version: "1" } }),
        await writer.createModel({ model: { name: "l2-alias", version: "2" } }),
      ];
      if (!a || !b) throw new Error("create failed");
      await writer.setModelAlias({ name: "l2-alias", alias: "champion", version: "1" });
      await until(
        async () => (await first.resolveAlias("l2-alias", "champion").catch(() => undefined))?.id === a.id,
        "the first process resolves the alias",
      );
      await until(async () => {
        const entries = await store.get(["alias:l2-alias\nchampion", `id:${a.id}`, `id:${b.id}`]);
        return entries.every((entry) => entry !== undefined);
      }, "the alias and both models are in Redis");
      await settled(store, first);
      const second = await cachedClient(store);
      const lookups = await during("LookupModel", async () => {
        expect((await second.resolveAlias("l2-alias", "champion")).id).toBe(a.id);
      });
      const batches = await during("BatchGetModels", async () => {
        const models = await second.batchGetModels({ ids: [b.id, a.id] });
        expect(models.map((m) => m.version)).toEqual(["2", "1"]);
      });
      expect({ lookups, batches }).toEqual({ lookups: 0, batches: 0 });
      expect(second.cacheStats()?.sharedHits).toBeGreaterThanOrEqual(2);
    });

    it("replays into Redis what changed while no process followed the feed", async () => {
      const shared = prefix();
      const { store } = await newStore(shared);
      const first = await cachedClient(store);
      const model = await writer.createModel({ model: { name: "replay", version: "1", description: "old" } });
      await until(async () => (await first.getModel({ id: model.id })).description === "old", "first has it");
      await until(
        async () => (await store.get([`id:${model.id}`]))[0] !== undefined,
        "the model is in Redis",
      );
      first.close();
      const updated = await writer.updateModel({
        model: { id: model.id, description: "new" },
        updateMask: { paths: ["description"] },
      });
      // A new process on the same store: its watch starts from the store's applied revision, so the
      // update nobody applied reaches Redis before the store is read.
      const { store: again } = await newStore(shared);
      const later = await cachedClient(again);
      await until(async () => {
        const [entry] = await again.get([`id:${model.id}`]);
        return entry !== undefined && new TextDecoder().decode(entry.data).includes("new");
      }, "the update was replayed into Redis");
      const read = await later.getModel({ id: model.id });
      expect(read.description).toBe("new");
      expect(read.etag).toBe(updated.etag);
    });

    it("keeps every read working while Redis is cut off, and writes what it missed when it is back", async () => {
      const shared = prefix();
      const { store, proxy } = await newStore(shared, true);
      if (!proxy) throw new Error("no proxy");
      const client = await cachedClient(store);
      const model = await writer.createModel({ model: { name: "cut", version: "1", description: "old" } });
      await until(
        async () => (await store.get([`id:${model.id}`]))[0] !== undefined,
        "the model is in Redis",
      );
      proxy.cut();
      await writer.updateModel({
        model: { id: model.id, description: "new" },
        updateMask: { paths: ["description"] },
      });
      const others = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          writer.createModel({ model: { name: "cut-other", version: `${i}` } }),
        ),
      );
      // Every read answers (from L1 or the registry), none fails because Redis is gone.
      for (let round = 0; round < 3; round++) {
        for (const m of [model, ...others]) await client.getModel({ id: m.id });
      }
      await until(() => (client.cacheStats()?.sharedErrors ?? 0) > 0, "the cache noticed Redis was gone");
      proxy.restore();
      // Back: the backlog is written in order, so Redis holds the update, not the old state.
      const { store: direct } = await newStore(shared);
      await until(async () => {
        const [entry] = await direct.get([`id:${model.id}`]);
        return entry !== undefined && new TextDecoder().decode(entry.data).includes("new");
      }, "Redis holds the updated model");
      await settled(direct, client);
      const fresh = await cachedClient(direct);
      const read = await fresh.getModel({ id: model.id });
      expect(read.description).toBe("new");
      expect(fresh.cacheStats()?.sharedHits).toBe(1);
    });

    it("clears Redis too when the history the watch would resume from was pruned (OUT_OF_RANGE)", async () => {
      const registry = await startTestRegistry({
        storage: createMemoryStorage({ retainChanges: 3, retainHistory: 1 }),
        streams: { pollIntervalMs: 50 },
      });
      const [host = "", port = ""] = registry.address.split(":");
      const proxy = await startTcpProxy({ host, port: Number(port) });
      proxies.push(proxy);
      const direct = createRegistryClient({ target: registry.address, insecure: true });
      const { store } = await newStore(prefix());
      const client = createRegistryClient({
        target: `127.0.0.1:${proxy.port}`,
        insecure: true,
        cache: { shared: store, progressIntervalMs: 200, sharedTimeoutMs: 2000 },
      });
      clients.push(client);
      try {
        await until(() => client.cacheStats()?.current === true, "the cache's watch is current");
        const model = await direct.createModel({ model: { name: "oor", version: "1", description: "old" } });
        await until(
          async () => (await store.get([`id:${model.id}`]))[0] !== undefined,
          "the model is in Redis",
        );
        proxy.cut();
        await until(() => client.cacheStats()?.current === false, "the cache notices the broken watch");
        await direct.updateModel({
          model: { id: model.id, description: "new" },
          updateMask: { paths: ["description"] },
        });
        for (let i = 0; i < 10; i++)
          await direct.createModel({ model: { name: "oor-filler", version: `${i}` } });
        proxy.restore();
        await until(() => client.cacheStats()?.current === true, "the cache is current again", {
          timeoutMs: 30_000,
        });
        // Neither level may answer with the state from before the pruned history.
        expect((await client.getModel({ id: model.id })).description).toBe("new");
        // The store is cleared (in the background, before the cache reads it again).
        await until(async () => {
          const [entry] = await store.get([`id:${model.id}`]);
          return entry === undefined || new TextDecoder().decode(entry.data).includes("new");
        }, "Redis no longer holds the state from before the pruned history");
      } finally {
        direct.close();
        await registry.server.shutdown({ graceMs: 100 });
      }
    });
  },
);
