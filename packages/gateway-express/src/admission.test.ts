// The gateway's admission control, and the registry's, as an HTTP client
// sees them: a real registry (memory storage whose reads wait until the
// test lets them go) behind a real Express app.
import { once } from "node:events";
import type { Server } from "node:http";
import { createMemoryStorage, type RegistryServerOptions } from "@modelreg/registry-server";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { until } from "../../../test-support/waiting";
import { createGateway, createGatewayMiddleware, type GatewayOptions } from "./index";
import { expectError, Resources, startRegistry } from "./test-support/harness";

const resources = new Resources();
afterEach(() => resources.closeAll());

/** Memory storage whose `get` waits for `release()` while `hold` is set. */
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
  const release = (count = waiting.length) => {
    for (const resolve of waiting.splice(0, count)) resolve();
  };
  return { storage, state, release, held: () => waiting.length };
}

async function start(
  gatewayAdmission: GatewayOptions["admission"],
  registryAdmission: RegistryServerOptions["admission"] = false,
) {
  const holding = holdingStorage();
  const { client } = await startRegistry(resources, {
    storage: holding.storage,
    admission: registryAdmission,
  });
  const model = await client.createModel({ model: { name: "m", version: "1" } });
  holding.state.hold = true;
  resources.add(() => holding.release());
  const app = express();
  const arrived = { count: 0 };
  app.use((_req, _res, next) => {
    arrived.count++;
    next();
  });
  const middleware = createGatewayMiddleware({ client, admission: gatewayAdmission });
  app.use(middleware);
  const server: Server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  resources.add(() => {
    server.closeAllConnections();
    server.close();
  });
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const get = (path = `/api/v1/models/${model.id}`, init: RequestInit = {}) => fetch(`${base}${path}`, init);
  return { holding, arrived, get, stats: middleware.admissionStats };
}

describe("gateway admission control", () => {
  it("queues beyond the limit, answers 429 with Retry-After beyond the queue, and runs the queued one when a slot frees", async () => {
    const { holding, arrived, get, stats } = await start({ maxConcurrentRequests: 2, maxQueuedRequests: 1 });
    const running = [get(), get()];
    await until(() => holding.held() === 2, "two requests reach the registry's storage");
    const queued = get();
    await until(() => arrived.count === 3, "the third request arrives");
    expect(stats()).toEqual({ inFlight: 2, queued: 1, refused: 0 });

    const refused = await get();
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = await expectError(refused, 429, "RESOURCE_EXHAUSTED");
    expect(body.error.message).toMatch(/gateway is at capacity/);
    expect(body.error.details).toContainEqual({
      "@type": "type.googleapis.com/google.rpc.RetryInfo",
      retryDelay: "1s",
    });
    expect(body.error.details).toContainEqual(expect.objectContaining({ reason: "OVERLOADED" }));
    expect(refused.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(refused.headers.get("x-content-type-options")).toBe("nosniff");
    // A create while full is refused too, its body unread and the registry never called.
    const create = await get("/api/v1/models", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "refused", version: "1" }),
    });
    expect(create.headers.get("retry-after")).toBe("1");
    await expectError(create, 429, "RESOURCE_EXHAUSTED");
    expect(holding.state.reads).toBe(2); // neither the queued nor the refused requests reached the registry
    expect(stats()).toEqual({ inFlight: 2, queued: 1, refused: 2 });

    holding.release(1);
    await until(() => holding.state.reads === 3, "the queued request runs once a slot frees");
    holding.release();
    expect((await Promise.all([...running, queued])).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(stats()).toEqual({ inFlight: 0, queued: 0, refused: 2 });
    const listed = (await (await get("/api/v1/models")).json()) as { models: { name: string }[] };
    expect(listed.models.map((m) => m.name)).toEqual(["m"]); // "refused" was never created
  });

  it("refuses a request that waited maxQueueWaitMs for a slot with 429", async () => {
    const { holding, get } = await start({
      maxConcurrentRequests: 1,
      maxQueueWaitMs: 100,
      retryAfterSeconds: 7,
    });
    const running = get();
    await until(() => holding.held() === 1, "the first request reaches storage");
    const waited = await get();
    expect(waited.headers.get("retry-after")).toBe("7");
    const body = await expectError(waited, 429, "RESOURCE_EXHAUSTED");
    expect(body.error.message).toMatch(/no slot came free within 100 ms/);
    holding.release();
    expect((await running).status).toBe(200);
    expect(holding.state.reads).toBe(1);
  });

  it("a queued request whose client goes away leaves the queue, and never reaches the registry", async () => {
    const { holding, arrived, get } = await start({ maxConcurrentRequests: 1, maxQueuedRequests: 1 });
    const running = get();
    await until(() => holding.held() === 1, "the first request reaches storage");
    const controller = new AbortController();
    const gone = get(undefined, { signal: controller.signal }).catch(() => "aborted");
    await until(() => arrived.count === 2, "the second request arrives and queues");
    controller.abort();
    expect(await gone).toBe("aborted");
    // Its place in the queue is free again (once the gateway saw the socket close): the next
    // request waits there instead of getting a 429.
    await new Promise((r) => setTimeout(r, 300));
    const next = get();
    await until(() => arrived.count === 3, "the third request arrives");
    holding.release();
    await until(() => holding.held() === 1, "the queued request runs");
    holding.release();
    expect((await running).status).toBe(200);
    expect((await next).status).toBe(200);
    expect(holding.state.reads).toBe(2); // the request that went away never read
  });

  it("does not count a watch against the limit", async () => {
    const { holding, get } = await start({ maxConcurrentRequests: 1, maxQueuedRequests: 0 });
    const controller = new AbortController();
    const watch = await get("/api/v1/models:watch", { signal: controller.signal });
    expect(watch.status).toBe(200);
    const read = get();
    await until(() => holding.held() === 1, "a GetModel runs beside the watch");
    holding.release();
    expect((await read).status).toBe(200);
    controller.abort();
  });

  it("answers the registry's RESOURCE_EXHAUSTED with 429 and the Retry-After of its RetryInfo", async () => {
    const { holding, get, stats } = await start(false, {
      maxConcurrentCalls: 1,
      maxQueuedCalls: 0,
      retryDelayMs: 2500,
    });
    expect(stats()).toBeUndefined(); // the gateway's own admission control is off
    const running = get();
    await until(() => holding.held() === 1, "the first request reaches storage");
    const refused = await get();
    expect(refused.headers.get("retry-after")).toBe("3");
    const body = await expectError(refused, 429, "RESOURCE_EXHAUSTED");
    expect(body.error.message).toMatch(/registry is at capacity/);
    expect(body.error.details).toContainEqual({
      "@type": "type.googleapis.com/google.rpc.RetryInfo",
      retryDelay: "2.500s",
    });
    holding.release();
    expect((await running).status).toBe(200);
  });

  it.each([
    [{ maxConcurrentRequests: 0 }, /`admission.maxConcurrentRequests` must be a whole number of at least 1/],
    [{ maxQueuedRequests: 1.5 }, /`admission.maxQueuedRequests`/],
    [{ retryAfterSeconds: -1 }, /`admission.retryAfterSeconds`/],
    ["on", /`admission` must be an object of limits, or false/],
  ])("refuses the options %o with a TypeError", async (admission, message) => {
    const { client } = await startRegistry(resources);
    expect(() => createGateway({ client, admission: admission as GatewayOptions["admission"] })).toThrow(
      message,
    );
  });
});
