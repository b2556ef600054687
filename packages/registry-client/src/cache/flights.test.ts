// Single flight after a change (review of issue 16, finding 2): a read that starts after the cache applied a
// change to a key (an event, or a write through the client) must not share a registry read of that key sent
// before the change: that read may answer the state from before it. The registry's GetModel answers are held
// back at a gate the test opens, so the order is fixed without timing.
import { DeleteModelRequest } from "@modelreg/proto";
import type { ServerInterceptor } from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../../test-support/registry";
import { until } from "../../../../test-support/waiting";
import { createRegistryClient, type RegistryClient } from "../index";

let gate: Promise<void> | undefined;
let held = 0;
const holdGetModel: ServerInterceptor = (next) => async (call) => {
  const result = await next(call);
  if (gate && call.method.name === "GetModel") {
    held++;
    await gate;
  }
  return result;
};

describe("a read does not join a registry read sent before a change the cache applied", {
  timeout: 60_000,
}, () => {
  let stopRegistry: () => Promise<void>;
  let address: string;
  let writer: RegistryClient;
  const clients: RegistryClient[] = [];

  beforeAll(async () => {
    const registry = await startTestRegistry({ interceptors: [holdGetModel] });
    address = registry.address;
    stopRegistry = () => registry.server.shutdown({ graceMs: 100 });
    writer = createRegistryClient({ target: address, insecure: true });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    writer.close();
    await stopRegistry();
  });

  async function cached(): Promise<RegistryClient> {
    const client = createRegistryClient({ target: address, insecure: true, cache: true });
    clients.push(client);
    await until(() => client.cacheStats()?.current === true, "the cache's watch is current");
    return client;
  }

  /** Starts a getModel of `id` whose registry answer (the state now) is held until the returned function runs. */
  async function heldRead(client: RegistryClient, id: string): Promise<{ release: () => Promise<unknown> }> {
    let open = () => {};
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const before = held;
    const first = client.getModel({ id }).catch((error: unknown) => error);
    await until(() => held > before, "the registry answered the first read (held back)");
    return {
      release: async () => {
        gate = undefined;
        open();
        return first;
      },
    };
  }

  it("after a delete through the client, a read does not get the model", async () => {
    // Created before the cache starts (from now): not in it, so the first read goes to the registry.
    const model = await writer.createModel({ model: { name: "flight-own", version: "1" } });
    const client = await cached();
    const { release } = await heldRead(client, model.id);
    await client.deleteModel({ id: model.id });
    const after = client.getModel({ id: model.id });
    await release();
    await expect(after).rejects.toMatchObject({ code: 5 /* NOT_FOUND */ });
  });

  it("after the cache applied another client's delete, a read does not get the model", async () => {
    // Created before the cache starts (from now): not in it, so the first read goes to the registry.
    const model = await writer.createModel({ model: { name: "flight-event", version: "1" } });
    const client = await cached();
    const { release } = await heldRead(client, model.id);
    const call = writer.service.deleteModel(DeleteModelRequest.create({ id: model.id }));
    const revision = BigInt((await call.headers)["x-modelreg-revision"] as string);
    await call.response;
    await until(() => (client.cacheStats()?.revision ?? 0n) >= revision, "the cache applied the delete");
    const after = client.getModel({ id: model.id });
    await release();
    await expect(after).rejects.toMatchObject({ code: 5 /* NOT_FOUND */ });
  });
});
