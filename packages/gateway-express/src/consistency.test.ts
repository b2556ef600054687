/**
 * The consistency token over HTTP: every successful write answers with
 * `X-Modelreg-Revision` (the registry's `x-modelreg-revision` header), and
 * every route takes it back, reads passing it to the client as `minRevision`.
 * A real registry and client; an interceptor on the client records what
 * each call was given.
 */
import { createRegistryClient, type RegistryRpcOptions } from "@modelreg/registry-client";
import type { RpcInterceptor } from "@protobuf-ts/runtime-rpc";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../test-support/registry";
import {
  expectError,
  fieldViolations,
  type ModelJson,
  Resources,
  startGateway,
} from "./test-support/harness";

/** Each unary call the gateway made: the RPC and the `minRevision` it was given. */
const calls: { rpc: string; minRevision: bigint | undefined }[] = [];

const recorder: RpcInterceptor = {
  interceptUnary(next, method, input, options) {
    calls.push({ rpc: method.name, minRevision: (options as RegistryRpcOptions).minRevision });
    return next(method, input, options);
  },
};

const resources = new Resources();
let base: string;

beforeAll(async () => {
  const { server, port } = await startTestRegistry();
  resources.add(() => server.shutdown({ graceMs: 50 }));
  const client = createRegistryClient({
    target: `127.0.0.1:${port}`,
    insecure: true,
    interceptors: [recorder],
  });
  resources.add(() => client.close());
  base = await startGateway(resources, express, { client });
});

afterAll(() => resources.closeAll());

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The revision a write answered with; fails when it sent none. */
function revisionOf(response: Response): bigint {
  const value = response.headers.get("x-modelreg-revision");
  expect(value, `${response.url}: X-Modelreg-Revision`).toMatch(/^\d{1,19}$/);
  return BigInt(value ?? "");
}

let counter = 0;
async function createModel(): Promise<{ model: ModelJson; revision: bigint }> {
  const response = await call("POST", "/api/v1/models", { name: "token-model", version: `1.0.${counter++}` });
  expect(response.status).toBe(200);
  return { revision: revisionOf(response), model: (await response.json()) as ModelJson };
}

describe("X-Modelreg-Revision on writes", () => {
  it("each write answers with the revision it committed at, growing write by write", async () => {
    const { model, revision: created } = await createModel();
    const patched = await call("PATCH", `/api/v1/models/${model.id}?updateMask=description`, {
      description: "tuned",
    });
    expect(patched.status).toBe(200);
    const updated = revisionOf(patched);
    expect(updated).toBeGreaterThan(created);
    const tagged = await call("POST", `/api/v1/models/${model.id}:addTags`, { tags: ["production"] });
    expect(tagged.status).toBe(200);
    const tagRevision = revisionOf(tagged);
    expect(tagRevision).toBeGreaterThan(updated);
    const deleted = await call("DELETE", `/api/v1/models/${model.id}`);
    expect(deleted.status).toBe(200);
    expect(revisionOf(deleted)).toBeGreaterThan(tagRevision);
  });

  it("alias writes and the NDJSON import answer with it too", async () => {
    const { model, revision: created } = await createModel();
    const set = await call("PUT", "/api/v1/aliases/champion", { name: model.name, version: model.version });
    expect(set.status).toBe(200);
    const aliasRevision = revisionOf(set);
    expect(aliasRevision).toBeGreaterThan(created);
    const removed = await call("DELETE", `/api/v1/aliases/champion?name=${model.name}`);
    expect(removed.status).toBe(200);
    expect(revisionOf(removed)).toBeGreaterThan(aliasRevision);

    const imported = await fetch(`${base}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: `${JSON.stringify({ model: { name: "imported-model", version: "1.0.0" } })}\n`,
    });
    expect(imported.status).toBe(200);
    expect(revisionOf(imported)).toBeGreaterThan(aliasRevision);
  });

  it("reads and failed writes answer without it", async () => {
    const { model } = await createModel();
    const read = await call("GET", `/api/v1/models/${model.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get("x-modelreg-revision")).toBeNull();
    const conflict = await call("POST", "/api/v1/models", { name: model.name, version: model.version });
    await expectError(conflict, 409, "ALREADY_EXISTS");
    expect(conflict.headers.get("x-modelreg-revision")).toBeNull();
  });
});

describe("X-Modelreg-Revision on reads", () => {
  it("GET by id, lookup and batchGet pass it to the client as minRevision", async () => {
    const { model, revision } = await createModel();
    const token = { "x-modelreg-revision": String(revision) };
    calls.length = 0;
    const reads = [
      `/api/v1/models/${model.id}`,
      `/api/v1/models:lookup?name=${model.name}&version=${model.version}`,
      `/api/v1/models:batchGet?ids=${model.id}`,
    ];
    for (const path of reads) expect((await call("GET", path, undefined, token)).status).toBe(200);
    expect(calls).toEqual([
      { rpc: "GetModel", minRevision: revision },
      { rpc: "LookupModel", minRevision: revision },
      { rpc: "BatchGetModels", minRevision: revision },
    ]);
  });

  it("a read without it passes none; any route takes it (a list, a write)", async () => {
    const { model, revision } = await createModel();
    calls.length = 0;
    expect((await call("GET", `/api/v1/models/${model.id}`)).status).toBe(200);
    const token = { "x-modelreg-revision": ` ${revision} ` };
    expect((await call("GET", "/api/v1/models?pageSize=1", undefined, token)).status).toBe(200);
    const tagged = await call("POST", `/api/v1/models/${model.id}:addTags`, { tags: ["a"] }, token);
    expect(tagged.status).toBe(200);
    expect(calls.map((c) => [c.rpc, c.minRevision])).toEqual([
      ["GetModel", undefined],
      ["ListModels", revision],
      ["AddModelTags", revision],
    ]);
  });

  it.each([
    ["not a number", "abc"],
    ["negative", "-1"],
    ["a fraction", "1.5"],
    ["past 2^63-1", "9223372036854775808"],
    ["empty", ""],
    ["two values", "1, 2"],
  ])("a token that is %s is refused with 400 naming the header, before any call", async (_, value) => {
    const { model } = await createModel();
    calls.length = 0;
    for (const path of [`/api/v1/models/${model.id}`, "/api/v1/models:watch"]) {
      const response = await call("GET", path, undefined, { "x-modelreg-revision": value });
      const body = await expectError(response, 400, "INVALID_ARGUMENT");
      expect(body.error.message).toContain("X-Modelreg-Revision");
      expect(fieldViolations(body).map((v) => v.field)).toEqual(["X-Modelreg-Revision"]);
    }
    expect(calls).toEqual([]);
  });

  it("the largest revision is a valid token (the read goes to the registry)", async () => {
    const { model } = await createModel();
    const response = await call("GET", `/api/v1/models/${model.id}`, undefined, {
      "x-modelreg-revision": "9223372036854775807",
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as ModelJson).id).toBe(model.id);
  });
});
