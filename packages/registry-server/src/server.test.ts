import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Code, ErrorInfo, type Model, RegistryError } from "@modelreg/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeFor, runBufCurl } from "../../../test-support/buf-curl";
import { createRegistryServer, type Logger, type RegistryServer, type StorageAdapter } from "./index";
import { createMemoryStorage } from "./storage/memory";
import { createSqliteStorage } from "./storage/sqlite";
import { createTestClient } from "./test-support/grpc-client";

type Client = ReturnType<typeof createTestClient>;

/** Collects log lines, so tests can check what was logged and what was not sent. */
function memoryLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const at =
    (level: string) =>
    (fieldsOrMessage: Record<string, unknown> | string, message?: string): void => {
      if (typeof fieldsOrMessage === "string") lines.push({ level, fields: {}, message: fieldsOrMessage });
      else lines.push({ level, fields: fieldsOrMessage, message: message ?? "" });
    };
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

async function startServer(
  storage: StorageAdapter,
  extra: Partial<Parameters<typeof createRegistryServer>[0]> = {},
) {
  const { logger, lines } = memoryLogger();
  const server = createRegistryServer({
    storage,
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger,
    ...extra,
  });
  const { port } = await server.listen();
  const client = createTestClient(`127.0.0.1:${port}`);
  return { server, client, port, lines };
}

async function expectError(promise: Promise<unknown>, code: Code): Promise<RegistryError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${Code[code]}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  const registryError = error as RegistryError;
  expect(Code[registryError.code], registryError.message).toBe(Code[code]);
  return registryError;
}

const tmp = mkdtempSync(join(tmpdir(), "modelreg-server-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const adapters: [string, () => Promise<StorageAdapter>][] = [
  ["memory", async () => createMemoryStorage()],
  ["sqlite", () => createSqliteStorage({ path: join(tmp, `${Math.random().toString(36).slice(2)}.db`) })],
];

describe.each(adapters)("ModelService over gRPC with %s storage", (_name, createStorage) => {
  let server: RegistryServer;
  let client: Client;
  let storage: StorageAdapter;

  beforeAll(async () => {
    storage = await createStorage();
    ({ server, client } = await startServer(storage));
  });
  afterAll(async () => {
    client.close();
    await server.shutdown({ graceMs: 1000 });
    await storage.close();
  });

  const create = (model: Partial<Model>, requestId = "") =>
    client.call<{ model: Model }>("CreateModel", { model, requestId }).then((r) => r.model);

  it("creates a model and gets it back by id and by (name, version)", async () => {
    const created = await create({
      name: "test-model",
      version: "1.0.0",
      framework: "pytorch",
      tags: ["b", "a", "b"],
      metadata: { owner: "ana", emoji: "🚀" },
      artifactUri: "s3://models/test-model/1.0.0",
      id: "ignored",
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created).toMatchObject({
      name: "test-model",
      version: "1.0.0",
      framework: "pytorch",
      etag: '"1"',
    });
    expect(created.tags).toEqual(["a", "b"]);
    expect(created.metadata).toEqual({ owner: "ana", emoji: "🚀" });
    expect(created.createTime).toEqual(created.updateTime);
    expect(Number(created.createTime?.seconds)).toBeGreaterThan(Date.now() / 1000 - 60);

    const got = await client.call<{ model: Model }>("GetModel", { id: created.id });
    expect(got.model).toEqual(created);
    const looked = await client.call<{ model: Model }>("LookupModel", {
      name: "test-model",
      version: "1.0.0",
    });
    expect(looked.model).toEqual(created);
  });

  it("rejects invalid models with one field violation per problem", async () => {
    const error = await expectError(
      create({
        name: "",
        version: "1 0",
        description: "a\0b",
        artifactUri: "not a uri",
        tags: ["ok", "-bad"],
      }),
      Code.INVALID_ARGUMENT,
    );
    expect(error.violations.map((v) => v.field).sort()).toEqual([
      "model.artifact_uri",
      "model.description",
      "model.name",
      "model.tags[1]",
      "model.version",
    ]);
    expect(error.violations.find((v) => v.field === "model.name")?.description).toBe("is required");
    await expectError(client.call("CreateModel", {}), Code.INVALID_ARGUMENT);
    await expectError(create({ name: "x".repeat(129), version: "1" }), Code.INVALID_ARGUMENT);
  });

  it("refuses a second model with the same (name, version)", async () => {
    const first = await create({ name: "dup", version: "1" });
    const error = await expectError(create({ name: "dup", version: "1" }), Code.ALREADY_EXISTS);
    expect(error.reason).toBe("MODEL_ALREADY_EXISTS");
    expect(error.message).toContain(first.id);
  });

  it("makes creates idempotent with a request_id", async () => {
    const first = await create({ name: "idem", version: "1" }, "req-123");
    const again = await create({ name: "idem", version: "1" }, "req-123");
    expect(again).toEqual(first);
    const error = await expectError(create({ name: "idem", version: "2" }, "req-123"), Code.ALREADY_EXISTS);
    expect(error.reason).toBe("REQUEST_ID_REUSED");
  });

  it("answers NOT_FOUND for unknown ids and INVALID_ARGUMENT for malformed ones", async () => {
    const missing = await expectError(client.call("GetModel", { id: "0000-missing" }), Code.NOT_FOUND);
    expect(missing.reason).toBe("MODEL_NOT_FOUND");
    await expectError(client.call("GetModel", { id: "" }), Code.INVALID_ARGUMENT);
    await expectError(client.call("GetModel", { id: "a b" }), Code.INVALID_ARGUMENT);
    await expectError(client.call("LookupModel", { name: "nope", version: "1" }), Code.NOT_FOUND);
    await expectError(client.call("DeleteModel", { id: "0000-missing" }), Code.NOT_FOUND);
  });

  it("lists with filter, order and page tokens", async () => {
    for (let i = 0; i < 7; i++) {
      await create({
        name: `page-${i}`,
        version: "1",
        framework: i % 2 ? "onnx" : "pytorch",
        tags: i < 3 ? ["prod"] : [],
      });
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await client.call<{ models: Model[]; nextPageToken: string }>("ListModels", {
        filter: 'name = "page-*"',
        orderBy: "name desc",
        pageSize: 3,
        pageToken,
      });
      expect(page.models.length).toBeLessThanOrEqual(3);
      seen.push(...page.models.map((m) => m.name));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(["page-6", "page-5", "page-4", "page-3", "page-2", "page-1", "page-0"]);

    const prod = await client.call<{ models: Model[] }>("ListModels", {
      filter: "tags:prod AND framework = pytorch",
      orderBy: "name",
    });
    expect(prod.models.map((m) => m.name)).toEqual(["page-0", "page-2"]);
  });

  it("explains bad list arguments", async () => {
    await create({ name: "bad-args", version: "1" });
    await create({ name: "bad-args", version: "2" });
    const filter = await expectError(client.call("ListModels", { filter: "name = " }), Code.INVALID_ARGUMENT);
    expect(filter.violations[0]?.field).toBe("filter");
    expect(filter.violations[0]?.description).toMatch(/position/);
    const order = await expectError(client.call("ListModels", { orderBy: "colour" }), Code.INVALID_ARGUMENT);
    expect(order.violations[0]?.field).toBe("order_by");
    const token = await expectError(
      client.call("ListModels", { pageToken: "garbage" }),
      Code.INVALID_ARGUMENT,
    );
    expect(token.violations[0]?.field).toBe("page_token");
    await expectError(client.call("ListModels", { pageSize: -1 }), Code.INVALID_ARGUMENT);

    const first = await client.call<{ nextPageToken: string }>("ListModels", { pageSize: 1 });
    const reused = await expectError(
      client.call("ListModels", { pageSize: 1, pageToken: first.nextPageToken, orderBy: "name" }),
      Code.INVALID_ARGUMENT,
    );
    expect(reused.violations[0]?.description).toMatch(/another filter or order_by/);
  });

  it("gets many models in one call, in request order, all or nothing", async () => {
    const a = await create({ name: "batch-a", version: "1" });
    const b = await create({ name: "batch-b", version: "1" });
    const got = await client.call<{ models: Model[] }>("BatchGetModels", { ids: [b.id, a.id, b.id] });
    expect(got.models.map((m) => m.name)).toEqual(["batch-b", "batch-a", "batch-b"]);
    const error = await expectError(
      client.call("BatchGetModels", { ids: [a.id, "0000-nope"] }),
      Code.NOT_FOUND,
    );
    expect(error.message).toContain("0000-nope");
    await expectError(client.call("BatchGetModels", { ids: [] }), Code.INVALID_ARGUMENT);
  });

  it("updates the fields in the mask, conditionally on the etag", async () => {
    const m = await create({ name: "upd", version: "1", description: "old", framework: "onnx" });
    const updated = await client.call<{ model: Model }>("UpdateModel", {
      model: { id: m.id, description: "new", framework: "ignored" },
      updateMask: { paths: ["description"] },
    });
    expect(updated.model).toMatchObject({ description: "new", framework: "onnx", etag: '"2"' });

    const stale = await expectError(
      client.call("UpdateModel", {
        model: { id: m.id, description: "x", etag: m.etag },
        updateMask: { paths: ["description"] },
      }),
      Code.ABORTED,
    );
    expect(stale.reason).toBe("ETAG_MISMATCH");
    const immutable = await expectError(
      client.call("UpdateModel", { model: { id: m.id, name: "renamed" }, updateMask: { paths: ["name"] } }),
      Code.INVALID_ARGUMENT,
    );
    expect(immutable.violations[0]?.field).toBe("model.name");
    const unknown = await expectError(
      client.call("UpdateModel", { model: { id: m.id }, updateMask: { paths: ["colour"] } }),
      Code.INVALID_ARGUMENT,
    );
    expect(unknown.violations[0]?.field).toBe("update_mask");

    // No mask: every populated field, and an unchanged name echoed back is fine.
    const full = await client.call<{ model: Model }>("UpdateModel", {
      model: { ...updated.model, artifactUri: "gs://b/m" },
    });
    expect(full.model).toMatchObject({ artifactUri: "gs://b/m", description: "new", etag: '"3"' });
    await expectError(
      client.call("UpdateModel", { model: { id: "0000-nope", description: "x" } }),
      Code.NOT_FOUND,
    );
  });

  it("deletes conditionally on the etag", async () => {
    const m = await create({ name: "del", version: "1" });
    await expectError(client.call("DeleteModel", { id: m.id, etag: '"7"' }), Code.ABORTED);
    await client.call("DeleteModel", { id: m.id, etag: m.etag });
    await expectError(client.call("GetModel", { id: m.id }), Code.NOT_FOUND);
    await expectError(client.call("DeleteModel", { id: m.id, etag: "nonsense" }), Code.INVALID_ARGUMENT);
  });

  it("adds and removes tags with set semantics and a limit", async () => {
    const m = await create({ name: "tags", version: "1", tags: ["a"] });
    const added = await client.call<{ model: Model }>("AddModelTags", { id: m.id, tags: ["c", "a", "b"] });
    expect(added.model.tags).toEqual(["a", "b", "c"]);
    const same = await client.call<{ model: Model }>("AddModelTags", { id: m.id, tags: ["a"] });
    expect(same.model.etag).toBe(added.model.etag);
    const removed = await client.call<{ model: Model }>("RemoveModelTags", { id: m.id, tags: ["a", "zzz"] });
    expect(removed.model.tags).toEqual(["b", "c"]);
    await expectError(client.call("AddModelTags", { id: m.id, tags: [] }), Code.INVALID_ARGUMENT);
    const many = Array.from({ length: 63 }, (_, i) => `t${i}`);
    const full = await expectError(
      client.call("AddModelTags", { id: m.id, tags: many }),
      Code.FAILED_PRECONDITION,
    );
    expect(full.reason).toBe("TOO_MANY_TAGS");
    await expectError(client.call("AddModelTags", { id: m.id, tags: ["x"], etag: '"1"' }), Code.ABORTED);
  });

  it("never loses a tag under concurrent edits", async () => {
    const m = await create({ name: "race", version: "1" });
    const tags = Array.from({ length: 12 }, (_, i) => `tag-${i}`);
    await Promise.all(tags.map((tag) => client.call("AddModelTags", { id: m.id, tags: [tag] })));
    const got = await client.call<{ model: Model }>("GetModel", { id: m.id });
    expect(got.model.tags).toEqual([...tags].sort());
    expect(got.model.etag).toBe('"13"');
  });

  it("sets and removes metadata keys in one step", async () => {
    const m = await create({ name: "meta", version: "1", metadata: { a: "1", b: "2" } });
    const updated = await client.call<{ model: Model }>("UpdateModelMetadata", {
      id: m.id,
      set: { c: "3", a: "one" },
      removeKeys: ["b", "absent"],
    });
    expect(updated.model.metadata).toEqual({ a: "one", c: "3" });
    const both = await expectError(
      client.call("UpdateModelMetadata", { id: m.id, set: { a: "x" }, removeKeys: ["a"] }),
      Code.INVALID_ARGUMENT,
    );
    expect(both.violations[0]?.field).toBe("remove_keys[0]");
    await expectError(client.call("UpdateModelMetadata", { id: m.id }), Code.INVALID_ARGUMENT);
  });

  it("rejects bytes that are not a request message", async () => {
    const error = await expectError(
      client.call("GetModel", Buffer.from([0x0a, 0xff, 0xff])),
      Code.INVALID_ARGUMENT,
    );
    expect(error.message).toContain("GetModelRequest");
  });
});

describe("failures that must not leak", () => {
  it("answers INTERNAL with a generic message for an unexpected exception, and logs it", async () => {
    const storage = createMemoryStorage();
    storage.get = async () => {
      throw new Error("SELECT secret_column FROM models -- password=hunter2");
    };
    const { server, client, lines } = await startServer(storage);
    try {
      const error = await expectError(client.call("GetModel", { id: "abc" }), Code.INTERNAL);
      expect(error.message).toBe("Internal error.");
      expect(JSON.stringify(error)).not.toContain("hunter2");
      expect(lines.some((l) => l.level === "error" && String(l.fields.err).includes("hunter2"))).toBe(true);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("answers UNAVAILABLE when storage is down", async () => {
    const storage = createMemoryStorage();
    storage.get = async () => {
      throw new RegistryError(Code.UNAVAILABLE, "The model database is unavailable; try again later.");
    };
    const { server, client } = await startServer(storage);
    try {
      await expectError(client.call("GetModel", { id: "abc" }), Code.UNAVAILABLE);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });
});

describe("deadlines", () => {
  it("answers DEADLINE_EXCEEDED when storage is slower than the caller's deadline", async () => {
    const storage = createMemoryStorage();
    storage.get = () => new Promise((resolve) => setTimeout(() => resolve(undefined), 1000));
    const { server, client } = await startServer(storage);
    try {
      const started = Date.now();
      await expectError(client.call("GetModel", { id: "abc" }, {}, 200), Code.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(900);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 2000 });
    }
  });

  it("hands the caller's deadline to storage, so a database can stop work nobody waits for", async () => {
    const storage = createMemoryStorage();
    const seen: (number | undefined)[] = [];
    const get = storage.get.bind(storage);
    storage.get = (id, options) => {
      seen.push(options?.deadline);
      return get(id, options);
    };
    const { server, client } = await startServer(storage);
    try {
      const before = Date.now();
      await expectError(client.call("GetModel", { id: "abc" }, {}, 5000), Code.NOT_FOUND);
      const [deadline] = seen;
      // grpc-js sends the remaining time, rounded; the server turns it back into a point in time.
      expect(deadline).toBeGreaterThan(before + 4000);
      expect(deadline).toBeLessThanOrEqual(Date.now() + 5100);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 2000 });
    }
  });
});

describe("authorization hook", () => {
  it("refuses calls the hook rejects, with its code", async () => {
    const { server, client } = await startServer(createMemoryStorage(), {
      authorize: ({ metadata }) => {
        const token = metadata.get("authorization")[0];
        if (token === undefined)
          throw new RegistryError(Code.UNAUTHENTICATED, "Send an Authorization header.");
        if (token !== "Bearer good")
          throw new RegistryError(Code.PERMISSION_DENIED, "This token may not do that.");
      },
    });
    try {
      await expectError(client.call("ListModels", {}), Code.UNAUTHENTICATED);
      await expectError(
        client.call("ListModels", {}, { authorization: "Bearer bad" }),
        Code.PERMISSION_DENIED,
      );
      await expect(client.call("ListModels", {}, { authorization: "Bearer good" })).resolves.toBeDefined();
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });
});

describe("options", () => {
  it("insists on TLS or an explicit insecure: true", () => {
    expect(() => createRegistryServer({ storage: createMemoryStorage() })).toThrow(/insecure: true/);
    expect(() =>
      createRegistryServer({ storage: createMemoryStorage(), insecure: true, port: 70000 }),
    ).toThrow(/port/);
  });
});

describe("health and shutdown", () => {
  it("reports SERVING over grpc.health.v1 and HTTP, and NOT_SERVING when storage is down", async () => {
    const storage = createMemoryStorage();
    let down = false;
    storage.ping = async () => {
      if (down) throw new RegistryError(Code.UNAVAILABLE, "down");
    };
    const { logger } = memoryLogger();
    const server = createRegistryServer({
      storage,
      insecure: true,
      host: "127.0.0.1",
      port: 0,
      httpPort: 0,
      logger,
      healthCheckIntervalMs: 50,
    });
    const { port, httpPort } = await server.listen();
    const healthClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const check = () =>
      new Promise<number>((resolve, reject) =>
        healthClient.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          (v: Buffer) => v,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (error, response) => (error ? reject(error) : resolve(response?.[1] ?? 0)),
        ),
      );
    try {
      expect(await check()).toBe(1); // SERVING
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
      down = true;
      await new Promise((r) => setTimeout(r, 200));
      expect(await check()).toBe(2); // NOT_SERVING
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);
    } finally {
      healthClient.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("lets calls in flight finish, then refuses new ones with UNAVAILABLE", async () => {
    const storage = createMemoryStorage();
    const slowGet = storage.get.bind(storage);
    let release: () => void = () => {};
    const started = new Promise<void>((resolveStarted) => {
      storage.get = async (id) => {
        resolveStarted();
        await new Promise<void>((r) => {
          release = r;
        });
        return slowGet(id);
      };
    });
    const { server, client } = await startServer(storage);
    try {
      const inFlight = client.call("GetModel", { id: "abc" }).catch((e: unknown) => e);
      await started;
      const stopped = server.shutdown({ graceMs: 5000 });
      setTimeout(() => release(), 100);
      const result = await inFlight;
      // The call ran to completion (NOT_FOUND from storage), it was not cut off.
      expect(result).toBeInstanceOf(RegistryError);
      expect((result as RegistryError).code).toBe(Code.NOT_FOUND);
      await stopped;
      await expectError(client.call("GetModel", { id: "abc" }), Code.UNAVAILABLE);
    } finally {
      client.close();
    }
  });
});

describe("an independent client (buf curl: connect-go, schema from reflection) against the real server", () => {
  let server: RegistryServer;
  let url = "";
  const method = (name: string) => `${url}/modelregistry.v1.ModelService/${name}`;

  beforeAll(async () => {
    const started = await startServer(await createSqliteStorage({ path: join(tmp, "buf-curl.db") }));
    server = started.server;
    url = `http://127.0.0.1:${started.port}`;
  });
  afterAll(async () => {
    await server?.shutdown({ graceMs: 100 });
  });

  it("lists every service and method, checks health, creates, gets and lists models", async () => {
    const services = await runBufCurl(["--list-services", url]);
    expect(services.code, services.stderr).toBe(0);
    expect(services.stdout.split("\n")).toEqual(
      expect.arrayContaining(["modelregistry.v1.ModelService", "grpc.health.v1.Health"]),
    );
    // Resolves every listed service's schema through reflection.
    const methods = await runBufCurl(["--list-methods", url]);
    expect(methods.code, methods.stderr).toBe(0);
    expect(methods.stdout.split("\n")).toEqual(
      expect.arrayContaining(["modelregistry.v1.ModelService/WatchModels", "grpc.health.v1.Health/Check"]),
    );
    const health = await runBufCurl([`${url}/grpc.health.v1.Health/Check`]);
    expect(health.code, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });

    const created = await runBufCurl([
      "-d",
      '{"model":{"name":"test-model","version":"1.0.0","framework":"pytorch","metadata":{"k":"v"}}}',
      method("CreateModel"),
    ]);
    expect(created.code, created.stderr).toBe(0);
    const model = JSON.parse(created.stdout).model as { id: string; createTime: string };
    expect(model.createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    // The request from stdin, as `buf curl -d @-` reads it.
    const got = await runBufCurl(["-d", "@-", method("GetModel")], {
      stdin: JSON.stringify({ id: model.id }),
    });
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout).model).toMatchObject({
      id: model.id,
      name: "test-model",
      metadata: { k: "v" },
      createTime: model.createTime,
    });

    const listed = await runBufCurl(["-d", '{"filter":"framework = pytorch"}', method("ListModels")]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).models.map((m: { id: string }) => m.id)).toEqual([model.id]);
  }, 30_000);

  it("gets the gRPC status and its google.rpc details", async () => {
    const missing = await runBufCurl(["-d", '{"id":"0000-nope"}', method("GetModel")]);
    expect(missing.code, missing.stderr).toBe(exitCodeFor(Code.NOT_FOUND));
    const error = JSON.parse(missing.stderr) as { code: string; details: { type: string; value: string }[] };
    expect(error.code).toBe("not_found");
    expect(error.details.map((d) => d.type)).toEqual(["google.rpc.ErrorInfo"]);
    expect(ErrorInfo.fromBinary(Buffer.from(error.details[0]?.value ?? "", "base64"))).toMatchObject({
      reason: "MODEL_NOT_FOUND",
      domain: "modelreg.dev",
    });

    const invalid = await runBufCurl(["-d", '{"model":{"name":"","version":"1"}}', method("CreateModel")]);
    expect(invalid.code, invalid.stderr).toBe(exitCodeFor(Code.INVALID_ARGUMENT));
    expect(JSON.parse(invalid.stderr).details.map((d: { type: string }) => d.type)).toContain(
      "google.rpc.BadRequest",
    );
  }, 30_000);
});
