// The x-modelreg-revision response header over a real socket, memory and
// SQLite storage: every write method answers with it, its value is the
// revision of the event a watch delivers for that write, replays and no-op
// writes answer with the latest revision, and errors carry no such header.
// Checked with grpc-js (the headers a client receives) and with `buf curl -v`
// (another gRPC implementation reading the same response).
import * as grpc from "@grpc/grpc-js";
import {
  type ImportModelsResponse,
  type Model,
  ModelEventType,
  ModelService,
  revisionHeader,
} from "@modelreg/proto";
import { afterAll, describe, expect, it } from "vitest";
import { runBufCurl } from "../../../test-support/buf-curl";
import { storageFactories, useRegistry } from "./test-support/alias-registry";

const { adapters, cleanup } = storageFactories();
afterAll(cleanup);

type MethodName = (typeof ModelService.methods)[number]["name"];

/** What a call answered: its message, or its error, and the response headers that came before. */
interface Answer<T> {
  readonly response?: T;
  readonly error?: grpc.ServiceError;
  readonly headers: grpc.Metadata | undefined;
}

/** The revision header of an answer, or `undefined` when it has none. */
const revisionOf = (answer: Answer<unknown>) => answer.headers?.get(revisionHeader)[0] as string | undefined;

/** Calls a unary method on the test client's grpc-js client and keeps the response headers. */
function unaryWithHeaders<T>(raw: grpc.Client, name: MethodName, request: object): Promise<Answer<T>> {
  const method = ModelService.methods.find((m) => m.name === name);
  if (!method) throw new Error(`no method ${name}`);
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    const call = raw.makeUnaryRequest<object, T>(
      `/${ModelService.typeName}/${name}`,
      (value) => Buffer.from(method.I.toBinary(method.I.create(value as never))),
      (bytes) => method.O.fromBinary(bytes) as T,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (error, response) => resolve(error ? { error, headers } : { response, headers }),
    );
    call.on("metadata", (metadata) => {
      headers = metadata;
    });
  });
}

/** Runs ImportModels with these models and keeps the response headers. */
function importWithHeaders(
  raw: grpc.Client,
  items: readonly { model: Partial<Model>; requestId?: string }[],
): Promise<Answer<ImportModelsResponse>> {
  const method = ModelService.methods.find((m) => m.name === "ImportModels");
  if (!method) throw new Error("no ImportModels");
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    const call = raw.makeClientStreamRequest<object, ImportModelsResponse>(
      `/${ModelService.typeName}/ImportModels`,
      (value) => Buffer.from(method.I.toBinary(method.I.create(value as never))),
      (bytes) => method.O.fromBinary(bytes) as ImportModelsResponse,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (error, response) => resolve(error ? { error, headers } : { response, headers }),
    );
    call.on("metadata", (metadata) => {
      headers = metadata;
    });
    for (const item of items) call.write(item);
    call.end();
  });
}

describe.each(adapters)("x-modelreg-revision, %s storage", (_name, createStorage) => {
  const suite = useRegistry(createStorage);

  /** The revision of the watch event of `type` for `modelId`, once it arrived. */
  async function eventRevision(
    watch: ReturnType<typeof suite.registry.client.watch>,
    type: ModelEventType,
    modelId: string,
  ): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const event = watch.received.find((m) => m.event?.type === type && m.event.modelId === modelId);
      if (event) return String(event.revision);
      if (Date.now() > deadline) throw new Error(`no ${ModelEventType[type]} event for ${modelId}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("answers every write with the revision of the event the watch delivers for it", async () => {
    const { client } = suite.registry;
    const raw = client.raw;
    const watch = client.watch({});
    try {
      const created = await unaryWithHeaders<{ model: Model }>(raw, "CreateModel", {
        model: { name: "hdr", version: "1", tags: ["a"] },
        requestId: "hdr-create-1",
      });
      const id = created.response?.model.id ?? "";
      expect(id).not.toBe("");
      expect(revisionOf(created)).toBe(await eventRevision(watch, ModelEventType.CREATED, id));

      const writes: [MethodName, object][] = [
        ["UpdateModel", { model: { id, description: "d" }, updateMask: { paths: ["description"] } }],
        ["AddModelTags", { id, tags: ["b"] }],
        ["RemoveModelTags", { id, tags: ["a"] }],
        ["UpdateModelMetadata", { id, set: { k: "v" } }],
      ];
      for (const [name, request] of writes) {
        const answer = await unaryWithHeaders<{ model: Model }>(raw, name, request);
        expect(answer.error, name).toBeUndefined();
        const revision = revisionOf(answer);
        expect(revision, name).toMatch(/^\d+$/);
        await expect
          .poll(() => watch.received.some((m) => String(m.revision) === revision), { timeout: 30_000 })
          .toBe(true);
        const event = watch.received.find((m) => String(m.revision) === revision)?.event;
        expect(event?.type, name).toBe(ModelEventType.UPDATED);
        expect(event?.model?.etag, name).toBe(answer.response?.model.etag);
      }

      const set = await unaryWithHeaders(raw, "SetModelAlias", { name: "hdr", alias: "live", version: "1" });
      expect(revisionOf(set)).toBe(await eventRevision(watch, ModelEventType.ALIAS_SET, id));
      const unset = await unaryWithHeaders(raw, "DeleteModelAlias", { name: "hdr", alias: "live" });
      expect(revisionOf(unset)).toBe(await eventRevision(watch, ModelEventType.ALIAS_DELETED, id));
      const deleted = await unaryWithHeaders(raw, "DeleteModel", { id });
      expect(revisionOf(deleted)).toBe(await eventRevision(watch, ModelEventType.DELETED, id));

      const imported = await importWithHeaders(raw, [
        { model: { name: "hdr-import", version: "1" } },
        { model: { name: "hdr-import", version: "2" } },
      ]);
      expect(imported.response?.createdCount).toBe(2);
      await expect
        .poll(() => watch.received.filter((m) => m.event?.model?.name === "hdr-import").length, {
          timeout: 30_000,
        })
        .toBe(2);
      const importEvents = watch.received.filter((m) => m.event?.model?.name === "hdr-import");
      let highest = 0n; // bigints: Math.max does not take them
      for (const { revision } of importEvents) if (revision > highest) highest = revision;
      expect(revisionOf(imported)).toBe(String(highest));
    } finally {
      watch.cancel();
    }
  });

  it("answers a replay and a write that changes nothing with the latest revision", async () => {
    const raw = suite.registry.client.raw;
    const request = { model: { name: "replay", version: "1", tags: ["x"] }, requestId: "replay-1" };
    const first = await unaryWithHeaders<{ model: Model }>(raw, "CreateModel", request);
    const id = first.response?.model.id ?? "";
    const other = await unaryWithHeaders(raw, "CreateModel", { model: { name: "replay", version: "2" } });
    const latest = revisionOf(other);
    expect(Number(latest)).toBeGreaterThan(Number(revisionOf(first)));

    const replay = await unaryWithHeaders<{ model: Model }>(raw, "CreateModel", request);
    expect(replay.response?.model.id).toBe(id);
    expect(revisionOf(replay)).toBe(latest);
    const noop = await unaryWithHeaders(raw, "AddModelTags", { id, tags: ["x"] });
    expect(noop.error).toBeUndefined();
    expect(revisionOf(noop)).toBe(latest);

    await unaryWithHeaders(raw, "SetModelAlias", { name: "replay", alias: "a", version: "1" });
    const aliasLatest = revisionOf(
      await unaryWithHeaders(raw, "CreateModel", { model: { name: "replay", version: "3" } }),
    );
    const unchanged = await unaryWithHeaders(raw, "SetModelAlias", {
      name: "replay",
      alias: "a",
      version: "1",
    });
    expect(unchanged.error).toBeUndefined();
    expect(revisionOf(unchanged)).toBe(aliasLatest);

    const again = await importWithHeaders(raw, [{ model: { name: "replay", version: "1" } }]);
    expect(again.response?.alreadyExistsCount).toBe(1);
    expect(revisionOf(again)).toBe(aliasLatest);
  });

  it("sends no revision header with an error, nor with a read", async () => {
    const raw = suite.registry.client.raw;
    const missing = await unaryWithHeaders(raw, "AddModelTags", {
      id: "00000000-0000-4000-8000-000000000000",
      tags: ["x"],
    });
    expect(missing.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(revisionOf(missing)).toBeUndefined();
    expect(missing.error?.metadata.get(revisionHeader)).toEqual([]);
    const invalid = await unaryWithHeaders(raw, "CreateModel", { model: { name: "", version: "1" } });
    expect(invalid.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(revisionOf(invalid)).toBeUndefined();

    const created = await unaryWithHeaders<{ model: Model }>(raw, "CreateModel", {
      model: { name: "read", version: "1" },
    });
    const read = await unaryWithHeaders(raw, "GetModel", { id: created.response?.model.id });
    expect(read.error).toBeUndefined();
    expect(revisionOf(read)).toBeUndefined();
  });

  it("is seen by buf curl, a client that is not grpc-js", async () => {
    const { address } = suite.registry;
    const result = await runBufCurl([
      "-v",
      "-d",
      JSON.stringify({ model: { name: "curl", version: "1" } }),
      `http://${address}/modelregistry.v1.ModelService/CreateModel`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const id = (JSON.parse(result.stdout) as { model: { id: string } }).model.id;
    const header = /^buf: < \(#\d+\) X-Modelreg-Revision: (\d+)$/im.exec(result.stderr);
    expect(header, result.stderr).not.toBeNull();
    const history = await suite.registry.client.call<{ entries: { revision: string }[] }>(
      "ListModelHistory",
      {
        modelId: id,
      },
    );
    expect(String(history.entries[0]?.revision)).toBe(header?.[1]);
  });
});
