import { setTimeout as delay } from "node:timers/promises";
import { Code, createRegistryClient, type RegistryClient, RegistryError } from "@modelreg/registry-client";
import { createMemoryStorage, type StorageAdapter } from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGatewayMiddleware } from "./index";
import {
  expectError,
  expressVersions,
  fieldViolations,
  type ModelJson,
  Resources,
  rawRequest,
  startGateway,
  startRegistry,
  unusedPort,
} from "./test-support/harness";

const seed = { name: "test-model", version: "1.0.0", framework: "pytorch" };
const secret = "postgres://admin:hunter2@db.internal:5432";
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(expressVersions)("the gateway on $name", ({ express }) => {
  const resources = new Resources();
  /** Request metadata the registry saw, by x-request-id (recorded by its authorize hook). */
  const seenMetadata = new Map<string, Record<string, string>>();
  let base: string;
  let cookieBase: string;
  let downBase: string;
  let slowBase: string;
  let brokenBase: string;
  let slowModelId: string;
  let registryClient: RegistryClient;
  let brokenModelId: string;

  beforeAll(async () => {
    const main = await startRegistry(resources, {
      authorize: ({ metadata }) => {
        if (metadata.get("authorization")[0] === "Bearer expired") {
          throw new RegistryError(Code.UNAUTHENTICATED, "The token has expired.");
        }
        const [requestId] = metadata.get("x-request-id");
        if (typeof requestId !== "string") return;
        const entries = Object.entries(metadata.getMap()).map(([k, v]) => [k, String(v)] as const);
        seenMetadata.set(requestId, Object.fromEntries(entries));
      },
    });
    registryClient = main.client;
    base = await startGateway(resources, express, {
      client: main.client,
      rateLimit: (request) => {
        const throttle = request.headers["x-test-throttle"];
        if (throttle === undefined) return true;
        return throttle === "7" ? { retryAfterSeconds: 7 } : false;
      },
    });
    cookieBase = await startGateway(resources, express, { client: main.client, forwardCookies: true });

    // A registry that is not there.
    const downClient = createRegistryClient({
      target: `127.0.0.1:${await unusedPort()}`,
      insecure: true,
      retry: false,
    });
    resources.add(() => downClient.close());
    downBase = await startGateway(resources, express, { client: downClient });

    // A registry whose storage takes 1 s to read a model.
    const slowMemory = createMemoryStorage();
    const slowStorage: StorageAdapter = {
      ...slowMemory,
      async get(id) {
        await delay(1000);
        return slowMemory.get(id);
      },
    };
    const slow = await startRegistry(resources, { storage: slowStorage });
    slowModelId = (await slow.client.createModel({ model: { name: "slow", version: "1" } })).id;
    slowBase = await startGateway(resources, express, { client: slow.client });

    // A registry whose storage fails with an error message that must stay private.
    const brokenMemory = createMemoryStorage();
    const brokenStorage: StorageAdapter = {
      ...brokenMemory,
      async get() {
        throw new Error(`could not connect to ${secret}`);
      },
    };
    const broken = await startRegistry(resources, { storage: brokenStorage });
    brokenModelId = (await broken.client.createModel({ model: { name: "broken", version: "1" } })).id;
    brokenBase = await startGateway(resources, express, { client: broken.client });
  });
  afterAll(() => resources.closeAll());

  const jsonHeaders = { "content-type": "application/json" };

  async function create(name: string, extra: Record<string, unknown> = {}): Promise<ModelJson> {
    const response = await fetch(`${base}/api/v1/models`, {
      method: "POST",
      headers: jsonHeaders,
      body: JSON.stringify({ name, version: "1.0.0", ...extra }),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as ModelJson;
  }

  it("a 401 names the Bearer scheme in WWW-Authenticate, on unary calls and the watch", async () => {
    for (const path of ["/api/v1/models", "/api/v1/models:watch"]) {
      const response = await fetch(`${base}${path}`, { headers: { authorization: "Bearer expired" } });
      const error = await expectError(response, 401, "UNAUTHENTICATED");
      expect(error.error.message).toBe("The token has expired.");
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
    }
    const ok = await fetch(`${base}/api/v1/models?pageSize=1`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("www-authenticate")).toBeNull();
  });

  describe("routes", () => {
    let seeded: ModelJson;

    it("POST /api/v1/models registers the seed model and returns it", async () => {
      const response = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: jsonHeaders,
        body: JSON.stringify(seed),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      seeded = (await response.json()) as ModelJson;
      expect(seeded).toMatchObject({ ...seed, description: "", tags: [], metadata: {}, artifactUri: "" });
      expect(seeded.id).toMatch(/^[A-Za-z0-9-]+$/);
      expect(seeded.etag).toMatch(/^"\d+"$/);
      expect(seeded.createTime).toBe(seeded.updateTime);
      expect(response.headers.get("etag")).toBe(seeded.etag);
    });

    it("GET /api/v1/models lists models", async () => {
      const response = await fetch(
        `${base}/api/v1/models?pageSize=1000&filter=${encodeURIComponent('name = "test-model"')}`,
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as { models: ModelJson[]; nextPageToken: string };
      expect(body.models.map((m) => m.id)).toEqual([seeded.id]);
      expect(body.nextPageToken).toBe("");
      expect(response.headers.get("etag")).toBeNull();
    });

    it("GET /api/v1/models pages with pageSize and pageToken", async () => {
      await create("paged-a");
      await create("paged-b");
      const filter = encodeURIComponent('name = "paged-*"');
      const first = (await (
        await fetch(`${base}/api/v1/models?pageSize=1&filter=${filter}&orderBy=name`)
      ).json()) as {
        models: ModelJson[];
        nextPageToken: string;
      };
      expect(first.models.map((m) => m.name)).toEqual(["paged-a"]);
      expect(first.nextPageToken).not.toBe("");
      const second = (await (
        await fetch(
          `${base}/api/v1/models?page_size=1&filter=${filter}&order_by=name&page_token=${encodeURIComponent(first.nextPageToken)}`,
        )
      ).json()) as { models: ModelJson[]; nextPageToken: string };
      expect(second.models.map((m) => m.name)).toEqual(["paged-b"]);
      expect(second.nextPageToken).toBe("");
    });

    it("GET /api/v1/models/{id} returns the model with its ETag", async () => {
      const response = await fetch(`${base}/api/v1/models/${seeded.id}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(seeded);
      expect(response.headers.get("etag")).toBe(seeded.etag);
    });

    it("GET /api/v1/models:lookup finds a model by name and version", async () => {
      const response = await fetch(`${base}/api/v1/models:lookup?name=test-model&version=1.0.0`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as ModelJson).id).toBe(seeded.id);
    });

    it("GET /api/v1/models:batchGet returns models in the order asked", async () => {
      const other = await create("batch-other");
      const response = await fetch(
        `${base}/api/v1/models:batchGet?ids=${other.id}&ids=${seeded.id}&ids=${other.id}`,
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as { models: ModelJson[] };
      expect(body.models.map((m) => m.id)).toEqual([other.id, seeded.id, other.id]);
    });

    it("PATCH /api/v1/models/{id}?updateMask=... changes only the named fields", async () => {
      const model = await create("patch-mask", { framework: "onnx", description: "old" });
      const response = await fetch(`${base}/api/v1/models/${model.id}?updateMask=description`, {
        method: "PATCH",
        headers: jsonHeaders,
        body: JSON.stringify({ description: "new", framework: "ignored-not-in-mask" }),
      });
      expect(response.status).toBe(200);
      const updated = (await response.json()) as ModelJson;
      expect(updated).toMatchObject({ id: model.id, description: "new", framework: "onnx" });
      expect(updated.etag).not.toBe(model.etag);
      expect(response.headers.get("etag")).toBe(updated.etag);
    });

    it("GET after a change answers the new content (answers are reused per etag, never across one)", async () => {
      const model = await create("cached-read", { description: "first" });
      const url = `${base}/api/v1/models/${model.id}`;
      for (let i = 0; i < 2; i++) expect(await (await fetch(url)).json()).toEqual(model);
      const patched = await fetch(`${url}?updateMask=description`, {
        method: "PATCH",
        headers: jsonHeaders,
        body: JSON.stringify({ description: "second" }),
      });
      const updated = (await patched.json()) as ModelJson;
      const read = await fetch(url);
      expect(await read.json()).toEqual(updated);
      expect(updated.description).toBe("second");
      expect(read.headers.get("etag")).toBe(updated.etag);
    });

    it("PATCH with If-Match updates when the etag matches", async () => {
      const model = await create("patch-if-match");
      const response = await fetch(`${base}/api/v1/models/${model.id}`, {
        method: "PATCH",
        headers: { ...jsonHeaders, "if-match": model.etag },
        body: JSON.stringify({ framework: "sklearn" }),
      });
      expect(response.status).toBe(200);
      const updated = (await response.json()) as ModelJson;
      expect(updated.framework).toBe("sklearn");
      expect(response.headers.get("etag")).toBe(updated.etag);
      expect(updated.etag).not.toBe(model.etag);
    });

    it("DELETE with If-Match deletes the model", async () => {
      const model = await create("delete-me");
      const response = await fetch(`${base}/api/v1/models/${model.id}`, {
        method: "DELETE",
        headers: { "if-match": model.etag },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
      await expectError(await fetch(`${base}/api/v1/models/${model.id}`), 404, "NOT_FOUND");
    });

    it("POST :addTags, :removeTags and :updateMetadata edit the model", async () => {
      const model = await create("edits", { tags: ["keep"], metadata: { gone: "soon" } });
      const post = (verb: string, body: unknown) =>
        fetch(`${base}/api/v1/models/${model.id}:${verb}`, {
          method: "POST",
          headers: jsonHeaders,
          body: JSON.stringify(body),
        });

      const added = await post("addTags", { tags: ["production", "keep", "team:nlp"] });
      expect(added.status).toBe(200);
      const afterAdd = (await added.json()) as ModelJson;
      expect(afterAdd.tags).toEqual(["keep", "production", "team:nlp"]);
      expect(added.headers.get("etag")).toBe(afterAdd.etag);

      const removed = await post("removeTags", { tags: ["production", "never-there"] });
      expect(removed.status).toBe(200);
      expect(((await removed.json()) as ModelJson).tags).toEqual(["keep", "team:nlp"]);

      const edited = await post("updateMetadata", { set: { owner: "ana" }, removeKeys: ["gone"] });
      expect(edited.status).toBe(200);
      const afterEdit = (await edited.json()) as ModelJson;
      expect(afterEdit.metadata).toEqual({ owner: "ana" });
      expect(edited.headers.get("etag")).toBe(afterEdit.etag);
    });
  });

  describe("errors", () => {
    it("400: validation errors carry field violations in a google.rpc.BadRequest", async () => {
      const response = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: jsonHeaders,
        body: JSON.stringify({ name: "-bad name", version: "", tags: ["ok", "not ok"] }),
      });
      const body = await expectError(response, 400, "INVALID_ARGUMENT");
      expect(body.error.details).toContainEqual(
        expect.objectContaining({ "@type": "type.googleapis.com/google.rpc.BadRequest" }),
      );
      expect(fieldViolations(body).map((v) => v.field)).toEqual([
        "model.name",
        "model.version",
        "model.tags[1]",
      ]);
      for (const violation of fieldViolations(body)) expect(violation.description).not.toBe("");
    });

    it("404: an unknown id", async () => {
      const body = await expectError(await fetch(`${base}/api/v1/models/no-such-model`), 404, "NOT_FOUND");
      expect(body.error.message).toContain("no-such-model");
    });

    it("404: an unknown route under /api/v1/", async () => {
      await expectError(await fetch(`${base}/api/v1/widgets`), 404, "NOT_FOUND");
      await expectError(await fetch(`${base}/api/v1/models:unknownVerb`), 404, "NOT_FOUND");
      await expectError(await fetch(`${base}/api/v1/models/some-id/extra`), 404, "NOT_FOUND");
    });

    it("405: a wrong method, with an Allow header", async () => {
      const onItem = await fetch(`${base}/api/v1/models/some-id`, { method: "PUT" });
      expect(onItem.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "PATCH"]);
      await expectError(onItem, 405);

      const onCollection = await fetch(`${base}/api/v1/models`, { method: "DELETE" });
      expect(onCollection.headers.get("allow")?.split(", ").sort()).toEqual(["GET", "POST"]);
      await expectError(onCollection, 405);
    });

    it("409 ALREADY_EXISTS: the same (name, version) twice", async () => {
      await create("twice");
      const response = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: jsonHeaders,
        body: JSON.stringify({ name: "twice", version: "1.0.0" }),
      });
      await expectError(response, 409, "ALREADY_EXISTS");
    });

    it("409 ABORTED: a wrong If-Match", async () => {
      const model = await create("stale-etag");
      const response = await fetch(`${base}/api/v1/models/${model.id}`, {
        method: "PATCH",
        headers: { ...jsonHeaders, "if-match": '"999"' },
        body: JSON.stringify({ description: "lost update" }),
      });
      await expectError(response, 409, "ABORTED");
      const current = (await (await fetch(`${base}/api/v1/models/${model.id}`)).json()) as ModelJson;
      expect(current).toEqual(model);
    });

    it("413: a body larger than the limit", async () => {
      const response = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: jsonHeaders,
        body: JSON.stringify({ name: "huge", version: "1", description: "x".repeat(1024 * 1024 + 10) }),
      });
      await expectError(response, 413);
    });

    it("415: a body that is not JSON", async () => {
      const response = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: JSON.stringify(seed),
      });
      await expectError(response, 415);
      const form = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        body: new URLSearchParams({ name: "form", version: "1" }),
      });
      await expectError(form, 415);
    });

    it("429: refused by the rateLimit hook", async () => {
      const response = await fetch(`${base}/api/v1/models`, { headers: { "x-test-throttle": "1" } });
      await expectError(response, 429, "RESOURCE_EXHAUSTED");
      expect(response.headers.get("retry-after")).toBeNull();
      const timed = await fetch(`${base}/api/v1/models`, { headers: { "x-test-throttle": "7" } });
      await expectError(timed, 429, "RESOURCE_EXHAUSTED");
      expect(timed.headers.get("retry-after")).toBe("7");
    });

    it("503: the registry is down", async () => {
      const body = await expectError(await fetch(`${downBase}/api/v1/models`), 503, "UNAVAILABLE");
      expect(body.error.message).not.toContain("127.0.0.1");
    });

    it("504: Grpc-Timeout shorter than a slow registry", async () => {
      const started = Date.now();
      const response = await fetch(`${slowBase}/api/v1/models/${slowModelId}`, {
        headers: { "grpc-timeout": "50m" },
      });
      const body = await expectError(response, 504, "DEADLINE_EXCEEDED");
      expect(body.error.message).not.toMatch(/127\.0\.0\.1|remote_addr/);
      expect(Date.now() - started).toBeLessThan(900);
    });

    it("500: an unexpected storage error, with a generic message", async () => {
      const response = await fetch(`${brokenBase}/api/v1/models/${brokenModelId}`);
      const text = await response.clone().text();
      const body = await expectError(response, 500, "INTERNAL");
      expect(body.error.message).toBe("Internal error.");
      expect(text).not.toContain("hunter2");
      expect(text).not.toContain("postgres");
    });
  });

  describe("headers", () => {
    it("Idempotency-Key makes a repeated POST return the same model", async () => {
      const post = () =>
        fetch(`${base}/api/v1/models`, {
          method: "POST",
          headers: { ...jsonHeaders, "idempotency-key": "6b1c7f1e-key" },
          body: JSON.stringify({ name: "idempotent", version: "1.0.0" }),
        });
      const first = await post();
      const second = await post();
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      const a = (await first.json()) as ModelJson;
      const b = (await second.json()) as ModelJson;
      expect(b.id).toBe(a.id);
      expect(b).toEqual(a);
    });

    it("Authorization and Grpc-Metadata-* reach the registry as metadata; Cookie does not", async () => {
      await fetch(`${base}/api/v1/models`, {
        headers: {
          authorization: "Bearer token-123",
          "grpc-metadata-foo": "bar",
          cookie: "session=abc",
          "x-request-id": "req-metadata-1",
        },
      });
      const seen = seenMetadata.get("req-metadata-1");
      expect(seen).toMatchObject({
        authorization: "Bearer token-123",
        foo: "bar",
        "x-request-id": "req-metadata-1",
      });
      expect(seen).not.toHaveProperty("cookie");
      expect(seen).not.toHaveProperty("grpc-metadata-foo");
    });

    it("Grpc-Metadata-Authorization and -Cookie cannot set what their own headers carry: 400, and no call", async () => {
      for (const name of ["grpc-metadata-authorization", "grpc-metadata-cookie"]) {
        const requestId = `req-reserved-${name.slice(14)}`;
        const response = await fetch(`${base}/api/v1/models`, {
          headers: { authorization: "Bearer real", [name]: "Bearer forged", "x-request-id": requestId },
        });
        const body = await expectError(response, 400, "INVALID_ARGUMENT");
        expect(body.error.message).toContain(name);
        expect(seenMetadata.has(requestId)).toBe(false);
      }
    });

    it("Cookie is forwarded with forwardCookies: true", async () => {
      await fetch(`${cookieBase}/api/v1/models`, {
        headers: { cookie: "session=abc", "x-request-id": "req-cookie-1" },
      });
      expect(seenMetadata.get("req-cookie-1")).toMatchObject({ cookie: "session=abc" });
    });

    it("X-Request-Id is echoed, and generated when absent or invalid", async () => {
      const echoed = await fetch(`${base}/api/v1/models`, { headers: { "x-request-id": "abc-123" } });
      expect(echoed.headers.get("x-request-id")).toBe("abc-123");

      const generated = await fetch(`${base}/api/v1/models`);
      expect(generated.headers.get("x-request-id")).toMatch(uuidPattern);

      const invalid = await fetch(`${base}/api/v1/models`, { headers: { "x-request-id": "a b<c>" } });
      expect(invalid.headers.get("x-request-id")).toMatch(uuidPattern);

      // Errors carry it too.
      const error = await fetch(`${base}/api/v1/nowhere`, { headers: { "x-request-id": "err-1" } });
      expect(error.headers.get("x-request-id")).toBe("err-1");
      await expectError(error, 404);
    });

    it("paths outside /api/v1/ fall through to the app", async () => {
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("app says ok");
      expect(response.headers.get("x-request-id")).toBeNull();
    });

    it("request targets that only look like /api/v1/ after URL parsing fall through to the app", async () => {
      // `//host/api/v1/models` is the path "//host/api/v1/models" to Express's router,
      // so the gateway must not serve it as /api/v1/models (nor fail on `//[`).
      for (const path of ["//evil.example/api/v1/models", "//[", "//evil.example:99999/api/v1/models"]) {
        const response = await rawRequest(base, path);
        expect(response.status, path).toBe(404);
        expect(response.headers.get("x-request-id"), path).toBeNull();
      }
    });

    it("answers HEAD like GET without a body, and takes If-Match: * and snake_case masks", async () => {
      const created = (await (
        await fetch(`${base}/api/v1/models`, {
          method: "POST",
          headers: jsonHeaders,
          body: JSON.stringify({ name: "http-semantics", version: "1" }),
        })
      ).json()) as ModelJson;
      const head = await fetch(`${base}/api/v1/models/${created.id}`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("etag")).toBe('"1"');
      expect(await head.text()).toBe("");

      const patched = await fetch(`${base}/api/v1/models/${created.id}?update_mask=artifact_uri`, {
        method: "PATCH",
        headers: { ...jsonHeaders, "if-match": "*" },
        body: JSON.stringify({ artifactUri: "s3://b/m" }),
      });
      expect(patched.status).toBe(200);
      expect(((await patched.json()) as ModelJson).artifactUri).toBe("s3://b/m");

      const conditionalCreate = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: { ...jsonHeaders, "if-match": '"1"' },
        body: JSON.stringify({ name: "http-semantics", version: "2" }),
      });
      await expectError(conditionalCreate, 400);
      expect((await fetch(`${base}/api/v1/models?pageSize=&filter=`)).status).toBe(200);
    });

    it("serves its OpenAPI 3.1 document", async () => {
      const response = await fetch(`${base}/api/v1/openapi.json`);
      expect(response.status).toBe(200);
      const document = (await response.json()) as {
        openapi: string;
        paths: Record<string, Record<string, unknown>>;
      };
      expect(document.openapi).toBe("3.1.0");
      expect(Object.keys(document.paths["/api/v1/models"] ?? {})).toEqual(
        expect.arrayContaining(["get", "post"]),
      );
    });

    it("works mounted under a sub-path of the app", async () => {
      const app = express();
      app.use("/registry", createGatewayMiddleware({ client: registryClient }));
      const server = app.listen(0, "127.0.0.1");
      await new Promise((r) => server.once("listening", r));
      try {
        const address = server.address();
        const port = typeof address === "object" && address ? address.port : 0;
        const response = await fetch(`http://127.0.0.1:${port}/registry/api/v1/models?pageSize=1`);
        expect(response.status).toBe(200);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it("takes a body that express.json() parsed before it, and bodiless GETs after one", async () => {
      const app = express();
      app.use(express.json());
      app.use(createGatewayMiddleware({ client: registryClient }));
      const server = app.listen(0, "127.0.0.1");
      await new Promise((r) => server.once("listening", r));
      try {
        const address = server.address();
        const parsedBase = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
        const created = await fetch(`${parsedBase}/api/v1/models`, {
          method: "POST",
          headers: jsonHeaders,
          body: JSON.stringify({ name: "pre-parsed", version: "1" }),
        });
        expect(created.status, await created.clone().text()).toBe(200);
        const model = (await created.json()) as ModelJson;
        expect(model.name).toBe("pre-parsed");
        const read = await fetch(`${parsedBase}/api/v1/models/${model.id}`);
        expect(await read.json()).toEqual(model);
        const wrong = await fetch(`${parsedBase}/api/v1/models/${model.id}`, {
          method: "PATCH",
          headers: jsonHeaders,
          body: JSON.stringify({ colour: "red" }),
        });
        await expectError(wrong, 400, "INVALID_ARGUMENT");
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it("error responses are JSON with the exact error shape, never HTML", async () => {
      const responses = await Promise.all([
        fetch(`${base}/api/v1/models/%E0%A4%A`),
        fetch(`${base}/api/v1/models`, { method: "POST", headers: jsonHeaders, body: "{" }),
        fetch(`${base}/api/v1/models`, { method: "OPTIONS" }),
        fetch(`${base}/api/v1/models`, { method: "PATCH" }),
        fetch(`${base}/api/v1/`),
      ]);
      for (const response of responses) {
        expect(response.status).toBeGreaterThanOrEqual(400);
        await expectError(response, response.status);
      }
    });
  });
});
