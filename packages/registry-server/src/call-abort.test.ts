// A call nobody waits for any more stops its storage work: the signal that
// storage receives aborts when the caller cancels or the deadline passes,
// and the handler makes no further storage call for that RPC, even when the
// adapter ignored the signal and finished its statement anyway.
import * as grpc from "@grpc/grpc-js";
import { AddModelTagsRequest, AddModelTagsResponse, Code, type Model, RegistryError } from "@modelreg/proto";
import { afterEach, describe, expect, it } from "vitest";
import {
  createMemoryStorage,
  createRegistryServer,
  type RegistryServerOptions,
  type StorageAdapter,
} from "./index";
import { createTestClient } from "./test-support/grpc-client";
import { makeModelRecord } from "./testing/fixtures";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Memory storage whose next `get` waits until its signal aborts, then answers
 * as if the statement had finished regardless (what a driver that cannot
 * interrupt a running statement does). Every storage call is recorded.
 */
function stallingStorage() {
  const storage = createMemoryStorage();
  const calls: string[] = [];
  let recording = false;
  let stallNext = false;
  let signal: AbortSignal | undefined;
  const get = storage.get.bind(storage);
  const replace = storage.replace.bind(storage);
  storage.get = async (id, options) => {
    if (!recording) return get(id);
    calls.push("get");
    if (!stallNext) return get(id, options);
    stallNext = false;
    signal = options?.signal;
    await new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    return get(id); // no options: the stalled "statement" completes
  };
  storage.replace = (record, expected, options) => {
    if (recording) calls.push("replace");
    return replace(record, expected, options);
  };
  /** Records storage calls from now on; the next `get` stalls. */
  const stallNextGet = () => {
    recording = true;
    stallNext = true;
  };
  return { storage, calls, stallNextGet, signal: () => signal };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function start(
  storage: StorageAdapter,
  streams: RegistryServerOptions["streams"] = {},
  interceptors: RegistryServerOptions["interceptors"] = [],
) {
  const server = createRegistryServer({
    storage,
    streams,
    interceptors,
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: silent,
  });
  const { port } = await server.listen();
  const client = createTestClient(`127.0.0.1:${port}`);
  const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  stops.push(async () => {
    client.close();
    raw.close();
    await server.shutdown({ graceMs: 1000 });
  });
  const model = (await client.call<{ model: Model }>("CreateModel", { model: { name: "m", version: "1" } }))
    .model;
  /** AddModelTags (a read, then a write) with a deadline; `cancel` cancels it. */
  const addTag = (deadlineMs: number) => {
    let call: grpc.ClientUnaryCall | undefined;
    const result = new Promise<Code>((resolve) => {
      call = raw.makeUnaryRequest(
        "/modelregistry.v1.ModelService/AddModelTags",
        (request: AddModelTagsRequest) => Buffer.from(AddModelTagsRequest.toBinary(request)),
        (bytes: Buffer) => AddModelTagsResponse.fromBinary(bytes),
        AddModelTagsRequest.create({ id: model.id, tags: ["prod"] }),
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (error) => resolve(error ? (error.code as number as Code) : Code.OK),
      );
    });
    return { result, cancel: () => call?.cancel() };
  };
  return { addTag, client, model };
}

/** Waits until `predicate` holds, polling. */
async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("abandoned calls", () => {
  it("a cancelled call aborts its storage work and makes no further storage call", async () => {
    const stalling = stallingStorage();
    const { addTag, client, model } = await start(stalling.storage);
    stalling.stallNextGet();
    const call = addTag(10_000);
    await until(() => stalling.calls.length === 1);
    call.cancel();
    expect(await call.result).toBe(Code.CANCELLED);
    await until(() => stalling.signal()?.aborted === true);
    expect(RegistryError.from(stalling.signal()?.reason).code).toBe(Code.CANCELLED);
    await new Promise((r) => setTimeout(r, 200));
    expect(stalling.calls).toEqual(["get"]); // the read finished, the write never started
    const { model: after } = await client.call<{ model: Model }>("GetModel", { id: model.id });
    expect(after.tags).toEqual([]);
  });

  it("the signal survives an interceptor that passes on a spread copy of the context", async () => {
    const stalling = stallingStorage();
    const copied: string[] = [];
    const { addTag } = await start(stalling.storage, {}, [
      (next) => (call) => {
        copied.push(call.method.name);
        return next({ ...call, context: { ...call.context, principal: { subject: "ana", roles: [] } } });
      },
    ]);
    stalling.stallNextGet();
    const call = addTag(10_000);
    await until(() => stalling.calls.length === 1);
    call.cancel();
    expect(await call.result).toBe(Code.CANCELLED);
    await until(() => stalling.signal()?.aborted === true);
    expect(copied).toContain("AddModelTags");
    await new Promise((r) => setTimeout(r, 200));
    expect(stalling.calls).toEqual(["get"]);
  });

  it("an expired call aborts its storage work at the deadline and makes no further storage call", async () => {
    const stalling = stallingStorage();
    const { addTag } = await start(stalling.storage);
    stalling.stallNextGet();
    const started = Date.now();
    const call = addTag(300);
    expect(await call.result).toBe(Code.DEADLINE_EXCEEDED);
    await until(() => stalling.signal()?.aborted === true);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(RegistryError.from(stalling.signal()?.reason).code).toBe(Code.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 200));
    expect(stalling.calls).toEqual(["get"]);
  });

  it("a cancelled watch aborts the storage read it catches up with", async () => {
    // A watch resuming from before the feed's window reads storage itself,
    // with its own signal (the feed's shared polls serve every watch, so a
    // cancelled watch must not abort those).
    const storage = createMemoryStorage();
    await storage.insert(makeModelRecord());
    const { client } = await start(storage);
    let signal: AbortSignal | undefined;
    const readChanges = storage.readChanges.bind(storage);
    storage.readChanges = async (after, limit, options) => {
      if (after !== 0 || limit === 0) return readChanges(after, limit, options);
      signal = options?.signal;
      // Stalls until the watch goes away, as a slow database would.
      await new Promise<void>((resolve) =>
        signal?.addEventListener("abort", () => resolve(), { once: true }),
      );
      return readChanges(after, limit, options);
    };
    const watch = client.watch({ afterRevision: "0" });
    await watch.waitFor(1);
    await until(() => signal !== undefined);
    expect(signal?.aborted).toBe(false);
    watch.cancel();
    await until(() => signal?.aborted === true);
    expect(RegistryError.from(signal?.reason).code).toBe(Code.CANCELLED);
  });

  it("an expired import writes no further batch", async () => {
    const storage = createMemoryStorage();
    const { client } = await start(storage, { importBatchSize: 1 });
    const insertMany = storage.insertMany.bind(storage);
    const batches: AbortSignal[] = [];
    storage.insertMany = async (items, options) => {
      const signal = options?.signal ?? new AbortController().signal;
      batches.push(signal);
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      return insertMany(items); // the stalled batch commits regardless
    };
    const items = ["a", "b", "c"].map((name) => ({ model: { name, version: "1" } }));
    await expect(client.importModels(items, 300)).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    await until(() => batches[0]?.aborted === true);
    await new Promise((r) => setTimeout(r, 200));
    expect(batches).toHaveLength(1);
    const { models } = await client.call<{ models: Model[] }>("ListModels", {});
    expect(models.map((m) => m.name).sort()).toEqual(["a", "m"]);
  });
});
