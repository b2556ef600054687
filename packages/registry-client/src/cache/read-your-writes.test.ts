// Read-your-writes with a shared level (review of issue 16, finding 1): a write through a cached client is
// followed by a read in the same client that must see it, even when the client's watch lags (as on another
// registry replica) and Redis still holds the state from before the write, filled by another process.
import { randomBytes } from "node:crypto";
import type { WatchModelsRequest, WatchModelsResponse } from "@modelreg/proto";
import {
  type MethodInfo,
  type RpcInterceptor,
  RpcOutputStreamController,
  ServerStreamingCall,
} from "@protobuf-ts/runtime-rpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisUrl, requireRedis } from "../../../../test-support/redis";
import { startTestRegistry } from "../../../../test-support/registry";
import { until } from "../../../../test-support/waiting";
import { createRegistryClient, type RegistryClient } from "../index";
import { createRedisCacheStore, type RedisCacheStore } from "../redis";

const redisAvailable = await requireRedis("read-your-writes.test.ts");

/** Delays every watch message by `ms`: what a watch on a lagging replica sees. */
function laggingWatch(ms: number): RpcInterceptor {
  return {
    interceptServerStreaming(next, method, input, options) {
      const call = next(method, input, options);
      const out = new RpcOutputStreamController<object>();
      call.responses.onNext((message, error, complete) => {
        setTimeout(() => {
          if (message) out.notifyMessage(message);
          if (error) out.notifyError(error);
          if (complete) out.notifyComplete();
        }, ms);
      });
      return new ServerStreamingCall(
        method as MethodInfo<WatchModelsRequest, WatchModelsResponse>,
        call.requestHeaders,
        input as WatchModelsRequest,
        call.headers as Promise<Record<string, string>>,
        out as RpcOutputStreamController<WatchModelsResponse>,
        call.status,
        call.trailers,
      ) as unknown as typeof call;
    },
  };
}

describe.skipIf(!redisAvailable)("read-your-writes with a shared level", { timeout: 60_000 }, () => {
  let stopRegistry: () => Promise<void>;
  let address: string;
  let writer: RegistryClient;
  const clients: RegistryClient[] = [];
  const stores: RedisCacheStore[] = [];
  const prefix = `modelreg:test:ryw:${randomBytes(6).toString("hex")}:`;

  beforeAll(async () => {
    const registry = await startTestRegistry({ streams: { pollIntervalMs: 50 } });
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
    await stopRegistry();
  });

  async function lagging(): Promise<{ client: RegistryClient; store: RedisCacheStore }> {
    const store = createRedisCacheStore({ url: redisUrl, keyPrefix: prefix });
    stores.push(store);
    const client = createRegistryClient({
      target: address,
      insecure: true,
      interceptors: [laggingWatch(300)],
      cache: { shared: store, progressIntervalMs: 200, sharedTimeoutMs: 2000 },
    });
    clients.push(client);
    await until(() => client.cacheStats()?.current === true, "the cached client's watch is current");
    return { client, store };
  }

  it("a read after a write through the client sees the write, whatever Redis holds", async () => {
    const { client: a, store } = await lagging();
    const v1 = await writer.createModel({ model: { name: "ryw", version: "1" } });
    const v2 = await writer.createModel({ model: { name: "ryw", version: "2" } });
    const doomed = await writer.createModel({ model: { name: "ryw-del", version: "1" } });
    await writer.setModelAlias({ name: "ryw", alias: "prod", version: "1" });
    // A fills Redis with the state before B's writes.
    await until(async () => (await a.resolveAlias("ryw", "prod")).id === v1.id, "A sees prod -> v1");
    await until(async () => (await a.resolveAlias("ryw", "latest")).id === v2.id, "A sees latest -> v2");
    await a.getModel({ id: doomed.id });
    const keys = [`alias:ryw\nprod`, `alias:ryw\nlatest`, `id:${doomed.id}`];
    await until(async () => (await store.get(keys)).every((entry) => entry !== undefined), "filled in Redis");
    await until(
      async () => ((await store.appliedRevision()) ?? -1n) >= (a.cacheStats()?.revision ?? 0n),
      "A's page written",
    );

    const { client: b } = await lagging();
    await b.setModelAlias({ name: "ryw", alias: "prod", version: "2" });
    expect((await b.resolveAlias("ryw", "prod")).id).toBe(v2.id);

    await b.deleteModel({ id: doomed.id });
    await expect(b.getModel({ id: doomed.id })).rejects.toMatchObject({ code: 5 /* NOT_FOUND */ });
    await expect(b.batchGetModels({ ids: [doomed.id, v1.id] })).rejects.toMatchObject({ code: 5 });

    const v3 = await b.createModel({ model: { name: "ryw", version: "3" } });
    expect((await b.resolveAlias("ryw", "latest")).id).toBe(v3.id);
  });
});
