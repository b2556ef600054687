// Admission control over a real gRPC server: a storage whose reads wait
// until the test lets them go, so a test knows exactly how many calls hold
// a slot, how many wait in the queue, and that a refused call never reached
// storage.
import * as grpc from "@grpc/grpc-js";
import {
  Any,
  Code,
  GetModelRequest,
  GetModelResponse,
  type Model,
  RegistryError,
  RetryInfo,
} from "@modelreg/proto";
import { afterEach, describe, expect, it } from "vitest";
import { until } from "../../../test-support/waiting";
import { createMemoryStorage, createRegistryServer, type RegistryServerOptions } from "./index";
import { createTestClient } from "./test-support/grpc-client";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Memory storage whose `get` waits for {@link release}; `reads` counts the gets that reached it. */
function holdingStorage() {
  const storage = createMemoryStorage();
  const get = storage.get.bind(storage);
  const waiting: (() => void)[] = [];
  const state = { reads: 0, hold: false };
  storage.get = async (id, options) => {
    if (state.hold) {
      state.reads++;
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    return get(id, options);
  };
  /** Lets the `count` oldest held reads go on. */
  const release = (count = waiting.length) => {
    for (const resolve of waiting.splice(0, count)) resolve();
  };
  return { storage, state, release, held: () => waiting.length };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function start(admission: RegistryServerOptions["admission"]) {
  const holding = holdingStorage();
  const server = createRegistryServer({
    storage: holding.storage,
    admission,
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: silent,
  });
  const { port } = await server.listen();
  const client = createTestClient(`127.0.0.1:${port}`);
  const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  stops.push(async () => {
    holding.release();
    client.close();
    raw.close();
    await server.shutdown({ graceMs: 1000 });
  });
  const { model } = await client.call<{ model: Model }>("CreateModel", {
    model: { name: "m", version: "1" },
  });
  holding.state.hold = true;
  /** GetModel of the model; settles with its error, or `undefined` when it succeeded. */
  const getModel = (timeoutMs = 10_000) =>
    client.call("GetModel", { id: model.id }, {}, timeoutMs).then(
      () => undefined,
      (error: unknown) => RegistryError.from(error),
    );
  /** GetModel that the test can cancel; settles with its status code. */
  const cancellableGet = () => {
    let call: grpc.ClientUnaryCall | undefined;
    const code = new Promise<Code>((resolve) => {
      call = raw.makeUnaryRequest(
        "/modelregistry.v1.ModelService/GetModel",
        (request: GetModelRequest) => Buffer.from(GetModelRequest.toBinary(request)),
        (bytes: Buffer) => GetModelResponse.fromBinary(bytes),
        GetModelRequest.create({ id: model.id }),
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (error) => resolve(error ? (error.code as number as Code) : Code.OK),
      );
    });
    return { code, cancel: () => call?.cancel() };
  };
  return { server, client, holding, getModel, cancellableGet, model };
}

/** The retry delay of a RetryInfo detail, in ms. */
function retryDelayMs(error: RegistryError | undefined): number | undefined {
  const detail = error?.details.find((d) => Any.contains(d, RetryInfo));
  if (!detail) return undefined;
  const delay = Any.unpack(detail, RetryInfo).retryDelay;
  return delay ? Number(delay.seconds) * 1000 + delay.nanos / 1e6 : undefined;
}

describe("admission control", () => {
  it("runs the limit, queues the next, refuses the one beyond with RESOURCE_EXHAUSTED and a retry delay", async () => {
    const { server, holding, getModel } = await start({
      maxConcurrentCalls: 2,
      maxQueuedCalls: 1,
      retryDelayMs: 1500,
    });
    const running = [getModel(), getModel()];
    await until(() => holding.held() === 2, "two calls reach storage");
    const queued = getModel();
    await until(() => server.admissionStats()?.queued === 1, "the third call waits in the queue");

    const refused = await getModel();
    expect(refused?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(refused?.reason).toBe("OVERLOADED");
    expect(refused?.message).toMatch(/at capacity/);
    expect(retryDelayMs(refused)).toBe(1500);
    expect(holding.state.reads).toBe(2); // neither the queued nor the refused call read anything

    holding.release(1);
    await until(() => holding.state.reads === 3, "the queued call runs once a slot frees");
    holding.release();
    expect(await Promise.all([...running, queued])).toEqual([undefined, undefined, undefined]);
    expect(server.admissionStats()).toEqual({ inFlight: 0, queued: 0, refused: 1 });
  });

  it("refuses a call that waited maxQueueWaitMs for a slot, without running it", async () => {
    const { holding, getModel } = await start({ maxConcurrentCalls: 1, maxQueueWaitMs: 100 });
    const running = getModel();
    await until(() => holding.held() === 1, "the first call reaches storage");
    const waited = await getModel();
    expect(waited?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(waited?.message).toMatch(/no call slot came free within 100 ms/);
    expect(retryDelayMs(waited)).toBe(1000);
    holding.release();
    expect(await running).toBeUndefined();
    expect(holding.state.reads).toBe(1);
  });

  it("a queued call whose deadline passes leaves the queue with DEADLINE_EXCEEDED, without running", async () => {
    const { server, holding, getModel } = await start({ maxConcurrentCalls: 1, maxQueueWaitMs: 60_000 });
    const running = getModel();
    await until(() => holding.held() === 1, "the first call reaches storage");
    const late = await getModel(200);
    expect(late?.code).toBe(Code.DEADLINE_EXCEEDED);
    await until(() => server.admissionStats()?.queued === 0, "the queue empties");
    holding.release();
    expect(await running).toBeUndefined();
    expect(holding.state.reads).toBe(1);
  });

  it("a queued call that is cancelled leaves the queue, and the slot goes to the next one", async () => {
    const { server, holding, getModel, cancellableGet } = await start({ maxConcurrentCalls: 1 });
    const running = getModel();
    await until(() => holding.held() === 1, "the first call reaches storage");
    const cancelled = cancellableGet();
    const next = getModel();
    await until(() => server.admissionStats()?.queued === 2, "two calls wait");
    cancelled.cancel();
    expect(await cancelled.code).toBe(Code.CANCELLED);
    await until(() => server.admissionStats()?.queued === 1, "the cancelled call leaves the queue");
    holding.release();
    await until(() => holding.state.reads === 2, "the next queued call runs");
    holding.release();
    expect(await Promise.all([running, next])).toEqual([undefined, undefined]);
    expect(holding.state.reads).toBe(2); // the cancelled call never read
  });

  it("gives the slot back when a call fails or is cancelled while it runs", async () => {
    const { server, client, holding, getModel, cancellableGet } = await start({
      maxConcurrentCalls: 1,
      maxQueuedCalls: 0,
    });
    const missing = client.call("GetModel", { id: "no-such-model" }).catch(RegistryError.from);
    await until(() => holding.held() === 1, "the call reaches storage");
    holding.release();
    expect((await missing)?.code).toBe(Code.NOT_FOUND);
    const cancelled = cancellableGet();
    await until(() => holding.held() === 1, "the call reaches storage");
    cancelled.cancel();
    expect(await cancelled.code).toBe(Code.CANCELLED);
    holding.release();
    await until(() => server.admissionStats()?.inFlight === 0, "the slot is free");
    const after = getModel();
    await until(() => holding.held() === 1, "a new call takes the slot");
    holding.release();
    expect(await after).toBeUndefined();
    expect(server.admissionStats()?.refused).toBe(0);
  });

  it("does not count watches; an import holds a slot until it ends", async () => {
    const { server, client, holding, getModel } = await start({ maxConcurrentCalls: 1, maxQueuedCalls: 0 });
    const watch = client.watch({});
    await watch.waitFor(1);
    const get = getModel();
    await until(() => holding.held() === 1, "a GetModel runs beside the watch");
    holding.release();
    expect(await get).toBeUndefined();

    const stream = client.raw.makeClientStreamRequest(
      "/modelregistry.v1.ModelService/ImportModels",
      (value: Buffer) => value,
      (bytes: Buffer) => bytes,
      new grpc.Metadata(),
      {},
      () => {},
    );
    await until(() => server.admissionStats()?.inFlight === 1, "the import takes the slot");
    expect((await getModel())?.code).toBe(Code.RESOURCE_EXHAUSTED);
    stream.end();
    await until(() => server.admissionStats()?.inFlight === 0, "the import ends and frees the slot");
    const after = getModel();
    await until(() => holding.held() === 1, "a GetModel runs again");
    holding.release();
    expect(await after).toBeUndefined();
    watch.cancel();
  });

  it("admission: false serves every call at once", async () => {
    const { server, holding, getModel } = await start(false);
    const calls = Array.from({ length: 300 }, () => getModel());
    await until(() => holding.held() === 300, "all 300 calls reach storage");
    holding.release();
    expect((await Promise.all(calls)).every((error) => error === undefined)).toBe(true);
    expect(server.admissionStats()).toBeUndefined();
  });

  it.each([
    [{ maxConcurrentCalls: 0 }, /`admission.maxConcurrentCalls` must be a whole number of at least 1/],
    [{ maxQueuedCalls: -1 }, /`admission.maxQueuedCalls` must be a whole number of at least 0/],
    [{ maxQueueWaitMs: 1.5 }, /`admission.maxQueueWaitMs`/],
    [{ retryDelayMs: Number.NaN }, /`admission.retryDelayMs`/],
    [true, /`admission` must be an object of limits, or false/],
  ])("refuses the options %o with a TypeError", (admission, message) => {
    expect(() =>
      createRegistryServer({
        storage: createMemoryStorage(),
        insecure: true,
        admission: admission as RegistryServerOptions["admission"],
      }),
    ).toThrow(message);
  });
});
