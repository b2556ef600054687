// WatchModels and ImportModels over real gRPC, on memory and SQLite storage
// (the heavier tests get 30 s: they write thousands of models, and CI runs
// every file at once on two cores):
// the change feed's ordering and completeness under concurrent writers,
// resumption, filters, retention, slow consumers and shutdown; imports in
// batches with per-item outcomes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Code,
  ImportOutcome,
  type Model,
  ModelEventType,
  RegistryError,
  type WatchModelsResponse,
} from "@modelreg/proto";
import { afterAll, describe, expect, it } from "vitest";
import { until } from "../../../test-support/waiting";
import { createRegistryServer, type RegistryServerOptions, type StorageAdapter } from "./index";
import { createMemoryStorage } from "./storage/memory";
import { createSqliteStorage } from "./storage/sqlite";
import { createTestClient } from "./test-support/grpc-client";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const tmp = mkdtempSync(join(tmpdir(), "modelreg-streams-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;

// Pruning needs both windows: the history is kept forever unless `retainHistory` says otherwise.
const adapters: [string, (retainChanges?: number) => Promise<StorageAdapter>][] = [
  [
    "memory",
    async (retainChanges) =>
      createMemoryStorage(retainChanges ? { retainChanges, retainHistory: retainChanges } : {}),
  ],
  [
    "sqlite",
    (retainChanges) =>
      createSqliteStorage({
        path: join(tmp, `streams-${files++}.db`),
        synchronous: "NORMAL",
        ...(retainChanges ? { retainChanges, retainHistory: retainChanges } : {}),
      }),
  ],
];

async function startServer(storage: StorageAdapter, extra: Partial<RegistryServerOptions> = {}) {
  const server = createRegistryServer({
    storage,
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: silent,
    ...extra,
  });
  const { port } = await server.listen();
  const client = createTestClient(`127.0.0.1:${port}`);
  const stop = async () => {
    client.close();
    await server.shutdown({ graceMs: 1000 });
    await storage.close();
  };
  return { server, client, port, stop };
}

const create = (client: ReturnType<typeof createTestClient>, model: Partial<Model>) =>
  client.call<{ model: Model }>("CreateModel", { model }).then((r) => r.model);

/** The (revision, type, model name) of each event; progress notifications left out. */
const events = (messages: readonly WatchModelsResponse[]) =>
  messages.flatMap((m) =>
    m.event ? [[Number(m.revision), ModelEventType[m.event.type], m.event.model?.name] as const] : [],
  );

describe.each(adapters)("WatchModels with %s storage", (_name, open) => {
  it("starts with a progress notification, then delivers every kind of change in order", async () => {
    const { client, stop } = await startServer(await open());
    try {
      const before = await create(client, { name: "before", version: "1" });
      const watch = client.watch({});
      const [start] = await watch.waitFor(1);
      expect(start).toEqual({ revision: 1n }); // "from now": the latest revision, no event
      const model = await create(client, { name: "m", version: "1", framework: "onnx" });
      await client.call("AddModelTags", { id: model.id, tags: ["prod"] });
      await client.call("UpdateModelMetadata", { id: model.id, set: { k: "v" } });
      await client.call("UpdateModel", {
        model: { id: model.id, description: "d" },
        updateMask: { paths: ["description"] },
      });
      await client.call("DeleteModel", { id: before.id });
      const messages = await watch.waitFor(6);
      expect(events(messages)).toEqual([
        [2, "CREATED", "m"],
        [3, "UPDATED", "m"],
        [4, "UPDATED", "m"],
        [5, "UPDATED", "m"],
        [6, "DELETED", "before"],
      ]);
      const [created, tagged, , described, deleted] = messages.slice(1).map((m) => m.event);
      expect(created?.model).toEqual(model);
      expect(tagged?.model?.tags).toEqual(["prod"]);
      expect(described?.model).toMatchObject({ description: "d", tags: ["prod"], metadata: { k: "v" } });
      expect(deleted).toMatchObject({ modelId: before.id, model: { id: before.id, name: "before" } });
      expect(Number(deleted?.commitTime?.seconds)).toBeGreaterThan(1_700_000_000);
      // Failed writes are not events.
      await expect(create(client, { name: "m", version: "1" })).rejects.toMatchObject({
        code: Code.ALREADY_EXISTS,
      });
      await create(client, { name: "after", version: "1" });
      expect(events(await watch.waitFor(7)).at(-1)).toEqual([7, "CREATED", "after"]);
      watch.cancel();
    } finally {
      await stop();
    }
  });

  it("resumes after a revision: exactly the later changes, and filters by the ListModels language", async () => {
    const { client, stop } = await startServer(await open());
    try {
      for (let i = 1; i <= 6; i++) {
        await create(client, { name: `m${i}`, version: "1", framework: i % 2 ? "onnx" : "torch" });
      }
      const resumed = client.watch({ afterRevision: 3n });
      expect(events(await resumed.waitFor(4))).toEqual([
        [4, "CREATED", "m4"],
        [5, "CREATED", "m5"],
        [6, "CREATED", "m6"],
      ]);
      const fromZero = client.watch({ afterRevision: 0n, filter: 'framework = "onnx"' });
      const filtered = await fromZero.waitFor(4);
      expect(filtered[0]).toEqual({ revision: 0n });
      expect(events(filtered)).toEqual([
        [1, "CREATED", "m1"],
        [3, "CREATED", "m3"],
        [5, "CREATED", "m5"],
      ]);
      resumed.cancel();
      fromZero.cancel();
    } finally {
      await stop();
    }
  });

  it("refuses revisions it cannot serve (OUT_OF_RANGE) and bad filters (INVALID_ARGUMENT)", async () => {
    const { client, stop } = await startServer(await open(5));
    try {
      for (let i = 0; i < 20; i++) await create(client, { name: `m${i}`, version: "1" });
      const tooOld = await client.watch({ afterRevision: 1n }).ended;
      expect(tooOld?.code).toBe(Code.OUT_OF_RANGE);
      expect(tooOld?.message).toMatch(/older than the retained change history.*list the models again/);
      expect(tooOld?.reason).toBe("REVISION_PRUNED");
      // The newest `retainChanges` are always there.
      const recent = client.watch({ afterRevision: 15n });
      expect(events(await recent.waitFor(6)).map(([r]) => r)).toEqual([16, 17, 18, 19, 20]);
      recent.cancel();
      const ahead = await client.watch({ afterRevision: 99n }).ended;
      expect(ahead?.code).toBe(Code.OUT_OF_RANGE);
      expect(ahead?.message).toMatch(/ahead of the latest revision 20/);
      const badFilter = await client.watch({ filter: "name = " }).ended;
      expect(badFilter?.code).toBe(Code.INVALID_ARGUMENT);
      expect(badFilter?.violations[0]?.field).toBe("filter");
    } finally {
      await stop();
    }
  });

  it("concurrent writers, three watchers: each sees every revision once, in order, with no gap", async () => {
    const { client, stop } = await startServer(await open());
    try {
      const fromZero = client.watch({ afterRevision: 0n });
      const fromNow = client.watch({});
      await fromNow.waitFor(1);
      let midway: ReturnType<typeof client.watch> | undefined;
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 15; i++) {
          const model = await create(client, { name: `w${w}-${i}`, version: "1" });
          await client.call("AddModelTags", { id: model.id, tags: ["t"] });
          if (w === 0 && i === 7) midway = client.watch({ afterRevision: 20n });
        }
      });
      await Promise.all(writers);
      const total = 4 * 15 * 2;
      for (const [watch, start] of [
        [fromZero, 0],
        [fromNow, 0],
        [midway, 20],
      ] as const) {
        if (!watch) throw new Error("the mid-way watch did not start");
        const got = events(await watch.waitFor(1 + total - start)).map(([revision]) => revision);
        expect(got).toEqual(Array.from({ length: total - start }, (_, i) => start + i + 1));
        watch.cancel();
      }
    } finally {
      await stop();
    }
  }, 30_000);

  it("sends progress notifications while idle, so a watcher always knows where it is", async () => {
    const { client, stop } = await startServer(await open(), { streams: { progressIntervalMs: 150 } });
    try {
      await create(client, { name: "a", version: "1" });
      const watch = client.watch({ filter: 'name = "nothing-matches"' });
      await create(client, { name: "b", version: "1" });
      const messages = await watch.waitFor(4);
      expect(messages.every((m) => m.event === undefined)).toBe(true);
      // The filtered-out change still advances the revision the watcher can resume from.
      expect(messages.at(-1)?.revision).toBe(2n);
      watch.cancel();
    } finally {
      await stop();
    }
  });
});

describe.each(adapters)("WatchModels filters and progress with %s storage", (_name, open) => {
  it("a filtered watch gets LEFT_FILTER once when a model stops matching, nothing for one that never matched", async () => {
    const { client, stop } = await startServer(await open());
    try {
      const watch = client.watch({ filter: "tags:production" });
      await watch.waitFor(1);
      const promoted = await create(client, { name: "promoted", version: "1", tags: ["production"] });
      const other = await create(client, { name: "other", version: "1", tags: ["staging"] });
      await client.call("AddModelTags", { id: promoted.id, tags: ["gpu"] });
      await client.call("RemoveModelTags", { id: promoted.id, tags: ["production"] });
      // No longer matching: later edits of it, and edits of a model that never matched, are not sent.
      await client.call("UpdateModelMetadata", { id: promoted.id, set: { k: "v" } });
      await client.call("UpdateModelMetadata", { id: other.id, set: { k: "v" } });
      await client.call("AddModelTags", { id: other.id, tags: ["production"] });
      const messages = await watch.waitFor(5);
      expect(events(messages)).toEqual([
        [1, "CREATED", "promoted"],
        [3, "UPDATED", "promoted"],
        [4, "LEFT_FILTER", "promoted"],
        [7, "UPDATED", "other"],
      ]);
      const left = messages.find((m) => m.event?.type === ModelEventType.LEFT_FILTER)?.event;
      expect(left?.model?.tags).toEqual(["gpu"]); // the new state
      // An unfiltered watch from the start sees plain UPDATED events only.
      const all = client.watch({ afterRevision: 0n });
      expect(events(await all.waitFor(8)).map(([, type]) => type)).not.toContain("LEFT_FILTER");
      watch.cancel();
      all.cancel();
    } finally {
      await stop();
    }
  });

  it("honours progress_interval (at least 100 ms; capped at the server's) and refuses shorter ones", async () => {
    const { client, stop } = await startServer(await open());
    try {
      // The server's own interval is 10 s: several notifications within seconds are the watch's own.
      const watch = client.watch({ progressInterval: { seconds: 0n, nanos: 100_000_000 } });
      await until(() => watch.received.length >= 6, "six progress notifications", { timeoutMs: 5000 });
      expect(watch.received.every((m) => m.event === undefined && m.revision === 0n)).toBe(true);
      watch.cancel();
      for (const progressInterval of [
        { seconds: 0n, nanos: 99_000_000 },
        { seconds: -1n, nanos: 0 },
        { seconds: 0n, nanos: 0 },
      ]) {
        const error = await client.watch({ progressInterval }).ended;
        expect(error?.code).toBe(Code.INVALID_ARGUMENT);
        expect(error?.violations[0]?.field).toBe("progress_interval");
        expect(error?.message).toMatch(/at least 100 ms/);
      }
    } finally {
      await stop();
    }
  });
});

describe("WatchModels and the server's life", () => {
  it("refuses stream settings that would flood or never flush", () => {
    for (const streams of [
      { progressIntervalMs: 0 },
      { pollIntervalMs: -1 },
      { importBatchSize: Number.NaN },
    ]) {
      expect(() =>
        createRegistryServer({ storage: createMemoryStorage(), insecure: true, logger: silent, streams }),
      ).toThrow(/streams\.\w+` must be a whole number of at least 1/);
    }
  });

  it("shutdown ends open watches with UNAVAILABLE at once instead of waiting for them", async () => {
    const { server, client } = await startServer(createMemoryStorage());
    const watches = [client.watch({}), client.watch({ afterRevision: 0n })];
    await Promise.all(watches.map((w) => w.waitFor(1)));
    const started = Date.now();
    await server.shutdown({ graceMs: 20_000 });
    const stoppedMs = Date.now() - started;
    for (const watch of watches) {
      const error = await watch.ended;
      expect(error?.code).toBe(Code.UNAVAILABLE);
      expect(error?.message).toMatch(/shutting down; resume the watch/);
    }
    // Far below the 20 s grace: nothing waited for the watches.
    expect(stoppedMs).toBeLessThan(5000);
    client.close();
  });

  it("a watcher that stops reading holds a bounded amount: the server stops reading changes, then ends it RESOURCE_EXHAUSTED", async () => {
    const storage = createMemoryStorage();
    let changesRead = 0;
    const readChanges = storage.readChanges.bind(storage);
    storage.readChanges = async (after, limit, options) => {
      const page = await readChanges(after, limit, options);
      changesRead += page.changes.length;
      return page;
    };
    const { client, port, stop } = await startServer(storage, { streams: { watchStallTimeoutMs: 1500 } });
    // The stalled watcher is another client, on its own connection: a stream
    // nobody reads can use up its connection's HTTP/2 window, and the
    // writers' answers must not wait behind it.
    const watcher = createTestClient(`127.0.0.1:${port}`, { "grpc.use_local_subchannel_pool": 1 });
    try {
      const stalled = watcher.watch({});
      await stalled.waitFor(1);
      stalled.stream.pause(); // reads nothing more; HTTP/2 flow control fills up
      const pausedAt = Date.now();
      const description = "x".repeat(2000);
      const total = 3000;
      for (let i = 0; i < total; i += 100) {
        await Promise.all(
          Array.from({ length: 100 }, (_, j) =>
            create(client, { name: `m${i + j}`, version: "1", description }),
          ),
        );
      }
      const readWhileStalled = changesRead;
      const heapBefore = process.memoryUsage().heapUsed;
      // Stay paused past the stall timeout (1500 ms from the server's first
      // blocked write, which came after the pause): resumed earlier, the
      // watch would drain and go on, and nothing would end it.
      await new Promise((r) => setTimeout(r, Math.max(300, pausedAt + 2500 - Date.now())));
      // Bounded: the watch read a few pages past what the transport buffered, not all 3000 changes.
      expect(readWhileStalled).toBeLessThan(total);
      expect(changesRead).toBe(readWhileStalled);
      stalled.stream.resume();
      const error = await stalled.ended;
      expect(error?.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(error?.message).toMatch(/read nothing for 1500 ms.*resume it/);
      process.stdout.write(
        `[measured] a stalled watcher: the server read ${readWhileStalled} of ${total} changes (~2 KB each) before it stopped; heap ${Math.round(heapBefore / 1e6)} MB\n`,
      );
    } finally {
      watcher.close();
      await stop();
    }
  }, 30_000);
});

describe.each(adapters)("ImportModels with %s storage", (_name, open) => {
  it("reports one outcome per item: created, already existing, failed (with the reason), replayed", async () => {
    const { client, stop } = await startServer(await open(), { streams: { importBatchSize: 3 } });
    try {
      const existing = await create(client, { name: "existing", version: "1" });
      const items = [
        { model: { name: "a", version: "1", tags: ["x"] }, requestId: "req-a" },
        { model: { name: "", version: "1" } }, // invalid: no name
        { model: { name: "existing", version: "1" } },
        { model: { name: "b", version: "1" } },
        { model: { name: "b", version: "1" } }, // the same (name, version) twice in one stream
        Buffer.from([0xff, 0xff, 0xff]), // not a message at all
        { model: { name: "c", version: "1" }, requestId: "req-a" }, // a request id reused for another model
      ];
      const summary = await client.importModels(items);
      expect(summary).toMatchObject({ createdCount: 2, alreadyExistsCount: 2, failedCount: 3 });
      const outcome = (index: number) => summary.results.find((r) => r.index === index);
      expect(summary.results.map((r) => [r.index, ImportOutcome[r.outcome]])).toEqual([
        [1, "FAILED"],
        [2, "ALREADY_EXISTS"],
        [4, "ALREADY_EXISTS"],
        [5, "FAILED"],
        [6, "FAILED"],
      ]);
      expect(outcome(1)?.error).toMatchObject({ code: Code.INVALID_ARGUMENT });
      expect(
        RegistryError.fromStatus(outcome(1)?.error ?? { code: 0, message: "", details: [] }).violations,
      ).toEqual([{ field: "model.name", description: expect.stringMatching(/required/) }]);
      expect(outcome(2)?.modelId).toBe(existing.id);
      expect(outcome(5)?.error?.message).toMatch(/not a valid modelregistry.v1.ImportModelsRequest/);
      expect(outcome(6)?.error?.message).toMatch(/request_id "req-a" was already used/);

      const { models } = await client.call<{ models: Model[] }>("ListModels", { orderBy: "name" });
      expect(models.map((m) => m.name)).toEqual(["a", "b", "existing"]);

      // The same stream again: the item with a request id is CREATED again
      // (it was, by the first stream), and nothing is created twice.
      const again = await client.importModels(items);
      expect(again).toMatchObject({ createdCount: 1, alreadyExistsCount: 3, failedCount: 3 });
      const after = await client.call<{ models: Model[] }>("ListModels", {});
      expect(after.models).toHaveLength(3);
    } finally {
      await stop();
    }
  }, 30_000);

  it("lists at most 1,000 per-item results, keeping the counts complete", async () => {
    const { client, stop } = await startServer(await open());
    try {
      const items = Array.from({ length: 1005 }, () => ({ model: { name: "", version: "1" } }));
      const summary = await client.importModels(items);
      expect(summary).toMatchObject({ createdCount: 0, alreadyExistsCount: 0, failedCount: 1005 });
      expect(summary.results).toHaveLength(1000);
      expect(summary.results.at(-1)?.index).toBe(999);
    } finally {
      await stop();
    }
  }, 30_000);

  it("writes in batches (one storage call each) and wakes watchers with every created model", async () => {
    const storage = await open();
    let batches = 0;
    const insertMany = storage.insertMany.bind(storage);
    storage.insertMany = (items, options) => {
      batches++;
      return insertMany(items, options);
    };
    const { client, stop } = await startServer(storage, { streams: { importBatchSize: 100 } });
    try {
      const watch = client.watch({});
      await watch.waitFor(1);
      const items = Array.from({ length: 250 }, (_, i) => ({ model: { name: `bulk-${i}`, version: "1" } }));
      const summary = await client.importModels(items);
      expect(summary).toEqual({ createdCount: 250, alreadyExistsCount: 0, failedCount: 0, results: [] });
      expect(batches).toBe(3);
      const messages = await watch.waitFor(251);
      expect(events(messages).map(([revision, type]) => `${revision}:${type}`)).toEqual(
        Array.from({ length: 250 }, (_, i) => `${i + 1}:CREATED`),
      );
      watch.cancel();
    } finally {
      await stop();
    }
  }, 30_000);
});
