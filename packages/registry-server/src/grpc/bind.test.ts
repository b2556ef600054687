import { CreateModelRequest, GetModelRequest, ModelService, WatchModelsRequest } from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { EncodedModelCache } from "../encoded-cache";
import { createMemoryStorage } from "../index";
import { createModelService } from "../service/model-service";
import { bindService, clientStreaming, serverStreaming, unary } from "./bind";
import { OpenStreams } from "./call-scope";
import { bindModelService } from "./model-service";
import type { BindingRuntime, MethodBinding } from "./runtime";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const runtime: BindingRuntime = {
  interceptors: [],
  logger: silent,
  cache: new EncodedModelCache(0),
  watchStallTimeoutMs: 1000,
  openStreams: new OpenStreams(),
};

describe("the handler table", () => {
  const service = createModelService(createMemoryStorage());
  const { definition, implementation } = bindModelService(service, { logger: silent });
  service.close();

  it("binds every ModelService method, with its path and streaming kinds", () => {
    expect(Object.keys(implementation).sort()).toEqual(ModelService.methods.map((m) => m.name).sort());
    expect(definition.WatchModels).toMatchObject({
      path: "/modelregistry.v1.ModelService/WatchModels",
      requestStream: false,
      responseStream: true,
    });
  });

  it("refuses, at start-up, a method without a handler, a wrong kind, another request type, an unknown name", () => {
    const handle = async () => ({});
    const table = (overrides: Record<string, MethodBinding | undefined>) => {
      const entries: Record<string, MethodBinding> = {};
      for (const method of ModelService.methods) {
        const binding = method.serverStreaming
          ? serverStreaming(method.I, async () => {})
          : method.clientStreaming
            ? clientStreaming(method.I, handle)
            : unary(method.I, handle);
        entries[method.name] = binding;
      }
      for (const [name, binding] of Object.entries(overrides)) {
        if (binding) entries[name] = binding;
        else delete entries[name];
      }
      return entries;
    };
    expect(() => bindService(ModelService, table({}), runtime)).not.toThrow();
    expect(() => bindService(ModelService, table({ GetModel: undefined }), runtime)).toThrow(
      /no handler for modelregistry.v1.ModelService\/GetModel/,
    );
    expect(() =>
      bindService(ModelService, table({ WatchModels: unary(WatchModelsRequest, handle) }), runtime),
    ).toThrow(/WatchModels is serverStreaming, but its handler is bound as unary/);
    expect(() =>
      bindService(ModelService, table({ GetModel: unary(CreateModelRequest, handle) }), runtime),
    ).toThrow(/GetModel takes modelregistry.v1.GetModelRequest, not modelregistry.v1.CreateModelRequest/);
    expect(() =>
      bindService(ModelService, table({ GetModels: unary(GetModelRequest, handle) }), runtime),
    ).toThrow(/has no method GetModels/);
  });
});
