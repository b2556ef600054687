// Server interceptors over a real socket: an OpenTelemetry-style tracing
// interceptor sees every kind of call (unary, failing, watch, import) with
// its final status and the caller's trace context; the principal of the
// `authorize` hook flows through the context to the interceptors and the
// handler; the built-in error policy still scrubs what interceptors throw.
import * as grpc from "@grpc/grpc-js";
import { Code, type ImportModelsResponse, type Model, RegistryError } from "@modelreg/proto";
import { afterEach, describe, expect, it } from "vitest";
import { bindModelService } from "./grpc/model-service";
import {
  createMemoryStorage,
  createRegistryServer,
  type Principal,
  type RegistryServerOptions,
  type ServerInterceptor,
} from "./index";
import { createModelService } from "./service/model-service";
import { createTestClient } from "./test-support/grpc-client";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A span as a tracer records it (the shape of an OpenTelemetry span, reduced). */
interface Span {
  name: string;
  kind: "unary" | "server_stream" | "client_stream";
  start: number;
  end?: number;
  code?: Code;
  traceparent: string | undefined;
  principal: string | undefined;
}

/** A tracing interceptor: one span per call, parented on the incoming `traceparent` header. */
function tracing(spans: Span[]): ServerInterceptor {
  return (next) => async (call) => {
    const { method, context } = call;
    const [traceparent] = context.metadata.get("traceparent");
    const span: Span = {
      name: `${method.service.typeName}/${method.name}`,
      kind: method.clientStreaming ? "client_stream" : method.serverStreaming ? "server_stream" : "unary",
      start: performance.now(),
      traceparent: traceparent?.toString(),
      principal: context.principal?.subject,
    };
    spans.push(span);
    try {
      const response = await next(call);
      span.code = Code.OK;
      return response;
    } catch (error) {
      span.code = RegistryError.from(error).code;
      throw error;
    } finally {
      span.end = performance.now();
    }
  };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function start(options: Partial<RegistryServerOptions>) {
  const server = createRegistryServer({
    storage: createMemoryStorage(),
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: silent,
    ...options,
  });
  const { port } = await server.listen();
  const client = createTestClient(`127.0.0.1:${port}`);
  stops.push(async () => {
    client.close();
    await server.shutdown({ graceMs: 1000 });
  });
  return { server, client };
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const alice: Principal = { subject: "alice", roles: ["writer"] };

describe("server interceptors", () => {
  it("trace unary, failing, watch and import calls with their final status and trace context", async () => {
    const spans: Span[] = [];
    const { server, client } = await start({ authorize: () => alice, interceptors: [tracing(spans)] });
    const headers = { traceparent };

    const { model } = await client.call<{ model: Model }>(
      "CreateModel",
      { model: { name: "bert", version: "1" } },
      headers,
    );
    await expect(client.call("GetModel", { id: "missing" }, headers)).rejects.toMatchObject({
      code: Code.NOT_FOUND,
    });
    const summary: ImportModelsResponse = await client.importModels(
      [{ model: { name: "gpt", version: "1" } }, { model: { name: "", version: "1" } }],
      10_000,
      headers,
    );
    expect(summary).toMatchObject({ createdCount: 1, failedCount: 1 });
    const watch = client.watch({ afterRevision: 0n }, headers);
    await watch.waitFor(3);
    await server.shutdown({ graceMs: 1000 }); // ends the watch with UNAVAILABLE
    expect((await watch.ended)?.code).toBe(Code.UNAVAILABLE);

    const service = "modelregistry.v1.ModelService";
    expect(
      spans.map(({ name, kind, code }) => [name, kind, code === undefined ? "open" : Code[code]]),
    ).toEqual([
      [`${service}/CreateModel`, "unary", "OK"],
      [`${service}/GetModel`, "unary", "NOT_FOUND"],
      [`${service}/ImportModels`, "client_stream", "OK"],
      [`${service}/WatchModels`, "server_stream", "UNAVAILABLE"],
    ]);
    for (const span of spans) {
      expect(span.traceparent).toBe(traceparent);
      expect(span.principal).toBe("alice");
      expect(span.end).toBeGreaterThanOrEqual(span.start);
    }
    expect(model.name).toBe("bert");
  });

  it("run outermost first, inside authorize, and may refuse a call", async () => {
    const order: string[] = [];
    const named =
      (name: string): ServerInterceptor =>
      (next) =>
      async (call) => {
        order.push(`${name}:${call.context.principal?.subject ?? "nobody"}`);
        return next(call);
      };
    const writersOnly: ServerInterceptor = (next) => async (call) => {
      const writes = !call.method.idempotency;
      if (writes && !call.context.principal?.roles.includes("writer")) {
        throw new RegistryError(Code.PERMISSION_DENIED, "Writers only.");
      }
      return next(call);
    };
    const { client } = await start({
      authorize: ({ metadata }) =>
        metadata.get("authorization")[0] === "Bearer alice" ? alice : { subject: "bob", roles: [] },
      interceptors: [named("outer"), named("inner"), writersOnly],
    });
    const create = { model: { name: "m", version: "1" } };
    await expect(client.call("CreateModel", create)).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    await expect(client.call("ListModels", {})).resolves.toBeDefined();
    await expect(
      client.call("CreateModel", create, { authorization: "Bearer alice" }),
    ).resolves.toBeDefined();
    expect(order).toEqual(["outer:bob", "inner:bob", "outer:bob", "inner:bob", "outer:alice", "inner:alice"]);
  });

  it("hand the context they pass on to the handler, and never leak what they throw", async () => {
    const storage = createMemoryStorage();
    const service = createModelService(storage);
    // A handler that answers with what it found in its context.
    const handlers = {
      ...service,
      getModel: async (_request: unknown, context: { principal: Principal | undefined }) => ({
        model: { ...blankModel, id: "x", description: `principal ${context.principal?.subject}` },
      }),
    };
    const asAlice: ServerInterceptor = (next) => (call) =>
      next({ ...call, context: { ...call.context, principal: alice } });
    const broken: ServerInterceptor = (next) => (call) => {
      if (call.method.name === "ListModels") throw new Error("tracer crashed: token=hunter2");
      return next(call);
    };
    const binding = bindModelService(handlers, { logger: silent, interceptors: [asAlice, broken] });
    const server = new grpc.Server();
    server.addService(binding.definition, binding.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = createTestClient(`127.0.0.1:${port}`);
    stops.push(async () => {
      client.close();
      service.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    });
    const { model } = await client.call<{ model: Model }>("GetModel", { id: "x" });
    expect(model.description).toBe("principal alice");
    const error = await client.call("ListModels", {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: Code.INTERNAL, message: "Internal error." });
    expect(JSON.stringify(error)).not.toContain("hunter2");
  });
});

const blankModel: Model = {
  id: "",
  name: "n",
  version: "1",
  framework: "",
  description: "",
  tags: [],
  metadata: {},
  artifactUri: "",
  artifactDigest: "",
  etag: '"1"',
};
