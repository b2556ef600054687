// The client cache against a real registry over a socket: registry calls are
// counted by a server interceptor, changes come from a second client (as
// from another process) and reach the cache through its watch.
import { UpdateModelRequest } from "@modelreg/proto";
import {
  createMemoryStorage,
  type RegistryServerOptions,
  type ServerInterceptor,
} from "@modelreg/registry-server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../../test-support/registry";
import { startTcpProxy, type TcpProxy } from "../../../../test-support/tcp-proxy";
import { until } from "../../../../test-support/waiting";
import { type CacheOptions, Code, createRegistryClient, type RegistryClient } from "../index";
import { rejection } from "../test-support/rejection";

/** Registry calls by method name, counted where the registry receives them. */
class CallCounter {
  readonly calls = new Map<string, number>();
  readonly interceptor: ServerInterceptor = (next) => (call) => {
    this.calls.set(call.method.name, (this.calls.get(call.method.name) ?? 0) + 1);
    return next(call);
  };

  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  /** Calls of `method` made while `action` ran. */
  async during(method: string, action: () => Promise<unknown>): Promise<number> {
    const before = this.count(method);
    await action();
    return this.count(method) - before;
  }
}

interface Setup {
  counter: CallCounter;
  address: string;
  /** A client with the cache (the one under test). */
  cached: RegistryClient;
  /** A client without a cache: "another process" that writes. */
  other: RegistryClient;
  stop(): Promise<void>;
}

/** A registry (progress notifications as each watch asks), a cached client and an uncached one. */
async function setUp(
  server: Partial<RegistryServerOptions> = {},
  cache: CacheOptions = {},
  target?: (address: string) => Promise<string>,
): Promise<Setup> {
  const counter = new CallCounter();
  const registry = await startTestRegistry({
    streams: { pollIntervalMs: 50 },
    interceptors: [counter.interceptor],
    ...server,
  });
  const cachedTarget = target ? await target(registry.address) : registry.address;
  const cached = createRegistryClient({
    target: cachedTarget,
    insecure: true,
    cache: { progressIntervalMs: 200, ...cache },
  });
  const other = createRegistryClient({ target: registry.address, insecure: true });
  await until(() => cached.cacheStats()?.current === true, "the cache's watch is current");
  return {
    counter,
    address: registry.address,
    cached,
    other,
    async stop() {
      cached.close();
      other.close();
      await registry.server.shutdown({ graceMs: 100 });
    },
  };
}

/** A well-formed model id that no model has. */
const unknownId = (i: number) => `0190a000-0000-7000-8000-${String(i).padStart(12, "0")}`;

describe("the client cache, one registry", { timeout: 60_000 }, () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp();
  });
  afterAll(() => s.stop());

  it("1,000 concurrent reads of one cold id make exactly one registry GetModel", async () => {
    const model = await s.other.createModel({ model: { name: "flight", version: "1" } });
    // A client started after the create has not seen it: the id is cold.
    const cold = createRegistryClient({
      target: s.address,
      insecure: true,
      cache: { progressIntervalMs: 200 },
    });
    try {
      await until(() => cold.cacheStats()?.current === true, "the new cache's watch is current");
      const calls = await s.counter.during("GetModel", async () => {
        const answers = await Promise.all(
          Array.from({ length: 1000 }, () => cold.getModel({ id: model.id })),
        );
        expect(new Set(answers.map((m) => m.id))).toEqual(new Set([model.id]));
        expect(answers.every((m) => m.version === "1")).toBe(true);
      });
      expect(calls).toBe(1);
      expect(cold.cacheStats()).toMatchObject({ misses: 1, coalesced: 999 });
    } finally {
      cold.close();
    }
  });

  it("answers NOT_FOUND for unknown ids from the cache the second time", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => unknownId(i));
    const first = await s.counter.during("GetModel", async () => {
      for (const id of ids) {
        expect((await rejection(s.cached.getModel({ id }))).code).toBe(Code.NOT_FOUND);
      }
    });
    expect(first).toBe(50);
    const again = await s.counter.during("GetModel", async () => {
      for (const id of ids) {
        const error = await rejection(s.cached.getModel({ id }));
        expect(error.code).toBe(Code.NOT_FOUND);
        expect(error.message).toBe(`Model "${id}" not found.`);
        expect(error.reason).toBe("MODEL_NOT_FOUND");
      }
    });
    expect(again).toBe(0);
  });

  it("a cached NOT_FOUND lookup finds the model once another client's create arrives", async () => {
    const lookup = { name: "late", version: "1" };
    expect((await rejection(s.cached.lookupModel(lookup))).code).toBe(Code.NOT_FOUND);
    const cachedCalls = await s.counter.during("LookupModel", () => rejection(s.cached.lookupModel(lookup)));
    expect(cachedCalls).toBe(0);
    const created = await s.other.createModel({ model: lookup });
    await until(
      async () => (await s.cached.lookupModel(lookup).catch(() => undefined))?.id === created.id,
      "the cached client finds the new model",
    );
  });

  it("serves another client's update once the event arrived, and never the old version after", async () => {
    const model = await s.cached.createModel({ model: { name: "upd", version: "1", description: "old" } });
    await s.cached.getModel({ id: model.id });
    const updated = await s.other.updateModel({
      model: { id: model.id, description: "new" },
      updateMask: { paths: ["description"] },
    });
    await until(
      async () => (await s.cached.getModel({ id: model.id })).description === "new",
      "the cache serves the new version",
    );
    const calls = await s.counter.during("GetModel", async () => {
      for (let i = 0; i < 20; i++) {
        expect((await s.cached.getModel({ id: model.id })).etag).toBe(updated.etag);
      }
    });
    expect(calls).toBe(0);
  });

  it("reads its own writes at once", async () => {
    const model = await s.cached.createModel({ model: { name: "ryw", version: "1" } });
    expect((await s.cached.getModel({ id: model.id })).etag).toBe(model.etag);
    const tagged = await s.cached.addModelTags({ id: model.id, tags: ["production"] });
    expect((await s.cached.getModel({ id: model.id })).tags).toEqual(["production"]);
    expect((await s.cached.lookupModel({ name: "ryw", version: "1" })).etag).toBe(tagged.etag);
    // Through the generated client: the write's own headers carry its revision, and the cache applied it.
    const call = s.cached.service.updateModel(
      UpdateModelRequest.create({
        model: { id: model.id, description: "via service" },
        updateMask: { paths: ["description"] },
      }),
    );
    const revision = (await call.headers)["x-modelreg-revision"];
    expect(revision).toMatch(/^\d+$/);
    await call.response;
    const reads = await s.counter.during("GetModel", async () => {
      expect((await s.cached.getModel({ id: model.id })).description).toBe("via service");
    });
    expect(reads).toBe(0);
    await s.cached.deleteModel({ id: model.id });
    expect((await rejection(s.cached.getModel({ id: model.id }))).code).toBe(Code.NOT_FOUND);
    expect((await rejection(s.cached.lookupModel({ name: "ryw", version: "1" }))).code).toBe(Code.NOT_FOUND);
  });

  it("a hit is the caller's own copy", async () => {
    const model = await s.other.createModel({ model: { name: "copy", version: "1", tags: ["a"] } });
    const first = await s.cached.getModel({ id: model.id });
    first.tags.push("mutated");
    first.description = "mutated";
    const second = await s.cached.getModel({ id: model.id });
    expect(second.tags).toEqual(["a"]);
    expect(second.description).toBe("");
  });

  it("sends a read with a minRevision the cache has not applied to the registry", async () => {
    const model = await s.other.createModel({ model: { name: "token", version: "1" } });
    await s.cached.getModel({ id: model.id });
    const applied = s.cached.cacheStats()?.revision ?? 0n;
    const hit = await s.counter.during("GetModel", () =>
      s.cached.getModel({ id: model.id }, { minRevision: applied }),
    );
    expect(hit).toBe(0);
    const bypasses = s.cached.cacheStats()?.staleBypasses ?? 0;
    const ahead = await s.counter.during("GetModel", () =>
      s.cached.getModel({ id: model.id }, { minRevision: `${applied + 1000n}` }),
    );
    expect(ahead).toBe(1);
    expect(s.cached.cacheStats()?.staleBypasses).toBe(bypasses + 1);
    const error = await rejection(s.cached.getModel({ id: model.id }, { minRevision: "-1" }));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message).toMatch(/minRevision/);
  });

  it("BatchGetModels reads only the members it does not hold, in the order asked", async () => {
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map((v) => s.other.createModel({ model: { name: "batch", version: v } })),
    );
    if (!a || !b || !c) throw new Error("create failed");
    await s.cached.getModel({ id: a.id });
    await s.cached.getModel({ id: b.id });
    let answer: string[] = [];
    const calls = await s.counter.during("BatchGetModels", async () => {
      answer = (await s.cached.batchGetModels({ ids: [c.id, a.id, b.id, a.id] })).map((m) => m.version);
    });
    // One read for c, or none: c's CREATED event may already have put it in the cache.
    expect(calls).toBeLessThanOrEqual(1);
    expect(answer).toEqual(["c", "a", "b", "a"]);
    const cachedCalls = await s.counter.during("BatchGetModels", () =>
      s.cached.batchGetModels({ ids: [b.id, c.id] }),
    );
    expect(cachedCalls).toBe(0);
    const ids = [a.id, unknownId(900), b.id, unknownId(901)];
    const direct = await rejection(s.other.batchGetModels({ ids }));
    const viaCache = await rejection(s.cached.batchGetModels({ ids }));
    expect(viaCache.code).toBe(Code.NOT_FOUND);
    expect(viaCache.message).toBe(direct.message);
  });

  it("follows aliases: resolves from the cache, re-points on ALIAS_SET, and keeps latest current", async () => {
    const v1 = await s.other.createModel({ model: { name: "al", version: "1" } });
    const v2 = await s.other.createModel({ model: { name: "al", version: "2" } });
    await s.other.setModelAlias({ name: "al", alias: "champion", version: "1" });
    expect((await s.cached.resolveAlias("al", "champion")).id).toBe(v1.id);
    expect(await s.counter.during("LookupModel", () => s.cached.resolveAlias("al", "champion"))).toBe(0);
    await s.other.setModelAlias({ name: "al", alias: "champion", version: "2" });
    await until(
      async () => (await s.cached.resolveAlias("al", "champion")).id === v2.id,
      "the alias re-points in the cache",
    );
    expect((await s.cached.resolveAlias("al", "latest")).id).toBe(v2.id);
    expect(await s.counter.during("LookupModel", () => s.cached.resolveAlias("al", "latest"))).toBe(0);
    const v3 = await s.other.createModel({ model: { name: "al", version: "3" } });
    await until(
      async () => (await s.cached.resolveAlias("al", "latest")).id === v3.id,
      "latest moves to the new version",
    );
    await s.other.deleteModelAlias({ name: "al", alias: "champion" });
    await until(
      async () => (await s.cached.resolveAlias("al", "champion").catch((e) => e)).code === Code.NOT_FOUND,
      "the deleted alias is NOT_FOUND",
    );
  });

  it("does not take its own busy event loop for a silent watch", async () => {
    await until(() => s.cached.cacheStats()?.current === true, "the cache is current");
    // One second without a turn of the event loop: the watch's messages wait in the socket.
    const end = Date.now() + 1000;
    while (Date.now() < end) {
      // busy
    }
    expect(s.cached.cacheStats()?.current).toBe(true);
  });

  it("passes malformed ids to the registry uncached: its INVALID_ARGUMENT, not a cache answer", async () => {
    const direct = await rejection(s.other.getModel({ id: "not an id!" }));
    for (let i = 0; i < 2; i++) {
      const calls = await s.counter.during("GetModel", async () => {
        const error = await rejection(s.cached.getModel({ id: "not an id!" }));
        expect(error.code).toBe(Code.INVALID_ARGUMENT);
        expect(error.message).toBe(direct.message);
      });
      expect(calls).toBe(1);
    }
  });
});

describe("cache options and callers", { timeout: 60_000 }, () => {
  it("refuses a wrong option with a TypeError naming it", () => {
    const make = (cache: unknown) => () =>
      createRegistryClient({ target: "127.0.0.1:1", insecure: true, cache: cache as CacheOptions });
    expect(make({ progressIntervalMs: 50 })).toThrow(
      /`cache.progressIntervalMs` must be a whole number of at least 100/,
    );
    expect(make({ maxConcurrentFills: 0 })).toThrow(/`cache.maxConcurrentFills`/);
    expect(make({ notFoundTtlMs: -1 })).toThrow(/`cache.notFoundTtlMs`/);
    expect(make({ shared: {} })).toThrow(/`cache.shared` must be a SharedCacheStore/);
  });

  it("sends reads carrying a caller's own credentials or other headers to the registry", async () => {
    const s = await setUp();
    try {
      const model = await s.other.createModel({ model: { name: "creds", version: "1" } });
      await s.cached.getModel({ id: model.id });
      expect(await s.counter.during("GetModel", () => s.cached.getModel({ id: model.id }))).toBe(0);
      const asCaller = { metadata: { authorization: "Bearer someone-else" } };
      expect(await s.counter.during("GetModel", () => s.cached.getModel({ id: model.id }, asCaller))).toBe(1);
      // Any header of the caller's own may be what the registry authorizes on (an API key, a proxy's identity).
      const withKey = { metadata: { "x-api-key": "someone-elses-key" } };
      expect(await s.counter.during("GetModel", () => s.cached.getModel({ id: model.id }, withKey))).toBe(1);
      // Tracing headers say nothing about the caller: still answered from the cache.
      const traced = { metadata: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } };
      expect(await s.counter.during("GetModel", () => s.cached.getModel({ id: model.id }, traced))).toBe(0);
    } finally {
      await s.stop();
    }
  });
});

describe("the client cache when its watch breaks", { timeout: 60_000 }, () => {
  let s: Setup | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await s?.stop();
    await proxy?.close();
  });

  const throughProxy = async (address: string) => {
    const [host = "", port = ""] = address.split(":");
    proxy = await startTcpProxy({ host, port: Number(port) });
    return `127.0.0.1:${proxy.port}`;
  };

  it("stops answering when the watch goes silent and resumes with the new state after", async () => {
    s = await setUp({}, {}, throughProxy);
    const { cached, other, counter } = s;
    const model = await other.createModel({ model: { name: "silent", version: "1", description: "old" } });
    await cached.getModel({ id: model.id });
    if (!proxy) throw new Error("no proxy");
    proxy.partition();
    await until(() => cached.cacheStats()?.current === false, "the cache notices the silent watch");
    // Not answered from the cache: the read goes to the (unreachable) registry and times out.
    const error = await rejection(cached.getModel({ id: model.id }, { timeoutMs: 300 }));
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    await other.updateModel({
      model: { id: model.id, description: "new" },
      updateMask: { paths: ["description"] },
    });
    proxy.heal();
    await until(() => cached.cacheStats()?.current === true, "the cache is current again", {
      timeoutMs: 30_000,
    });
    await until(
      async () => (await cached.getModel({ id: model.id })).description === "new",
      "the cache serves the new state",
    );
    const calls = await counter.during("GetModel", () => cached.getModel({ id: model.id }));
    expect(calls).toBe(0);
  });

  it("clears itself when the history it would resume from was pruned (OUT_OF_RANGE)", async () => {
    s = await setUp(
      { storage: createMemoryStorage({ retainChanges: 3, retainHistory: 1 }) },
      {},
      throughProxy,
    );
    const { cached, other } = s;
    const model = await other.createModel({ model: { name: "pruned", version: "1", description: "old" } });
    expect((await cached.getModel({ id: model.id })).description).toBe("old");
    if (!proxy) throw new Error("no proxy");
    proxy.cut();
    await until(() => cached.cacheStats()?.current === false, "the cache notices the broken watch");
    await other.updateModel({
      model: { id: model.id, description: "new" },
      updateMask: { paths: ["description"] },
    });
    for (let i = 0; i < 10; i++)
      await other.createModel({ model: { name: "pruned-filler", version: `${i}` } });
    proxy.restore();
    await until(() => cached.cacheStats()?.current === true, "the cache is current again", {
      timeoutMs: 30_000,
    });
    expect((await cached.getModel({ id: model.id })).description).toBe("new");
  });
});
