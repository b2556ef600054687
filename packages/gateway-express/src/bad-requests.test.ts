import type { RegistryClient } from "@modelreg/registry-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectError,
  expressVersions,
  fieldViolations,
  type ModelJson,
  Resources,
  rawRequest,
  startGateway,
  startRegistry,
} from "./test-support/harness";

/** One malformed request and what the gateway must answer. */
interface Case {
  readonly name: string;
  readonly method?: string;
  /** `{id}` is replaced by the target model's id. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  readonly body?: unknown;
  /** Send with `node:http` (a body on GET, raw header bytes). */
  readonly raw?: boolean;
  readonly status: number;
  /** The gRPC status name in the error body. */
  readonly grpcStatus?: string;
  /** A field that must be named in the BadRequest violations. */
  readonly field?: string;
  /** Must match the error message. */
  readonly message?: RegExp;
  /** Extra checks of a successful response. */
  readonly check?: (body: unknown) => void;
}

const json = { "content-type": "application/json" };
const valid = { name: "fresh-model", version: "1.0.0" };
const tags65 = Array.from({ length: 65 }, (_, i) => `tag-${i}`);
const bulkCount = 1000;

const cases: readonly Case[] = [
  // Bodies that are not a JSON object.
  {
    name: "broken JSON",
    method: "POST",
    path: "/api/v1/models",
    body: '{"name": "x",',
    status: 400,
    field: "body",
  },
  { name: "JSON array", method: "POST", path: "/api/v1/models", body: "[]", status: 400, field: "body" },
  {
    name: "JSON string",
    method: "POST",
    path: "/api/v1/models",
    body: '"test-model"',
    status: 400,
    field: "body",
  },
  { name: "JSON number", method: "POST", path: "/api/v1/models", body: "42", status: 400, field: "body" },
  { name: "JSON null", method: "POST", path: "/api/v1/models", body: "null", status: 400, field: "body" },
  { name: "no body on a body route", method: "POST", path: "/api/v1/models", status: 400, field: "model" },
  {
    name: "a JSON body sent as text/plain",
    method: "POST",
    path: "/api/v1/models",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify(valid),
    status: 415,
  },
  // Wrong field types.
  {
    name: '"version": 1',
    method: "POST",
    path: "/api/v1/models",
    body: { name: "n", version: 1 },
    status: 400,
  },
  { name: '"tags": "x"', method: "POST", path: "/api/v1/models", body: { ...valid, tags: "x" }, status: 400 },
  {
    name: '"metadata": []',
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, metadata: [] },
    status: 400,
  },
  {
    name: "a number as a metadata value",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, metadata: { k: 1 } },
    status: 400,
  },
  {
    name: "null in tags",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, tags: [null] },
    status: 400,
  },
  {
    name: "a create_time that is not a timestamp",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, createTime: "yesterday" },
    status: 400,
  },
  // Values the registry refuses.
  {
    name: "NUL byte in name",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, name: "bad\u0000name" },
    status: 400,
    field: "model.name",
  },
  {
    name: "NUL byte in description",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, description: "a\u0000b" },
    status: 400,
    field: "model.description",
  },
  {
    name: "a 1 MB description",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, description: "d".repeat(1_000_000) },
    status: 400,
    field: "model.description",
  },
  {
    name: "missing name",
    method: "POST",
    path: "/api/v1/models",
    body: { version: "1" },
    status: 400,
    field: "model.name",
  },
  // Unknown and dangerous keys.
  {
    name: "an unknown field",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, colour: "red" },
    status: 400,
    message: /colour/,
  },
  {
    name: "__proto__ at the top level",
    method: "POST",
    path: "/api/v1/models",
    body: '{"name":"fresh-model","version":"1.0.0","__proto__":{"polluted":true}}',
    status: 400,
    message: /__proto__/,
  },
  {
    name: "__proto__ inside metadata",
    method: "POST",
    path: "/api/v1/models",
    body: '{"name":"fresh-model","version":"1.0.0","metadata":{"__proto__":"x"}}',
    status: 400,
    message: /__proto__/,
  },
  {
    name: "constructor at the top level",
    method: "POST",
    path: "/api/v1/models",
    body: '{"name":"fresh-model","version":"1.0.0","constructor":{"prototype":{"polluted":true}}}',
    status: 400,
    message: /constructor/,
  },
  {
    name: "prototype at the top level",
    method: "POST",
    path: "/api/v1/models",
    body: '{"name":"fresh-model","version":"1.0.0","prototype":{"polluted":true}}',
    status: 400,
    message: /prototype/,
  },
  {
    name: "toString in a body: * route",
    method: "POST",
    path: "/api/v1/models/{id}:addTags",
    body: { tags: ["fresh"], toString: "x" },
    status: 400,
    message: /toString/,
  },
  {
    name: "hasOwnProperty in an UpdateModel body",
    method: "PATCH",
    path: "/api/v1/models/{id}",
    body: { description: "changed", hasOwnProperty: 1 },
    status: 400,
    message: /hasOwnProperty/,
  },
  // Page size, page token, filter, order_by.
  { name: "pageSize=-1", path: "/api/v1/models?pageSize=-1", status: 400, field: "page_size" },
  { name: "non-numeric pageSize", path: "/api/v1/models?pageSize=ten", status: 400, field: "pageSize" },
  { name: "fractional pageSize", path: "/api/v1/models?pageSize=1.5", status: 400, field: "pageSize" },
  {
    name: "pageSize beyond int32",
    path: "/api/v1/models?pageSize=99999999999",
    status: 400,
    field: "pageSize",
  },
  {
    name: "pageSize=100000 is clamped to 1000",
    path: "/api/v1/models?pageSize=100000",
    status: 200,
    check: (body) => {
      const page = body as { models: ModelJson[]; nextPageToken: string };
      expect(page.models).toHaveLength(1000);
      expect(page.nextPageToken).not.toBe("");
    },
  },
  {
    name: "duplicate non-repeated query parameter",
    path: "/api/v1/models?pageSize=1&pageSize=2",
    status: 400,
    field: "pageSize",
  },
  {
    name: "a page token that is not one",
    path: "/api/v1/models?pageToken=garbage!",
    status: 400,
    field: "page_token",
  },
  {
    name: "a page token of another shape",
    path: `/api/v1/models?pageToken=${Buffer.from('{"v":[1,2,3],"i":5}').toString("base64url")}`,
    status: 400,
    field: "page_token",
  },
  {
    name: "filter with a syntax error",
    path: `/api/v1/models?filter=${encodeURIComponent('name = "a" AND (')}`,
    status: 400,
    field: "filter",
    message: /position \d+/,
  },
  {
    name: "filter on an unknown field",
    path: `/api/v1/models?filter=${encodeURIComponent('colour = "red"')}`,
    status: 400,
    field: "filter",
  },
  {
    name: "order_by an unknown field",
    path: "/api/v1/models?orderBy=colour",
    status: 400,
    field: "order_by",
  },
  {
    name: "order_by with a bad direction",
    path: `/api/v1/models?order_by=${encodeURIComponent("name sideways")}`,
    status: 400,
    field: "order_by",
  },
  { name: "an unknown query parameter", path: "/api/v1/models?colour=red", status: 400, field: "colour" },
  { name: "a query parameter in the wrong case", path: "/api/v1/models?PageSize=1", status: 400 },
  // Headers.
  {
    name: "malformed Grpc-Timeout",
    path: "/api/v1/models",
    headers: { "grpc-timeout": "soon" },
    status: 400,
    field: "Grpc-Timeout",
  },
  {
    name: "Grpc-Timeout with too many digits",
    path: "/api/v1/models",
    headers: { "grpc-timeout": "123456789S" },
    status: 400,
    field: "Grpc-Timeout",
  },
  {
    name: "Idempotency-Key on a route without request_id",
    path: "/api/v1/models",
    headers: { "idempotency-key": "k1" },
    status: 400,
    field: "Idempotency-Key",
  },
  {
    name: "a -bin metadata header the gateway cannot forward",
    path: "/api/v1/models",
    headers: { "grpc-metadata-trace-bin": "not base64!" },
    status: 400,
    field: "grpc-metadata-trace-bin",
  },
  {
    name: "a metadata header name gRPC does not allow",
    path: "/api/v1/models",
    headers: { "grpc-metadata-foo!": "x" },
    status: 400,
    field: "grpc-metadata-foo!",
  },
  {
    name: "Authorization with non-ASCII bytes",
    path: "/api/v1/models",
    headers: { authorization: "Bearer caf\u00e9" },
    raw: true,
    status: 400,
    field: "authorization",
  },
  // Routes without a body.
  {
    name: "a body on GET",
    path: "/api/v1/models",
    headers: json,
    body: JSON.stringify({ pageSize: 1 }),
    raw: true,
    status: 400,
    field: "body",
  },
  {
    name: "a body on DELETE",
    method: "DELETE",
    path: "/api/v1/models/{id}",
    body: { etag: '"1"' },
    status: 400,
    field: "body",
  },
  { name: "batchGet without ids", path: "/api/v1/models:batchGet", status: 400, field: "ids" },
  {
    name: "batchGet with an invalid id",
    path: "/api/v1/models:batchGet?ids=a%20b",
    status: 400,
    field: "ids[0]",
  },
  {
    name: "lookup without version",
    path: "/api/v1/models:lookup?name=test-model",
    status: 400,
    field: "version",
  },
  // Path variables.
  { name: "path id with a space", path: "/api/v1/models/a%20b", status: 400, field: "id" },
  { name: "percent-encoded slash in the id", path: "/api/v1/models/a%2Fb", status: 400, field: "id" },
  {
    name: "percent-encoded slash in DELETE",
    method: "DELETE",
    path: "/api/v1/models/a%2Fb",
    status: 400,
    field: "id",
  },
  { name: "malformed percent-encoding in the id", path: "/api/v1/models/%zz", status: 404 },
  // UpdateModel.
  {
    name: "update mask with an unknown path",
    method: "PATCH",
    path: "/api/v1/models/{id}?updateMask=colour",
    body: { description: "changed" },
    status: 400,
    field: "update_mask",
  },
  {
    name: "update mask with an output-only path",
    method: "PATCH",
    path: "/api/v1/models/{id}?updateMask=createTime",
    body: { createTime: "2020-01-01T00:00:00Z" },
    status: 400,
    field: "update_mask",
  },
  {
    name: "update mask naming an immutable field with a new value",
    method: "PATCH",
    path: "/api/v1/models/{id}?updateMask=name",
    body: { name: "renamed" },
    status: 400,
    field: "model.name",
  },
  {
    name: "no mask and a changed immutable field",
    method: "PATCH",
    path: "/api/v1/models/{id}",
    body: { version: "9.9.9", description: "changed" },
    status: 400,
    field: "model.version",
  },
  {
    name: "wrong If-Match on PATCH",
    method: "PATCH",
    path: "/api/v1/models/{id}",
    headers: { "if-match": '"999"' },
    body: { description: "changed" },
    status: 409,
    grpcStatus: "ABORTED",
  },
  {
    name: "If-Match that is not an etag",
    method: "PATCH",
    path: "/api/v1/models/{id}",
    headers: { "if-match": "yesterday" },
    body: { description: "changed" },
    status: 400,
    field: "model.etag",
  },
  {
    name: "If-Match and a different body etag",
    method: "PATCH",
    path: "/api/v1/models/{id}",
    headers: { "if-match": '"1"' },
    body: { description: "changed", etag: '"2"' },
    status: 400,
    field: "model.etag",
  },
  {
    name: "a body id that differs from the path",
    method: "PATCH",
    path: "/api/v1/models/{id}",
    body: { id: "someone-else", description: "changed" },
    status: 400,
    field: "model.id",
  },
  {
    name: "the path variable as a query parameter",
    method: "PATCH",
    path: "/api/v1/models/{id}?model.id=other",
    body: { description: "changed" },
    status: 400,
    field: "model.id",
  },
  { name: "PATCH without a body", method: "PATCH", path: "/api/v1/models/{id}", status: 400, field: "model" },
  // DeleteModel.
  {
    name: "wrong If-Match on DELETE",
    method: "DELETE",
    path: "/api/v1/models/{id}",
    headers: { "if-match": '"999"' },
    status: 409,
    grpcStatus: "ABORTED",
  },
  // Tags and metadata.
  {
    name: "wrong If-Match on :addTags",
    method: "POST",
    path: "/api/v1/models/{id}:addTags",
    headers: { "if-match": '"999"' },
    body: { tags: ["fresh"] },
    status: 409,
    grpcStatus: "ABORTED",
  },
  {
    name: "empty tags list",
    method: "POST",
    path: "/api/v1/models/{id}:addTags",
    body: { tags: [] },
    status: 400,
    field: "tags",
  },
  {
    name: "65 tags",
    method: "POST",
    path: "/api/v1/models/{id}:addTags",
    body: { tags: tags65 },
    status: 400,
    field: "tags",
  },
  {
    name: "65 tags on create",
    method: "POST",
    path: "/api/v1/models",
    body: { ...valid, tags: tags65 },
    status: 400,
    field: "model.tags",
  },
  {
    name: "an invalid tag",
    method: "POST",
    path: "/api/v1/models/{id}:removeTags",
    body: { tags: ["has space"] },
    status: 400,
    field: "tags[0]",
  },
  {
    name: "query parameters on a body: * route",
    method: "POST",
    path: "/api/v1/models/{id}:addTags?tags=fresh",
    body: { tags: ["fresh"] },
    status: 400,
    field: "tags",
  },
  {
    name: "a body id that differs from the path on :addTags",
    method: "POST",
    path: "/api/v1/models/{id}:addTags",
    body: { id: "someone-else", tags: ["fresh"] },
    status: 400,
    field: "id",
  },
  {
    name: "metadata key in both set and removeKeys",
    method: "POST",
    path: "/api/v1/models/{id}:updateMetadata",
    body: { set: { owner: "ana" }, removeKeys: ["owner"] },
    status: 400,
    field: "remove_keys[0]",
  },
  {
    name: "updateMetadata that names no key",
    method: "POST",
    path: "/api/v1/models/{id}:updateMetadata",
    body: {},
    status: 400,
    field: "set",
  },
  // The watch (server streaming): refused before the stream starts, as JSON.
  {
    name: "watch with a non-numeric afterRevision",
    path: "/api/v1/models:watch?afterRevision=abc",
    status: 400,
    field: "afterRevision",
  },
  ...["-5", "1.5", "1e3", "0x10", " 1", "9223372036854775808", "18446744073709551616"].map((value) => ({
    name: `watch with afterRevision=${value}`,
    path: `/api/v1/models:watch?afterRevision=${encodeURIComponent(value)}`,
    status: 400,
    field: "afterRevision",
    message: /afterRevision: must be a revision, a non-negative integer/,
  })),
  {
    name: "watch with after_revision=-1 (the proto name)",
    path: "/api/v1/models:watch?after_revision=-1",
    status: 400,
    field: "after_revision",
  },
  {
    name: "watch with a negative Last-Event-ID",
    path: "/api/v1/models:watch",
    headers: { "last-event-id": "-5" },
    status: 400,
    field: "Last-Event-ID",
  },
  {
    name: "watch with a non-numeric Last-Event-ID",
    path: "/api/v1/models:watch",
    headers: { "last-event-id": "evt-1" },
    status: 400,
    field: "Last-Event-ID",
  },
  {
    name: "watch with a filter syntax error",
    path: `/api/v1/models:watch?filter=${encodeURIComponent('name = "a" AND (')}`,
    headers: { accept: "text/event-stream" },
    status: 400,
    field: "filter",
  },
  {
    name: "watch with an unknown query parameter",
    path: "/api/v1/models:watch?pageSize=1",
    status: 400,
    field: "pageSize",
  },
  {
    name: "watch with a body",
    path: "/api/v1/models:watch",
    raw: true,
    body: "{}",
    status: 400,
    field: "body",
  },
  // The import (client streaming): NDJSON only, and a bad line is refused before anything is written.
  {
    name: "import sent as JSON",
    method: "POST",
    path: "/api/v1/models:import",
    body: { model: valid },
    status: 415,
    message: /application\/x-ndjson/,
  },
  {
    name: "import sent as text",
    method: "POST",
    path: "/api/v1/models:import",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify({ model: valid }),
    status: 415,
  },
  {
    name: "import whose first line is not JSON",
    method: "POST",
    path: "/api/v1/models:import",
    headers: { "content-type": "application/x-ndjson" },
    body: `{"model": {"name": "x"\n${JSON.stringify({ model: valid })}\n`,
    status: 400,
    field: "line 1",
    message: /^Line 1 /,
  },
  {
    name: "import line with an unknown field",
    method: "POST",
    path: "/api/v1/models:import",
    headers: { "content-type": "application/x-ndjson" },
    body: `${JSON.stringify({ model: { ...valid, nmae: "x" } })}\n${JSON.stringify({ model: valid })}\n`,
    status: 400,
    field: "line 1: model.nmae",
  },
  {
    name: "import line that is an array",
    method: "POST",
    path: "/api/v1/models:import",
    headers: { "content-type": "application/x-ndjson" },
    body: "\n[]\n",
    status: 400,
    field: "line 2",
  },
  {
    name: "import with a query parameter",
    method: "POST",
    path: "/api/v1/models:import?requestId=a",
    headers: { "content-type": "application/x-ndjson" },
    body: `${JSON.stringify({ model: valid })}\n`,
    status: 400,
    field: "requestId",
  },
  {
    name: "import with an Idempotency-Key",
    method: "POST",
    path: "/api/v1/models:import",
    headers: { "content-type": "application/x-ndjson", "idempotency-key": "k-1" },
    body: `${JSON.stringify({ model: valid })}\n`,
    status: 400,
    field: "Idempotency-Key",
  },
];

describe.each(expressVersions)("malformed requests on $name", ({ express }) => {
  const resources = new Resources();
  let base: string;
  let client: RegistryClient;
  let target: { id: string; etag: string };
  let before: string[];

  /** Every model in the registry, as "id etag", sorted. */
  async function snapshot(): Promise<string[]> {
    const all: string[] = [];
    for await (const model of client.listAllModels({ pageSize: 1000 })) all.push(`${model.id} ${model.etag}`);
    return all.sort();
  }

  beforeAll(async () => {
    const registry = await startRegistry(resources);
    client = registry.client;
    base = await startGateway(resources, express, { client });
    target = await client.createModel({
      model: {
        name: "test-model",
        version: "1.0.0",
        framework: "pytorch",
        tags: ["keep"],
        metadata: { a: "b" },
      },
    });
    // More models than the largest page, to see page_size clamped.
    for (let start = 0; start < bulkCount; start += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          client.createModel({ model: { name: `bulk-${start + i}`, version: "1" } }),
        ),
      );
    }
    before = await snapshot();
    expect(before).toHaveLength(bulkCount + 1);
  });
  afterAll(() => resources.closeAll());

  it("has at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("$name -> $status", async (c) => {
    const path = c.path.replaceAll("{id}", target.id);
    const body = c.body === undefined || typeof c.body === "string" ? c.body : JSON.stringify(c.body);
    const headers = { ...(body !== undefined && c.body !== undefined ? json : {}), ...c.headers };
    const init = { method: c.method ?? "GET", headers, ...(body === undefined ? {} : { body }) };
    const response = c.raw ? await rawRequest(base, path, init) : await fetch(`${base}${path}`, init);

    if (c.status < 400) {
      expect(response.status, await response.clone().text()).toBe(c.status);
      c.check?.(await response.json());
      return;
    }
    const error = await expectError(response, c.status, c.grpcStatus);
    if (c.status === 400) expect(error.error.status).toBe("INVALID_ARGUMENT");
    if (c.field !== undefined) {
      expect(
        fieldViolations(error).map((v) => v.field),
        JSON.stringify(error),
      ).toContain(c.field);
    }
    if (c.message !== undefined) expect(error.error.message).toMatch(c.message);
  });

  it("left the registry unchanged", async () => {
    expect(await snapshot()).toEqual(before);
    const stored = await client.getModel({ id: target.id });
    expect(stored.etag).toBe(target.etag);
    expect(stored.tags).toEqual(["keep"]);
    expect(stored.metadata).toEqual({ a: "b" });
  });
});
