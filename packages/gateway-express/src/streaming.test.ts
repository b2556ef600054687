/**
 * The streaming routes through a real Express app, a real registry client
 * and a real registry: the watch as server-sent events and NDJSON, resumed
 * with Last-Event-ID and across a registry restart; the NDJSON import.
 */
import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError, WatchModelsResponse } from "@modelreg/proto";
import {
  createRegistryClient,
  createRegistryTransport,
  type RegistryClient,
} from "@modelreg/registry-client";
import { createMemoryStorage } from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../test-support/registry";
import { within } from "../../../test-support/waiting";
import { negotiateStreamFormat } from "./core/streaming";
import {
  expectError,
  expressVersions,
  fieldViolations,
  Resources,
  startGateway,
  startRegistry,
} from "./test-support/harness";

/** One server-sent event. */
interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Reads a streamed body as SSE events or NDJSON lines, as they arrive. */
class StreamReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(response: Response) {
    if (!response.body) throw new Error("the response has no body");
    this.#reader = response.body.getReader();
  }

  async #until(separator: string): Promise<string> {
    for (;;) {
      const at = this.#buffer.indexOf(separator);
      if (at !== -1) {
        const piece = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + separator.length);
        return piece;
      }
      const { done, value } = await this.#reader.read();
      if (done) throw new Error(`the stream ended; left over: ${JSON.stringify(this.#buffer)}`);
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  /** The next SSE event (comments skipped). */
  async event(ms = 10_000): Promise<SseEvent> {
    return within(
      (async () => {
        for (;;) {
          const block = await this.#until("\n\n");
          const event: SseEvent = { data: "" };
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "data") data.push(value);
            else if (field === "id") event.id = value;
            else if (field === "event") event.event = value;
          }
          if (data.length === 0 && event.id === undefined) continue;
          event.data = data.join("\n");
          return event;
        }
      })(),
      ms,
      "the next server-sent event",
    );
  }

  /** The next NDJSON line, parsed. */
  async line(ms = 10_000): Promise<Record<string, unknown>> {
    return within(
      this.#until("\n").then((text) => JSON.parse(text) as Record<string, unknown>),
      ms,
      "the next NDJSON line",
    );
  }

  /** Resolves when the body ends; fails if more data comes. */
  async end(ms = 5000): Promise<void> {
    const { done, value } = await within(this.#reader.read(), ms, "the end of the stream");
    if (!done) throw new Error(`more data: ${this.#decoder.decode(value)}`);
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

interface WatchJson {
  revision: string;
  event?: {
    type: string;
    modelId: string;
    revision: string;
    model: { name: string; version: string };
    alias?: { name: string; alias: string; version: string; modelId: string; updatedBy: string };
  };
}

const anyExpress = (() => {
  const last = expressVersions.at(-1);
  if (!last) throw new Error("no Express version to test");
  return last.express;
})();

const ndjson = (items: readonly unknown[]) => `${items.map((item) => JSON.stringify(item)).join("\n")}\n`;

describe.each(expressVersions)("streaming routes on $name", ({ express }) => {
  const resources = new Resources();
  let base: string;
  let client: RegistryClient;

  beforeAll(async () => {
    const registry = await startRegistry(resources);
    client = registry.client;
    base = await startGateway(resources, express, { client });
  });
  afterAll(() => resources.closeAll());

  const watchUrl = (filter: string, extra = "") =>
    `${base}/api/v1/models:watch?filter=${encodeURIComponent(filter)}${extra}`;

  it("GET models:watch as server-sent events: progress first, then each change with its revision as id", async () => {
    const controller = new AbortController();
    const response = await fetch(watchUrl('name = "sse"'), {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-accel-buffering")).toBe("no");
      expect(response.headers.get("x-request-id")).toBeTruthy();
      const stream = new StreamReader(response);
      const start = await stream.event();
      expect(start.event).toBe("progress");
      expect(JSON.parse(start.data)).toEqual({ revision: start.id });

      const model = await client.createModel({ model: { name: "sse", version: "1" } });
      const tagged = await client.addModelTags({ id: model.id, tags: ["prod"] });
      await client.deleteModel({ id: model.id, etag: tagged.etag });
      const frames = [await stream.event(), await stream.event(), await stream.event()];
      expect(frames.map((f) => f.event)).toEqual(["created", "updated", "deleted"]);
      expect(frames.map((f) => f.id)).toEqual(
        [1, 2, 3].map((i) => String(BigInt(start.id ?? "0") + BigInt(i))),
      );
      const created = JSON.parse(frames[0]?.data ?? "{}") as WatchJson;
      expect(created.revision).toBe(frames[0]?.id);
      expect(created.event).toMatchObject({
        type: "MODEL_EVENT_TYPE_CREATED",
        modelId: model.id,
        revision: frames[0]?.id,
        model: { name: "sse", version: "1" },
      });
    } finally {
      controller.abort();
    }
  });

  it("GET models:watch delivers alias_set and alias_deleted events with the alias", async () => {
    const controller = new AbortController();
    const response = await fetch(watchUrl('name = "aliased"'), {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    try {
      const stream = new StreamReader(response);
      expect((await stream.event()).event).toBe("progress");
      const model = await client.createModel({ model: { name: "aliased", version: "1" } });
      await client.setModelAlias({ name: "aliased", alias: "champion", version: "1" });
      await client.deleteModelAlias({ name: "aliased", alias: "champion", expectedVersion: "1" });
      const frames = [await stream.event(), await stream.event(), await stream.event()];
      expect(frames.map((f) => f.event)).toEqual(["created", "alias_set", "alias_deleted"]);
      const [, set, deleted] = frames.map((f) => JSON.parse(f.data) as WatchJson);
      expect(set?.event).toMatchObject({
        type: "MODEL_EVENT_TYPE_ALIAS_SET",
        modelId: model.id,
        alias: {
          name: "aliased",
          alias: "champion",
          version: "1",
          modelId: model.id,
          updatedBy: "anonymous",
        },
        model: { name: "aliased", version: "1" },
      });
      expect(deleted?.event).toMatchObject({
        type: "MODEL_EVENT_TYPE_ALIAS_DELETED",
        alias: { alias: "champion", version: "1" },
      });
    } finally {
      controller.abort();
    }
  });

  it("Last-Event-ID resumes with exactly the changes after it, and wins over afterRevision", async () => {
    const first = await fetch(watchUrl('name = "resume"'), { headers: { accept: "text/event-stream" } });
    const stream = new StreamReader(first);
    await stream.event();
    for (let i = 1; i <= 3; i++) await client.createModel({ model: { name: "resume", version: `${i}` } });
    const seen = [await stream.event(), await stream.event(), await stream.event()];
    await stream.cancel();

    // What an EventSource does on reconnecting: the same URL, plus Last-Event-ID.
    const resumed = await fetch(watchUrl('name = "resume"', "&afterRevision=0"), {
      headers: { accept: "text/event-stream", "last-event-id": seen[0]?.id ?? "" },
    });
    const again = new StreamReader(resumed);
    try {
      const progress = await again.event();
      expect(progress).toMatchObject({ event: "progress", id: seen[0]?.id });
      const replayed = [await again.event(), await again.event()];
      expect(replayed.map((e) => e.id)).toEqual([seen[1]?.id, seen[2]?.id]);
      await client.createModel({ model: { name: "resume", version: "marker" } });
      const marker = JSON.parse((await again.event()).data) as WatchJson;
      expect(marker.event?.model.version).toBe("marker");
    } finally {
      await again.cancel();
    }
  });

  it("GET models:watch as NDJSON by default, resumed with afterRevision", async () => {
    const model = await client.createModel({ model: { name: "ndjson", version: "1" } });
    const response = await fetch(watchUrl('name = "ndjson"'));
    expect(response.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const stream = new StreamReader(response);
    try {
      const start = (await stream.line()) as unknown as WatchJson;
      expect(start).not.toHaveProperty("event");
      await client.updateModel({
        model: { id: model.id, description: "changed", etag: model.etag },
        updateMask: { paths: ["description"] },
      });
      const update = (await stream.line()) as unknown as WatchJson;
      expect(update.event).toMatchObject({ type: "MODEL_EVENT_TYPE_UPDATED", modelId: model.id });
      expect(BigInt(update.revision)).toBeGreaterThan(BigInt(start.revision));
    } finally {
      await stream.cancel();
    }
  });

  it("refuses a revision the registry does not have with a JSON 400 OUT_OF_RANGE", async () => {
    const response = await fetch(watchUrl("", "&after_revision=900000000000"), {
      headers: { accept: "text/event-stream" },
    });
    await expectError(response, 400, "OUT_OF_RANGE");
  });

  it("HEAD checks the watch without streaming", async () => {
    const response = await fetch(watchUrl('name = "head"'), {
      method: "HEAD",
      headers: { accept: "text/event-stream" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(await response.text()).toBe("");
  });

  it("POST models:import takes NDJSON and answers the summary", async () => {
    const existing = await client.createModel({ model: { name: "import", version: "dup" } });
    const body = [
      JSON.stringify({ model: { name: "import", version: "1", framework: "pytorch" }, requestId: "imp-1" }),
      "",
      JSON.stringify({ model: { name: "", version: "2" } }),
      JSON.stringify({ model: { name: "import", version: "dup" } }),
      JSON.stringify({ model: { name: "import", version: "3" } }),
    ].join("\r\n");
    const response = await fetch(`${base}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body,
    });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const summary = (await response.json()) as {
      createdCount: number;
      alreadyExistsCount: number;
      failedCount: number;
      results: { index: number; outcome: string; modelId: string; error?: { code: number } }[];
    };
    expect(summary).toMatchObject({ createdCount: 2, alreadyExistsCount: 1, failedCount: 1 });
    // Indexes count items, not lines: the blank line is not an item.
    expect(summary.results.find((r) => r.outcome === "IMPORT_OUTCOME_FAILED")).toMatchObject({
      index: 1,
      error: { code: Code.INVALID_ARGUMENT },
    });
    expect(summary.results.find((r) => r.outcome === "IMPORT_OUTCOME_ALREADY_EXISTS")).toMatchObject({
      index: 2,
      modelId: existing.id,
    });
  });

  it("a malformed line answers 400 naming it, and nothing after it is written", async () => {
    const response = await fetch(`${base}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body:
        ndjson([{ model: { name: "badline", version: "1" } }, { model: { name: "badline", version: "2" } }]) +
        '{"model": {"name": "badline", "version": "3"}\n' +
        ndjson([{ model: { name: "badline", version: "4" } }]),
    });
    const error = await expectError(response, 400, "INVALID_ARGUMENT");
    expect(error.error.message).toMatch(/^Line 3 of the NDJSON body/);
    expect(fieldViolations(error).map((v) => v.field)).toEqual(["line 3"]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const versions = (await client.listModels({ filter: 'name = "badline"' })).models.map((m) => m.version);
    expect(versions).not.toContain("3");
    expect(versions).not.toContain("4");
  });

  it("a line longer than maxBodyBytes answers 413 naming it", async () => {
    const small = await startGateway(resources, express, { client, maxBodyBytes: 200 });
    const response = await fetch(`${small}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: ndjson([
        { model: { name: "long", version: "1" } },
        { model: { name: "long", version: "2", description: "x".repeat(300) } },
      ]),
    });
    const error = await expectError(response, 413);
    expect(error.error.message).toMatch(/^Line 2 .*longer than 200 bytes/);
    // The whole body may be larger than maxBodyBytes: the limit is per line.
    const many = await fetch(`${small}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: ndjson(Array.from({ length: 50 }, (_, i) => ({ model: { name: "long-ok", version: `${i}` } }))),
    });
    expect(await many.json()).toMatchObject({ createdCount: 50 });
  });

  it("streams the upload: items are imported while the body is still arriving", async () => {
    let push: (line: string) => void = () => {};
    let close: () => void = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (line) => controller.enqueue(new TextEncoder().encode(line));
        close = () => controller.close();
      },
    });
    const pending = fetch(`${base}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body,
      duplex: "half",
    } as RequestInit);
    push(ndjson(Array.from({ length: 300 }, (_, i) => ({ model: { name: "trickle", version: `${i}` } }))));
    // The registry writes in batches as items come; the HTTP body is still open.
    await within(
      (async () => {
        while ((await client.listModels({ filter: 'name = "trickle"', pageSize: 1 })).models.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
      5000,
      "the first items being written before the body ends",
    );
    push(ndjson([{ model: { name: "trickle", version: "last" } }]));
    close();
    const response = await pending;
    expect(await response.json()).toMatchObject({ createdCount: 301, failedCount: 0 });
  });
});

/** A transport for stand-in clients whose unary calls the test never makes. */
function unusedTransport(resources: Resources) {
  const transport = createRegistryTransport({ target: "127.0.0.1:1", insecure: true });
  resources.add(() => transport.close());
  return transport;
}

describe("a watch through the gateway across a registry restart", () => {
  it("the HTTP stream continues without a gap or a duplicate", async () => {
    const resources = new Resources();
    try {
      const storage = createMemoryStorage();
      let registry = await startTestRegistry({ storage });
      const port = registry.port;
      resources.add(() => registry.server.shutdown({ graceMs: 50 }));
      const client = createRegistryClient({
        target: registry.address,
        insecure: true,
        retry: { maxAttempts: 20, initialBackoffMs: 50, maxBackoffMs: 500 },
      });
      resources.add(() => client.close());
      const base = await startGateway(resources, anyExpress, {
        client,
      });
      const controller = new AbortController();
      resources.add(() => controller.abort());
      const response = await fetch(`${base}/api/v1/models:watch`, {
        headers: { accept: "text/event-stream" },
        signal: controller.signal,
      });
      const stream = new StreamReader(response);
      const start = BigInt((await stream.event()).id ?? "");
      await client.createModel({ model: { name: "bridged", version: "before" } });
      expect((await stream.event()).id).toBe(String(start + 1n));

      await registry.server.shutdown({ graceMs: 100 });
      registry = await startTestRegistry({ storage, port });
      for (const version of ["after-1", "after-2"]) {
        await client.createModel(
          { model: { name: "bridged", version }, requestId: version },
          { timeoutMs: 10_000 },
        );
      }
      const after = [await stream.event(20_000), await stream.event()];
      expect(after.map((e) => e.id)).toEqual([String(start + 2n), String(start + 3n)]);
      expect(after.map((e) => (JSON.parse(e.data) as WatchJson).event?.model.version)).toEqual([
        "after-1",
        "after-2",
      ]);
    } finally {
      await resources.closeAll();
    }
  }, 60_000);
});

describe("watch failures through the gateway", () => {
  const resources = new Resources();
  afterAll(() => resources.closeAll());

  it("a registry that is down answers 503 at once instead of a silent stream", async () => {
    const { server, address } = await startTestRegistry();
    await server.shutdown({ graceMs: 10 });
    const client = createRegistryClient({ target: address, insecure: true });
    resources.add(() => client.close());
    const base = await startGateway(resources, anyExpress, { client });
    const started = Date.now();
    const body = await expectError(await fetch(`${base}/api/v1/models:watch`), 503, "UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(body.error.message).not.toContain("127.0.0.1");
  });

  it("an error after the first byte is the stream's last message: an SSE error event, an NDJSON error line", async () => {
    // A stand-in client: the registry has no way to fail a watch with PERMISSION_DENIED on demand.
    const client = {
      transport: unusedTransport(resources),
      async *watchModels() {
        yield WatchModelsResponse.create({ revision: 41n });
        throw new RegistryError(Code.PERMISSION_DENIED, "The token no longer allows watching.");
      },
    } as unknown as RegistryClient;
    const base = await startGateway(resources, anyExpress, { client });

    const sse = new StreamReader(
      await fetch(`${base}/api/v1/models:watch`, { headers: { accept: "text/event-stream" } }),
    );
    expect(await sse.event()).toMatchObject({ id: "41", event: "progress" });
    const error = await sse.event();
    expect(error.event).toBe("error");
    expect(error.id).toBeUndefined();
    expect(JSON.parse(error.data)).toEqual({
      error: {
        code: 403,
        message: "The token no longer allows watching.",
        status: "PERMISSION_DENIED",
        details: [],
      },
    });
    await sse.end();

    const lines = new StreamReader(await fetch(`${base}/api/v1/models:watch`));
    expect(await lines.line()).toEqual({ revision: "41" });
    expect(await lines.line()).toMatchObject({ error: { code: 403, status: "PERMISSION_DENIED" } });
    await lines.end();
  });

  it("answers 501 for the streaming routes with a client that cannot stream", async () => {
    const base = await startGateway(resources, anyExpress, {
      client: { transport: unusedTransport(resources) },
    });
    await expectError(await fetch(`${base}/api/v1/models:watch`), 501, "UNIMPLEMENTED");
    const response = await fetch(`${base}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: "{}\n",
    });
    await expectError(response, 501, "UNIMPLEMENTED");
  });
});

describe.each(expressVersions)("an HTTP watcher that goes away on $name", ({ express }) => {
  const resources = new Resources();
  const cancelled: Promise<void>[] = [];
  let base: string;

  beforeAll(async () => {
    // A bare grpc-js server (not the registry) that records the cancellation its WatchModels sees.
    const server = new grpc.Server();
    server.register<Buffer, Buffer>(
      "/modelregistry.v1.ModelService/WatchModels",
      (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        cancelled.push(new Promise((resolve) => call.on("cancelled", () => resolve())));
        call.write(Buffer.from(WatchModelsResponse.toBinary(WatchModelsResponse.create({ revision: 5n }))));
      },
      (response: Buffer) => response,
      (request: Buffer) => request,
      "serverStream",
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    resources.add(() => server.forceShutdown());
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    resources.add(() => client.close());
    base = await startGateway(resources, express, { client });
  });
  afterAll(() => resources.closeAll());

  it.each(["text/event-stream", "application/x-ndjson"])(
    "%s: the server sees the gRPC stream cancelled",
    async (accept) => {
      const before = cancelled.length;
      const controller = new AbortController();
      const response = await fetch(`${base}/api/v1/models:watch`, {
        headers: { accept },
        signal: controller.signal,
      });
      const stream = new StreamReader(response);
      if (accept === "text/event-stream") expect((await stream.event()).id).toBe("5");
      else expect(await stream.line()).toEqual({ revision: "5" });
      expect(cancelled.length).toBe(before + 1);
      controller.abort();
      await within(
        cancelled[before] ?? Promise.reject(new Error("no call")),
        3000,
        "the server seeing the cancellation",
      );
    },
  );
});

describe("Accept negotiation", () => {
  it.each([
    [undefined, "ndjson"],
    ["*/*", "ndjson"],
    ["text/event-stream", "sse"],
    ["application/x-ndjson", "ndjson"],
    ["text/*", "sse"],
    ["text/event-stream;q=0.5, application/x-ndjson", "ndjson"],
    ["application/x-ndjson;q=0.2, text/event-stream", "sse"],
    ["text/event-stream, */*;q=0.1", "sse"],
    ["application/json", "ndjson"],
  ] as const)("%s -> %s", (accept, format) => {
    expect(negotiateStreamFormat(accept)).toBe(format);
  });
});
