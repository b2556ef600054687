// The transport seam: the generated protobuf-ts client over our transport,
// and protobuf-ts interceptors on unary calls and both kinds of stream.
import {
  CreateModelRequest,
  GetModelRequest,
  ImportModelsRequest,
  ListModelsRequest,
  ModelService,
  ModelServiceClient,
  WatchModelsRequest,
} from "@modelreg/proto";
import { createMemoryStorage } from "@modelreg/registry-server";
import type { RpcInterceptor } from "@protobuf-ts/runtime-rpc";
import { describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../test-support/registry";
import { Code, createRegistryClient, createRegistryTransport, RegistryError } from "./index";

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
}

describe("the generated ModelServiceClient over the registry transport", () => {
  it("throws RegistryError with the status details, and gives headers, status and trailers", async () => {
    const { server, address } = await startTestRegistry();
    const transport = createRegistryTransport({ target: address, insecure: true });
    const service = new ModelServiceClient(transport);
    try {
      const missing = service.getModel(GetModelRequest.create({ id: "0000-missing" }), { timeout: 5000 });
      const error = await rejection(missing.response);
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as RegistryError).code).toBe(Code.NOT_FOUND);
      expect((error as RegistryError).reason).toBe("MODEL_NOT_FOUND");
      // Every promise of a failed call rejects with the same error, none unhandled.
      expect(await rejection(missing.status)).toBe(error);

      const invalid = await rejection(service.getModel(GetModelRequest.create({ id: "a b" })).response);
      expect((invalid as RegistryError).code).toBe(Code.INVALID_ARGUMENT);
      expect((invalid as RegistryError).violations.map((v) => v.field)).toEqual(["id"]);

      const created = await service.createModel(CreateModelRequest.create({ model: modelFields("bert") }))
        .response;
      const call = service.getModel({ id: created.model?.id ?? "" });
      const finished = await call;
      expect(finished.response.model?.name).toBe("bert");
      expect(finished.status).toEqual({ code: "OK", detail: "" });
      expect(typeof finished.headers).toBe("object");
      expect(typeof finished.trailers).toBe("object");
    } finally {
      transport.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("cancels through RpcOptions.abort with CANCELLED", async () => {
    const storage = createMemoryStorage();
    storage.list = () => new Promise(() => {});
    const { server, address } = await startTestRegistry({ storage });
    const transport = createRegistryTransport({ target: address, insecure: true });
    const service = new ModelServiceClient(transport);
    try {
      const controller = new AbortController();
      const call = service.listModels(ListModelsRequest.create(), { abort: controller.signal });
      setTimeout(() => controller.abort(), 50);
      const error = await rejection(call.response);
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as RegistryError).code).toBe(Code.CANCELLED);
    } finally {
      transport.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("refuses bidirectional streams with UNIMPLEMENTED", () => {
    const transport = createRegistryTransport({ target: "127.0.0.1:1", insecure: true });
    try {
      const method = ModelService.methods[0];
      expect(method).toBeDefined();
      if (!method) return;
      expect(() => transport.duplex(method)).toThrow(RegistryError);
    } finally {
      transport.close();
    }
  });
});

function modelFields(name: string) {
  return { name, version: "1.0.0", framework: "pytorch" };
}

describe("interceptors", () => {
  it("wrap unary calls once per logical call, with retries below them", async () => {
    const storage = createMemoryStorage();
    const get = storage.get.bind(storage);
    let failures = 2;
    let storageCalls = 0;
    storage.get = async (id, options) => {
      storageCalls++;
      if (failures-- > 0) throw new RegistryError(Code.UNAVAILABLE, "down for a moment");
      return get(id, options);
    };
    const { server, address } = await startTestRegistry({ storage });
    const seen: string[] = [];
    const client = createRegistryClient({
      target: address,
      insecure: true,
      retry: { initialBackoffMs: 1, maxBackoffMs: 5 },
      interceptors: [
        {
          interceptUnary(next, method, input, options) {
            seen.push(method.name);
            return next(method, input, { ...options, meta: { ...options.meta, "x-traced": "1" } });
          },
        },
      ],
    });
    try {
      const created = await client.createModel({ model: modelFields("retried") });
      seen.length = 0;
      expect((await client.getModel({ id: created.id })).name).toBe("retried");
      expect(storageCalls).toBe(3);
      expect(seen).toEqual(["GetModel"]);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("wrap watches and imports, and can read and add headers on them", async () => {
    const headers: Record<string, string> = {};
    const { server, address } = await startTestRegistry({
      authorize: ({ method, metadata }) => {
        headers[method.split("/").pop() ?? ""] = String(metadata.get("x-span")[0] ?? "");
      },
    });
    const spans: string[] = [];
    const tracing: RpcInterceptor = {
      interceptServerStreaming(next, method, input, options) {
        spans.push(`start ${method.name}`);
        const call = next(method, input, { ...options, meta: { ...options.meta, "x-span": "watch-1" } });
        call.responses.onComplete(() => spans.push(`end ${method.name}`));
        call.responses.onError(() => spans.push(`end ${method.name}`));
        return call;
      },
      interceptClientStreaming(next, method, options) {
        spans.push(`start ${method.name}`);
        const call = next(method, { ...options, meta: { ...options.meta, "x-span": "import-1" } });
        call.response.then(
          () => spans.push(`end ${method.name}`),
          () => spans.push(`end ${method.name}`),
        );
        return call;
      },
    };
    const client = createRegistryClient({ target: address, insecure: true, interceptors: [tracing] });
    try {
      const summary = await client.importModels([{ model: modelFields("a") }, { model: modelFields("b") }]);
      expect(summary.createdCount).toBe(2);
      const controller = new AbortController();
      for await (const message of client.watchModels({ afterRevision: 0 }, { signal: controller.signal })) {
        if (message.event?.model?.name === "b") break;
      }
      expect(headers).toEqual({ ImportModels: "import-1", WatchModels: "watch-1" });
      expect(spans.slice(0, 3)).toEqual(["start ImportModels", "end ImportModels", "start WatchModels"]);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("see the generated client's typed messages", async () => {
    const { server, address } = await startTestRegistry();
    const requests: unknown[] = [];
    const transport = createRegistryTransport({
      target: address,
      insecure: true,
      interceptors: [
        {
          interceptServerStreaming(next, method, input, options) {
            requests.push(input);
            return next(method, input, options);
          },
        },
      ],
    });
    const service = new ModelServiceClient(transport);
    const controller = new AbortController();
    try {
      const call = service.watchModels(WatchModelsRequest.create({ filter: 'name = "x"' }), {
        abort: controller.signal,
      });
      for await (const message of call.responses) {
        expect(message.event).toBeUndefined();
        break;
      }
      expect(requests).toEqual([WatchModelsRequest.create({ filter: 'name = "x"' })]);
      const imported = service.importModels();
      await imported.requests.send(ImportModelsRequest.create({ model: modelFields("typed") }));
      await imported.requests.complete();
      expect((await imported.response).createdCount).toBe(1);
    } finally {
      controller.abort();
      transport.close();
      await server.shutdown({ graceMs: 100 });
    }
  });
});
