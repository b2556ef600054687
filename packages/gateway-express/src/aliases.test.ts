/**
 * The alias, lookup-by-alias, history and forced-delete routes end to end:
 * a real Express app -> the gateway -> the registry client -> gRPC -> a real
 * registry (memory storage) with a promotion policy. Routes come from the
 * contract's google.api.http annotations; nothing here is hand-routed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectError,
  expressVersions,
  type ModelJson,
  Resources,
  startGateway,
  startRegistry,
} from "./test-support/harness";

/** The alias JSON the gateway returns. */
interface AliasJson {
  name: string;
  alias: string;
  version: string;
  modelId: string;
  etag: string;
  updateTime: string;
  updatedBy: string;
}

/** A history entry as JSON (unset message fields left out). */
interface HistoryJson {
  revision: string;
  commitTime: string;
  actor: string;
  requestId: string;
  type: string;
  before?: ModelJson;
  after?: ModelJson;
  aliasBefore?: AliasJson;
  aliasAfter?: AliasJson;
  refusal?: { code: number; message: string; details: Record<string, unknown>[] };
}

const errorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";
const preconditionType = "type.googleapis.com/google.rpc.PreconditionFailure";

const policy = {
  protectedAliases: { production: { metadata: { "eval.passed": "true" }, artifactDigest: true } },
};

describe.each(expressVersions)("alias and history routes on $name", ({ express }) => {
  const resources = new Resources();
  let base: string;

  beforeAll(async () => {
    const registry = await startRegistry(resources, { aliasPolicy: policy });
    base = await startGateway(resources, express, { client: registry.client });
  });
  afterAll(() => resources.closeAll());

  const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const ok = async <T>(response: Response): Promise<T> => {
    const text = await response.text();
    expect(response.status, text).toBe(200);
    return JSON.parse(text) as T;
  };
  const create = (name: string, version: string) =>
    send("POST", "/api/v1/models", { name, version }).then((r) => ok<ModelJson>(r));
  const put = (alias: string, body: object, headers?: Record<string, string>) =>
    send("PUT", `/api/v1/aliases/${alias}`, body, headers);

  it("PUT sets and moves an alias; a stale expectedVersion is 409 ABORTED with reason ALIAS_CHANGED", async () => {
    const v1 = await create("bert", "1.0.0");
    const v2 = await create("bert", "1.1.0");
    const first = await put("champion", { name: "bert", version: "1.0.0", expectedVersion: "" });
    const set = await ok<AliasJson>(first);
    expect(set).toMatchObject({ name: "bert", alias: "champion", version: "1.0.0", modelId: v1.id });
    expect(set.updatedBy).toBe("anonymous");
    expect(first.headers.get("etag")).toBe(set.etag);

    const moved = await ok<AliasJson>(
      await put("champion", { name: "bert", version: "1.1.0", expectedVersion: "1.0.0" }),
    );
    expect(moved).toMatchObject({ version: "1.1.0", modelId: v2.id });
    expect(moved.etag).not.toBe(set.etag);

    const lost = await expectError(
      await put("champion", { name: "bert", version: "1.1.0", expectedVersion: "1.0.0" }),
      409,
      "ABORTED",
    );
    expect(lost.error.message).toContain("1.1.0");
    expect(lost.error.details).toContainEqual(
      expect.objectContaining({ "@type": errorInfoType, reason: "ALIAS_CHANGED" }),
    );
    // "" is "must not exist yet": the JSON body keeps the empty string.
    await expectError(
      await put("champion", { name: "bert", version: "1.0.0", expectedVersion: "" }),
      409,
      "ABORTED",
    );
    // body "*": every field in the body, none in the query.
    await expectError(
      await send("PUT", "/api/v1/aliases/champion?name=bert", { version: "1.0.0" }),
      400,
      "INVALID_ARGUMENT",
    );
  });

  it("Idempotency-Key is the move's request_id: a retry returns what the first call set", async () => {
    await create("retry", "1.0.0");
    await create("retry", "2.0.0");
    const body = { name: "retry", version: "2.0.0", expectedVersion: "" };
    const first = await ok<AliasJson>(await put("champion", body, { "idempotency-key": "promote-42" }));
    // Without the key the same compare-and-set fails: the alias exists now.
    await expectError(await put("champion", body), 409, "ABORTED");
    const again = await ok<AliasJson>(await put("champion", body, { "idempotency-key": "promote-42" }));
    expect(again).toEqual(first);
    const history = await ok<{ entries: HistoryJson[] }>(
      await send("GET", "/api/v1/history?name=retry&alias=champion"),
    );
    expect(history.entries.map((e) => [e.type, e.requestId])).toEqual([
      ["MODEL_EVENT_TYPE_ALIAS_SET", "promote-42"],
    ]);
  });

  it("GET one alias and the list of a name's aliases, paged; DELETE with expectedVersion", async () => {
    await create("lists", "1");
    for (const alias of ["blue", "green", "red"]) await ok(await put(alias, { name: "lists", version: "1" }));
    const got = await send("GET", "/api/v1/aliases/green?name=lists");
    const green = await ok<AliasJson>(got);
    expect(green).toMatchObject({ name: "lists", alias: "green", version: "1" });
    expect(got.headers.get("etag")).toBe(green.etag);
    await expectError(await send("GET", "/api/v1/aliases/purple?name=lists"), 404, "NOT_FOUND");

    const page = await ok<{ aliases: AliasJson[]; nextPageToken: string }>(
      await send("GET", "/api/v1/aliases?name=lists&pageSize=2"),
    );
    expect(page.aliases.map((a) => a.alias)).toEqual(["blue", "green"]);
    const rest = await ok<{ aliases: AliasJson[]; nextPageToken: string }>(
      await send(
        "GET",
        `/api/v1/aliases?name=lists&pageSize=2&pageToken=${encodeURIComponent(page.nextPageToken)}`,
      ),
    );
    expect([rest.aliases.map((a) => a.alias), rest.nextPageToken]).toEqual([["red"], ""]);

    await expectError(
      await send("DELETE", "/api/v1/aliases/red?name=lists&expectedVersion=2"),
      409,
      "ABORTED",
    );
    expect(await ok(await send("DELETE", "/api/v1/aliases/red?name=lists&expectedVersion=1"))).toEqual({});
    await expectError(await send("GET", "/api/v1/aliases/red?name=lists"), 404, "NOT_FOUND");
  });

  it("GET models:lookup by alias, now and at a readTime (time travel)", async () => {
    await create("t5", "1.0.0");
    const v2 = await create("t5", "2.0.0");
    const first = await ok<AliasJson>(await put("champion", { name: "t5", version: "1.0.0" }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await ok<AliasJson>(await put("champion", { name: "t5", version: "2.0.0" }));

    const now = await send("GET", "/api/v1/models:lookup?name=t5&alias=champion");
    expect(await ok<ModelJson>(now)).toMatchObject({ id: v2.id, version: "2.0.0" });
    expect(now.headers.get("etag")).toBe(v2.etag);
    const between = new Date(
      (Date.parse(first.updateTime) + Date.parse(second.updateTime)) / 2,
    ).toISOString();
    const then = await ok<ModelJson>(
      await send(
        "GET",
        `/api/v1/models:lookup?name=t5&alias=champion&readTime=${encodeURIComponent(between)}`,
      ),
    );
    expect(then.version).toBe("1.0.0");
    const before = new Date(Date.parse(first.updateTime) - 1000).toISOString();
    await expectError(
      await send(
        "GET",
        `/api/v1/models:lookup?name=t5&alias=champion&readTime=${encodeURIComponent(before)}`,
      ),
      404,
      "NOT_FOUND",
    );
    await expectError(
      await send("GET", "/api/v1/models:lookup?name=t5&alias=champion&readTime=yesterday"),
      400,
      "INVALID_ARGUMENT",
    );
    expect(
      (await ok<ModelJson>(await send("GET", "/api/v1/models:lookup?name=t5&alias=latest"))).version,
    ).toBe("2.0.0");
  });

  it("GET history: newest first, with actor, before/after and a filter", async () => {
    const model = await create("audit", "1.0.0");
    await ok(await send("POST", `/api/v1/models/${model.id}:addTags`, { tags: ["nlp"] }));
    await ok(await put("champion", { name: "audit", version: "1.0.0" }));
    const all = await ok<{ entries: HistoryJson[]; nextPageToken: string }>(
      await send("GET", "/api/v1/history?name=audit"),
    );
    expect(all.entries.map((e) => e.type)).toEqual([
      "MODEL_EVENT_TYPE_ALIAS_SET",
      "MODEL_EVENT_TYPE_UPDATED",
      "MODEL_EVENT_TYPE_CREATED",
    ]);
    expect(all.nextPageToken).toBe("");
    const [aliasSet, updated, created] = all.entries;
    expect(aliasSet).toMatchObject({
      actor: "anonymous",
      aliasAfter: { alias: "champion", version: "1.0.0" },
    });
    expect(aliasSet?.aliasBefore).toBeUndefined();
    expect([updated?.before?.tags, updated?.after?.tags]).toEqual([[], ["nlp"]]);
    expect(created?.before).toBeUndefined();
    expect(BigInt(aliasSet?.revision ?? "0")).toBeGreaterThan(BigInt(updated?.revision ?? "0"));

    const filter = encodeURIComponent("type = ALIAS_SET");
    const sets = await ok<{ entries: HistoryJson[] }>(
      await send("GET", `/api/v1/history?name=audit&filter=${filter}`),
    );
    expect(sets.entries.map((e) => e.revision)).toEqual([aliasSet?.revision]);
    const ofModel = await ok<{ entries: HistoryJson[]; nextPageToken: string }>(
      await send("GET", `/api/v1/history?modelId=${model.id}&pageSize=1`),
    );
    expect(ofModel.entries).toHaveLength(1);
    expect(ofModel.nextPageToken).not.toBe("");
    const bad = await expectError(
      await send("GET", "/api/v1/history?filter=nonsense%20%3D"),
      400,
      "INVALID_ARGUMENT",
    );
    expect(bad.error.details.length).toBeGreaterThan(0);
  });

  it("DELETE models/{id} of an aliased model is 400 FAILED_PRECONDITION naming the alias, unless force=true", async () => {
    const model = await create("doomed", "1.0.0");
    await ok(await put("champion", { name: "doomed", version: "1.0.0" }));
    const guarded = await expectError(
      await send("DELETE", `/api/v1/models/${model.id}`),
      400,
      "FAILED_PRECONDITION",
    );
    expect(guarded.error.message).toContain("champion");
    expect(await ok(await send("DELETE", `/api/v1/models/${model.id}?force=true`))).toEqual({});
    await expectError(await send("GET", "/api/v1/aliases/champion?name=doomed"), 404, "NOT_FOUND");
    const history = await ok<{ entries: HistoryJson[] }>(
      await send("GET", "/api/v1/history?name=doomed&pageSize=2"),
    );
    expect(history.entries.map((e) => e.type)).toEqual([
      "MODEL_EVENT_TYPE_DELETED",
      "MODEL_EVENT_TYPE_ALIAS_DELETED",
    ]);
  });

  it("a refused promotion's error JSON carries the PreconditionFailure, one violation per missing item", async () => {
    const model = await create("gated", "1.0.0");
    const refused = await expectError(
      await put("production", { name: "gated", version: "1.0.0" }),
      400,
      "FAILED_PRECONDITION",
    );
    const failure = refused.error.details.find((d) => d["@type"] === preconditionType);
    const violations = failure?.violations as { type: string; subject: string; description: string }[];
    expect(violations.map((v) => v.type).sort()).toEqual(["ARTIFACT_DIGEST", "METADATA"]);
    expect(violations.find((v) => v.type === "METADATA")?.subject).toContain("eval.passed");
    for (const v of violations) expect(v.description).not.toBe("");

    const recorded = await ok<{ entries: HistoryJson[] }>(
      await send("GET", `/api/v1/history?name=gated&filter=${encodeURIComponent("refused = true")}`),
    );
    expect(recorded.entries).toHaveLength(1);
    expect(recorded.entries[0]?.refusal?.details).toContainEqual(
      expect.objectContaining({ "@type": preconditionType }),
    );

    await ok(
      await send("POST", `/api/v1/models/${model.id}:updateMetadata`, { set: { "eval.passed": "true" } }),
    );
    const digest = `sha256:${"ab".repeat(32)}`;
    await ok(
      await send("PATCH", `/api/v1/models/${model.id}?updateMask=artifactDigest`, { artifactDigest: digest }),
    );
    const promoted = await ok<AliasJson>(await put("production", { name: "gated", version: "1.0.0" }));
    expect(promoted.modelId).toBe(model.id);
  });
});
