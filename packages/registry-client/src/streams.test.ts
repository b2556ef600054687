/**
 * watchModels and importModels against a real registry server over a real
 * socket. Cancellation is observed on a bare grpc-js server, which records
 * what the registry's handler could not report to a test.
 */
import { getEventListeners } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { WatchModelsRequest, WatchModelsResponse } from "@modelreg/proto";
import { createMemoryStorage, type RegistryServer, type StorageAdapter } from "@modelreg/registry-server";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../test-support/registry";
import { within } from "../../../test-support/waiting";
import {
  Code,
  createRegistryClient,
  type ImportItem,
  ImportOutcome,
  ModelEventType,
  type RegistryClient,
  RegistryError,
  type WatchModelsResponse as WatchMessage,
  type WatchReconnectInfo,
} from "./index";
import { startConnected, stopConnected } from "./test-support/connected";

/** Reads from a watch into `seen` until `until` returns true (or the watch fails). */
async function readUntil(
  watch: AsyncIterator<WatchMessage>,
  seen: WatchMessage[],
  until: (seen: readonly WatchMessage[]) => boolean,
  ms = 10_000,
): Promise<void> {
  await within(
    (async () => {
      while (!until(seen)) {
        const next = await watch.next();
        if (next.done) throw new Error("the watch ended");
        seen.push(next.value);
      }
    })(),
    ms,
    "the expected watch messages",
  );
}

const events = (seen: readonly WatchMessage[]) => seen.filter((m) => m.event !== undefined);
const eventNames = (seen: readonly WatchMessage[]) =>
  events(seen).map(
    (m) => `${ModelEventType[m.event?.type ?? 0]} ${m.event?.model?.name}@${m.event?.model?.version}`,
  );

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

describe("watchModels against a real registry", () => {
  let server: RegistryServer;
  let client: RegistryClient;

  beforeAll(async () => {
    ({ server, client } = await startConnected());
  });
  afterAll(() => stopConnected({ server, client }));

  it("starts with a progress notification, then sees every write once, in order", async () => {
    const watch = client.watchModels({ filter: 'name = "ordered"' });
    const seen: WatchMessage[] = [];
    await readUntil(watch, seen, (s) => s.length >= 1);
    const start = seen[0];
    expect(start?.event).toBeUndefined();

    const created = [];
    for (let i = 0; i < 5; i++) {
      created.push(await client.createModel({ model: { name: "ordered", version: `${i}` } }));
    }
    const first = created[0];
    if (!first) throw new Error("unreachable");
    const tagged = await client.addModelTags({ id: first.id, tags: ["prod"] });
    await client.deleteModel({ id: first.id, etag: tagged.etag });

    await readUntil(watch, seen, (s) => events(s).length >= 7);
    await watch.return?.();
    expect(eventNames(seen)).toEqual([
      "CREATED ordered@0",
      "CREATED ordered@1",
      "CREATED ordered@2",
      "CREATED ordered@3",
      "CREATED ordered@4",
      "UPDATED ordered@0",
      "DELETED ordered@0",
    ]);
    const revisions = events(seen).map((m) => m.revision);
    // Nothing else wrote in between, so the revisions follow each other from the start.
    expect(revisions).toEqual(revisions.map((_, i) => (start?.revision ?? 0n) + BigInt(i + 1)));
    for (const m of events(seen)) expect(m.event?.revision).toBe(m.revision);
    const deleted = events(seen).at(-1)?.event;
    expect(deleted?.modelId).toBe(first.id);
    expect(deleted?.commitTime).toBeDefined();
  });

  it("resumes after a revision with exactly the changes after it", async () => {
    const first = client.watchModels({ filter: 'name = "resume"' });
    const seen: WatchMessage[] = [];
    await readUntil(first, seen, (s) => s.length >= 1);
    for (let i = 0; i < 4; i++) await client.createModel({ model: { name: "resume", version: `${i}` } });
    await readUntil(first, seen, (s) => events(s).length >= 4);
    await first.return?.();
    const middle = events(seen)[1]?.revision;
    if (middle === undefined) throw new Error("unreachable");

    // A decimal string, as a revision read back from a file would be.
    const resumed = client.watchModels({ afterRevision: middle.toString(), filter: 'name = "resume"' });
    const again: WatchMessage[] = [];
    await readUntil(resumed, again, (s) => s.length >= 1);
    expect(again[0]?.event).toBeUndefined();
    expect(again[0]?.revision).toBe(middle);
    await client.createModel({ model: { name: "resume", version: "marker" } });
    await readUntil(resumed, again, (s) => eventNames(s).includes("CREATED resume@marker"));
    await resumed.return?.();
    expect(eventNames(again)).toEqual(["CREATED resume@2", "CREATED resume@3", "CREATED resume@marker"]);
  });

  it("delivers only what matches the filter, and progress advances the revision past the rest", async () => {
    const watch = client.watchModels({ filter: 'name = "kept"' });
    const seen: WatchMessage[] = [];
    await readUntil(watch, seen, (s) => s.length >= 1);
    await client.createModel({ model: { name: "dropped", version: "1" } });
    await client.createModel({ model: { name: "kept", version: "1" } });
    await client.createModel({ model: { name: "dropped", version: "2" } });
    const last = await client.createModel({ model: { name: "kept", version: "2" } });
    await readUntil(watch, seen, (s) => events(s).length >= 2);
    await watch.return?.();
    expect(eventNames(seen)).toEqual(["CREATED kept@1", "CREATED kept@2"]);
    const revisions = seen.map((m) => m.revision);
    expect([...revisions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(revisions);
    expect(events(seen).at(-1)?.event?.modelId).toBe(last.id);
  });

  it("throws OUT_OF_RANGE for a revision the registry does not have, without reconnecting", async () => {
    const reconnects: WatchReconnectInfo[] = [];
    const watch = client.watchModels(
      { afterRevision: 1_000_000_000n },
      { onReconnect: (info) => reconnects.push(info) },
    );
    const error = await within(rejection(watch.next()), 5000, "OUT_OF_RANGE");
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe(Code.OUT_OF_RANGE);
    expect(reconnects).toEqual([]);
    expect(await watch.next()).toEqual({ done: true, value: undefined });
  });

  it("throws INVALID_ARGUMENT for a bad filter", async () => {
    const error = await within(
      rejection(client.watchModels({ filter: "name ==== (" }).next()),
      5000,
      "INVALID_ARGUMENT",
    );
    expect((error as RegistryError).code).toBe(Code.INVALID_ARGUMENT);
  });

  it.each([-1, 1.5, "-5", "1.5", "abc", "1e3", "9223372036854775808", "18446744073709551616", 2n ** 63n])(
    "refuses the malformed afterRevision %s with INVALID_ARGUMENT before calling",
    (afterRevision) => {
      let error: unknown;
      try {
        client.watchModels({ afterRevision });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as RegistryError).code).toBe(Code.INVALID_ARGUMENT);
      expect((error as RegistryError).message).toMatch(/afterRevision. must be a non-negative integer/);
    },
  );
});

describe.each([
  {
    name: "memory storage (the same object)",
    storage: async () => ({ open: async () => createMemoryStorage(), shared: true, cleanup: () => {} }),
  },
  {
    name: "SQLite (the same file)",
    storage: async () => {
      const dir = mkdtempSync(join(tmpdir(), "modelreg-watch-"));
      const path = join(dir, "registry.db");
      return {
        open: () => createSqliteStorage({ path }),
        shared: false,
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
])("a registry restart under a watch, $name", ({ storage: makeStorage }) => {
  it("the watch resumes without a gap or a duplicate", async () => {
    const backing = await makeStorage();
    let storage: StorageAdapter = await backing.open();
    let registry = await startTestRegistry({ storage });
    const port = registry.port;
    const client = createRegistryClient({
      target: registry.address,
      insecure: true,
      retry: { maxAttempts: 20, initialBackoffMs: 50, maxBackoffMs: 500 },
    });
    const reconnects: WatchReconnectInfo[] = [];
    const controller = new AbortController();
    const watch = client.watchModels(
      {},
      {
        signal: controller.signal,
        onReconnect: (info) => reconnects.push(info),
        reconnect: { initialBackoffMs: 50, maxBackoffMs: 500 },
      },
    );
    try {
      const seen: WatchMessage[] = [];
      await readUntil(watch, seen, (s) => s.length >= 1);
      for (let i = 0; i < 3; i++) await client.createModel({ model: { name: "restart", version: `a${i}` } });
      await readUntil(watch, seen, (s) => events(s).length >= 3);

      await registry.server.shutdown({ graceMs: 200 });
      if (!backing.shared) storage = await backing.open();
      registry = await startTestRegistry({ storage, port });
      for (let i = 0; i < 3; i++) {
        await client.createModel(
          { model: { name: "restart", version: `b${i}` }, requestId: `restart-b${i}` },
          { timeoutMs: 10_000 },
        );
      }
      await readUntil(watch, seen, (s) => events(s).length >= 6, 20_000);
      expect(eventNames(seen)).toEqual([
        "CREATED restart@a0",
        "CREATED restart@a1",
        "CREATED restart@a2",
        "CREATED restart@b0",
        "CREATED restart@b1",
        "CREATED restart@b2",
      ]);
      const revisions = events(seen).map((m) => m.revision);
      const start = seen[0]?.revision ?? 0n;
      expect(revisions).toEqual(revisions.map((_, i) => start + BigInt(i + 1)));
      expect(reconnects.length).toBeGreaterThanOrEqual(1);
      expect(reconnects[0]?.afterRevision).toBe(revisions[2]);
    } finally {
      controller.abort();
      client.close();
      await registry.server.shutdown({ graceMs: 100 });
      backing.cleanup();
    }
  }, 60_000);
});

describe("a consumer that stops reading for longer than the registry allows", () => {
  it("is cut off with RESOURCE_EXHAUSTED and resumes where it stopped, missing nothing", async () => {
    const { server, address } = await startTestRegistry({ streams: { watchStallTimeoutMs: 300 } });
    const client = createRegistryClient({ target: address, insecure: true });
    const controller = new AbortController();
    const reconnects: WatchReconnectInfo[] = [];
    try {
      const watch = client.watchModels(
        { filter: 'name = "stalled"' },
        { signal: controller.signal, onReconnect: (info) => reconnects.push(info) },
      );
      const seen: WatchMessage[] = [];
      await readUntil(watch, seen, (s) => s.length >= 1);
      // Far more than HTTP/2 flow control and the client's buffer hold.
      const description = "x".repeat(4000);
      const summary = await client.importModels(
        Array.from({ length: 600 }, (_, i) => ({ model: { name: "stalled", version: `${i}`, description } })),
      );
      expect(summary.createdCount).toBe(600);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await readUntil(watch, seen, (s) => events(s).length >= 600, 20_000);
      expect(reconnects.map((r) => Code[r.error.code])).toContain("RESOURCE_EXHAUSTED");
      const revisions = events(seen).map((m) => m.revision);
      const start = seen[0]?.revision ?? 0n;
      expect(revisions).toEqual(revisions.map((_, i) => start + BigInt(i + 1)));
      expect(new Set(events(seen).map((m) => m.event?.model?.version)).size).toBe(600);
    } finally {
      controller.abort();
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  }, 60_000);
});

/** A bare grpc-js server whose WatchModels sends one progress message and records the cancellation. */
async function startBareWatchServer() {
  const server = new grpc.Server();
  const calls: { request: WatchModelsRequest; cancelled: Promise<void> }[] = [];
  server.register<Buffer, Buffer>(
    "/modelregistry.v1.ModelService/WatchModels",
    (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      calls.push({
        request: WatchModelsRequest.fromBinary(call.request),
        cancelled: new Promise((resolve) => call.on("cancelled", () => resolve())),
      });
      call.write(Buffer.from(WatchModelsResponse.toBinary(WatchModelsResponse.create({ revision: 7n }))));
    },
    (response: Buffer) => response,
    (request: Buffer) => request,
    "serverStream",
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { server, port, calls };
}

describe("ending a watch", () => {
  let bare: Awaited<ReturnType<typeof startBareWatchServer>>;
  let client: RegistryClient;
  beforeAll(async () => {
    bare = await startBareWatchServer();
    client = createRegistryClient({ target: `127.0.0.1:${bare.port}`, insecure: true });
  });
  afterAll(() => {
    client.close();
    bare.server.forceShutdown();
  });

  it("break in for-await cancels the stream on the server", async () => {
    const before = bare.calls.length;
    for await (const message of client.watchModels({ afterRevision: 7n, filter: 'name = "x"' })) {
      expect(message.revision).toBe(7n);
      break;
    }
    const call = bare.calls[before];
    expect(call?.request).toEqual({ afterRevision: 7n, filter: 'name = "x"' });
    await within(
      call?.cancelled ?? Promise.reject(new Error("no call")),
      3000,
      "the server seeing the cancellation",
    );
  });

  it("an AbortSignal cancels the stream while the loop waits, and leaves no listener", async () => {
    const controller = new AbortController();
    const before = bare.calls.length;
    const watch = client.watchModels({}, { signal: controller.signal });
    expect((await watch.next()).value?.revision).toBe(7n);
    const pending = rejection(watch.next());
    setTimeout(() => controller.abort(), 50);
    const error = await within(pending, 3000, "the watch ending");
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe(Code.CANCELLED);
    await within(bare.calls[before]?.cancelled ?? Promise.reject(new Error("no call")), 3000, "cancellation");
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("100 watches on one signal, each ended by break, leave no listener", async () => {
    const controller = new AbortController();
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        for await (const _ of client.watchModels({}, { signal: controller.signal })) break;
      }),
    );
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("an already aborted signal fails at once without calling", async () => {
    const before = bare.calls.length;
    const error = await rejection(client.watchModels({}, { signal: AbortSignal.abort() }).next());
    expect((error as RegistryError).code).toBe(Code.CANCELLED);
    expect(bare.calls.length).toBe(before);
  });
});

describe("importModels against a real registry", () => {
  let server: RegistryServer;
  let client: RegistryClient;

  beforeAll(async () => {
    ({ server, client } = await startConnected());
  });
  afterAll(() => stopConnected({ server, client }));

  const countOf = async (name: string) =>
    (await client.listModels({ filter: `name = "${name}"`, pageSize: 1000 })).models.length;

  it("reports created, already existing and failed items", async () => {
    const existing = await client.createModel({ model: { name: "mixed", version: "dup" } });
    const summary = await client.importModels([
      { model: { name: "mixed", version: "1", framework: "pytorch" } },
      { model: { name: "", version: "2" } },
      { model: { name: "mixed", version: "dup" } },
      { model: { name: "mixed", version: "3" } },
    ]);
    expect(summary).toMatchObject({ createdCount: 2, alreadyExistsCount: 1, failedCount: 1 });
    const failed = summary.results.find((r) => r.outcome === ImportOutcome.FAILED);
    expect(failed?.index).toBe(1);
    expect(failed?.error?.code).toBe(Code.INVALID_ARGUMENT);
    const duplicate = summary.results.find((r) => r.outcome === ImportOutcome.ALREADY_EXISTS);
    expect(duplicate).toMatchObject({ index: 2, modelId: existing.id });
    expect(
      summary.results.filter((r) => r.outcome === ImportOutcome.CREATED).map((r) => r.index),
    ).not.toContain(1);
    expect(await countOf("mixed")).toBe(3);
  });

  it("re-sending items with request ids creates nothing twice", async () => {
    const items: ImportItem[] = Array.from({ length: 5 }, (_, i) => ({
      model: { name: "resent", version: `${i}` },
      requestId: `resent-${i}`,
    }));
    const first = await client.importModels(items);
    expect(first).toMatchObject({ createdCount: 5, alreadyExistsCount: 0, failedCount: 0 });
    const second = await client.importModels(items);
    expect(second).toMatchObject({ createdCount: 5, alreadyExistsCount: 0, failedCount: 0 });
    expect(await countOf("resent")).toBe(5);
  });

  it("reads an async source with backpressure and reports progress", async () => {
    async function* source() {
      for (let i = 0; i < 2500; i++) {
        yield { model: { name: "bulk", version: `${i}`, description: "x".repeat(200) } };
      }
    }
    const progress: number[] = [];
    const summary = await client.importModels(source(), {
      onProgress: ({ sent }) => progress.push(sent),
      progressEvery: 1000,
    });
    expect(summary.createdCount).toBe(2500);
    expect(progress).toEqual([1000, 2000, 2500]);
    expect((await client.listModels({ filter: 'name = "bulk"', pageSize: 1 })).nextPageToken).not.toBe("");
  }, 30_000);

  it("a source that throws rejects with its error, and nothing more is created", async () => {
    const boom = new Error("the source broke");
    async function* source() {
      yield { model: { name: "broken-source", version: "1" } };
      yield { model: { name: "broken-source", version: "2" } };
      throw boom;
    }
    expect(await rejection(client.importModels(source()))).toBe(boom);
    const count = await countOf("broken-source");
    expect(count).toBeLessThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await countOf("broken-source")).toBe(count);
  });

  it("an abort while the source is slow rejects with CANCELLED at once", async () => {
    const controller = new AbortController();
    async function* slow() {
      yield { model: { name: "slow-source", version: "1" } };
      await new Promise((resolve) => setTimeout(resolve, 60_000));
    }
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const error = await rejection(client.importModels(slow(), { signal: controller.signal }));
    expect((error as RegistryError).code).toBe(Code.CANCELLED);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("an empty source gives an empty summary", async () => {
    const progress: number[] = [];
    const summary = await client.importModels([], { onProgress: ({ sent }) => progress.push(sent) });
    expect(summary).toMatchObject({ createdCount: 0, alreadyExistsCount: 0, failedCount: 0, results: [] });
    expect(progress).toEqual([0]);
  });
});
