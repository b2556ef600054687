// ListModelHistory, lineage and the artifact digest over a real gRPC server
// on a real socket, with memory and SQLite storage.
import { Code, type HistoryEntry, type Model, ModelEventType } from "@modelreg/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { as, expectError, storageFactories, subjects, useRegistry } from "./test-support/alias-registry";

const { adapters, cleanup } = storageFactories();
afterAll(cleanup);

type HistoryPage = { entries: HistoryEntry[]; nextPageToken: string };

const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe.each(adapters)("ListModelHistory over gRPC, auth on, %s storage", (_name, createStorage) => {
  const { call } = useRegistry(createStorage, { auth: true });
  const history = (request: object) => call<HistoryPage>("ListModelHistory", request, as("reader"));
  let model: Model;
  beforeAll(async () => {
    // created (writer), updated (admin), alias set (writer), updated (writer)
    model = (
      await call<{ model: Model }>("CreateModel", { model: { name: "audit", version: "1" } }, as("writer"))
    ).model;
    await call("UpdateModelMetadata", { id: model.id, set: { owner: "ana" } }, as("admin"));
    await call(
      "SetModelAlias",
      { name: "audit", alias: "prod", version: "1", requestId: "req-7" },
      as("writer"),
    );
    await call("AddModelTags", { id: model.id, tags: ["gold"] }, as("writer"));
    await call("CreateModel", { model: { name: "other", version: "1" } }, as("writer"));
  });

  it("lists a name's entries newest first, each with its actor, request id and states before and after", async () => {
    const { entries } = await history({ name: "audit" });
    expect(entries.map((e) => [e.type, e.actor])).toEqual([
      [ModelEventType.UPDATED, subjects.writer],
      [ModelEventType.ALIAS_SET, subjects.writer],
      [ModelEventType.UPDATED, subjects.admin],
      [ModelEventType.CREATED, subjects.writer],
    ]);
    const revisions = entries.map((e) => Number(e.revision));
    expect(revisions).toEqual([...revisions].sort((a, b) => b - a));
    const [tagged, aliased, described, created] = entries;
    expect([tagged?.before?.tags, tagged?.after?.tags]).toEqual([[], ["gold"]]);
    expect([described?.before?.metadata, described?.after?.metadata]).toEqual([{}, { owner: "ana" }]);
    expect([created?.before, created?.after?.id]).toEqual([undefined, model.id]);
    expect(aliased).toMatchObject({ requestId: "req-7", aliasAfter: { alias: "prod", version: "1" } });
    expect(aliased?.before).toBeUndefined();
    expect(aliased?.refusal).toBeUndefined();
  });

  it("filters by alias, model id, actor, type and commit time", async () => {
    const types = async (request: object) => (await history(request)).entries.map((e) => e.type);
    expect(await types({ name: "audit", alias: "prod" })).toEqual([ModelEventType.ALIAS_SET]);
    expect(await types({ modelId: model.id, filter: `actor = "${subjects.admin}"` })).toEqual([
      ModelEventType.UPDATED,
    ]);
    expect(await types({ filter: "type = CREATED" })).toEqual([
      ModelEventType.CREATED,
      ModelEventType.CREATED,
    ]);
    expect(await types({ name: "audit", filter: "type != UPDATED AND type != CREATED" })).toEqual([
      ModelEventType.ALIAS_SET,
    ]);
    expect(await types({ name: "audit", filter: "refused = true" })).toEqual([]);
    const { entries } = await history({ name: "audit" });
    const aliasTime = entries[1]?.commitTime;
    const iso = (t: typeof aliasTime) =>
      new Date(Number(t?.seconds) * 1000)
        .toISOString()
        .replace(".000Z", `.${String((t?.nanos ?? 0) / 1000).padStart(6, "0")}Z`);
    expect(await types({ name: "audit", filter: `commit_time >= "${iso(aliasTime)}"` })).toEqual([
      ModelEventType.UPDATED,
      ModelEventType.ALIAS_SET,
    ]);
    expect(await types({ name: "audit", filter: `commit_time < "${iso(aliasTime)}"` })).toEqual([
      ModelEventType.UPDATED,
      ModelEventType.CREATED,
    ]);
  });

  it("pages with tokens that only continue the same query", async () => {
    const first = await history({ name: "audit", pageSize: 3 });
    expect(first.entries).toHaveLength(3);
    const second = await history({ name: "audit", pageSize: 3, pageToken: first.nextPageToken });
    expect([second.entries.map((e) => e.type), second.nextPageToken]).toEqual([[ModelEventType.CREATED], ""]);
    const other = await expectError(
      history({ name: "audit", filter: "type = CREATED", pageToken: first.nextPageToken }),
      Code.INVALID_ARGUMENT,
    );
    expect(other.violations).toEqual([
      {
        field: "page_token",
        description: "belongs to a listing with other name, alias, model_id or filter; send the same ones",
      },
    ]);
    // A token stripped of its query hash could continue any query: it is not one this server issued.
    const { r } = JSON.parse(Buffer.from(first.nextPageToken, "base64url").toString("utf8"));
    const bare = Buffer.from(JSON.stringify({ r })).toString("base64url");
    const stripped = await expectError(
      history({ name: "audit", filter: "type = CREATED", pageToken: bare }),
      Code.INVALID_ARGUMENT,
    );
    expect(stripped.violations).toEqual([
      {
        field: "page_token",
        description:
          "is not a token this server issued; pass next_page_token from the previous page unchanged",
      },
    ]);
  });

  it("refuses a malformed filter with its position, and an alias without a name", async () => {
    const error = await expectError(
      history({ filter: 'actor = "x" OR type = CREATED' }),
      Code.INVALID_ARGUMENT,
    );
    expect(error.violations).toEqual([
      {
        field: "filter",
        description:
          "expected AND or the end of the filter (only AND joins restrictions here) at position 12",
      },
    ]);
    const alias = await expectError(history({ alias: "prod" }), Code.INVALID_ARGUMENT);
    expect(alias.violations).toEqual([
      { field: "alias", description: "needs name: an alias belongs to a model name" },
    ]);
    await expectError(history({ pageSize: -1 }), Code.INVALID_ARGUMENT);
    // A commit_time no stored time can be compared with is refused, not sent to the database.
    for (const [filter, time] of [
      ['commit_time >= "0000-01-01T00:00:00Z"', "0000-01-01T00:00:00Z"],
      ['type = CREATED AND commit_time < "9999-12-31T23:59:59Z"', "9999-12-31T23:59:59Z"],
    ] as const) {
      const range = await expectError(history({ filter }), Code.INVALID_ARGUMENT);
      expect(range.violations).toEqual([
        {
          field: "filter",
          description: `commit_time "${time}" is outside the times this server can compare, 1684-07-28T00:12:25.259009Z to 2255-06-05T23:47:34.740991Z at position ${filter.indexOf('"')}`,
        },
      ]);
    }
  });
});

describe.each(adapters)("lineage and artifact digest over gRPC, %s storage", (_name, createStorage) => {
  const suite = useRegistry(createStorage);
  const { call } = suite;

  const create = async (model: Partial<Model>) =>
    (await call<{ model: Model }>("CreateModel", { model })).model;
  const update = async (model: Partial<Model>, paths?: string[]) =>
    (await call<{ model: Model }>("UpdateModel", { model, updateMask: paths && { paths } })).model;

  it("stores lineage with its lists unique and sorted, and finds versions by dataset and parent", async () => {
    const base = await create({ name: "lineage-base", version: "1" });
    const tuned = await create({
      name: "lineage-tuned",
      version: "1",
      artifactDigest: digest("a"),
      lineage: {
        runUri: "mlflow://runs/4f2a",
        codeRevision: "v1.2.0",
        datasetUris: ["s3://bucket/train-2026-11", "s3://bucket/eval", "s3://bucket/train-2026-11"],
        parentModelIds: [base.id],
      },
    });
    expect(tuned.artifactDigest).toBe(digest("a"));
    expect(tuned.lineage).toEqual({
      runUri: "mlflow://runs/4f2a",
      codeRevision: "v1.2.0",
      datasetUris: ["s3://bucket/eval", "s3://bucket/train-2026-11"],
      parentModelIds: [base.id],
    });
    expect(await call<{ model: Model }>("GetModel", { id: tuned.id })).toEqual({ model: tuned });
    const ids = async (filter: string) =>
      (await call<{ models: Model[] }>("ListModels", { filter })).models.map((m) => m.id);
    expect(await ids('lineage.dataset_uris:"s3://bucket/train-2026-11"')).toEqual([tuned.id]);
    expect(await ids(`lineage.parent_model_ids:"${base.id}"`)).toEqual([tuned.id]);
    expect(await ids(`artifact_digest = "${digest("a")}"`)).toEqual([tuned.id]);
    expect(await ids('lineage.run_uri = "mlflow://*" AND lineage.code_revision = "v1.2.0"')).toEqual([
      tuned.id,
    ]);
    expect(base.lineage).toBeUndefined();
  });

  it("refuses a malformed digest and lineage, field by field, and parents that do not exist", async () => {
    const bad = await expectError(
      create({
        name: "lineage-bad",
        version: "1",
        artifactDigest: `sha256:${"A".repeat(64)}`,
        lineage: {
          runUri: "not a uri",
          codeRevision: "has space",
          datasetUris: ["s3://ok", ""],
          parentModelIds: ["bad id"],
        },
      }),
      Code.INVALID_ARGUMENT,
    );
    expect(bad.violations.map((v) => v.field)).toEqual([
      "model.artifact_digest",
      "model.lineage.run_uri",
      "model.lineage.code_revision",
      "model.lineage.dataset_uris[1]",
      "model.lineage.parent_model_ids[0]",
    ]);
    expect(bad.violations[0]?.description).toMatch(/^must be "sha256:" followed by 64 lower-case hex digits/);
    const orphan = await expectError(
      create({
        name: "lineage-orphan",
        version: "1",
        lineage: { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: ["no-such-model"] },
      }),
      Code.FAILED_PRECONDITION,
      "PARENT_MODEL_NOT_FOUND",
    );
    expect(orphan.message).toContain('"no-such-model"');
    await expectError(call("GetModel", { id: "lineage-orphan" }), Code.NOT_FOUND);
  });

  it("imports lineage too, failing only the items whose parents do not exist", async () => {
    const parent = await create({ name: "import-parent", version: "1" });
    const lineage = (parentModelIds: string[]) => ({
      runUri: "",
      codeRevision: "",
      datasetUris: ["s3://d"],
      parentModelIds,
    });
    const summary = await suite.registry.client.importModels([
      {
        model: {
          name: "import-child",
          version: "1",
          lineage: lineage([parent.id]),
          artifactDigest: digest("d"),
        },
      },
      { model: { name: "import-child", version: "2", lineage: lineage(["missing-parent"]) } },
    ]);
    expect([summary.createdCount, summary.failedCount]).toEqual([1, 1]);
    expect(summary.results[0]).toMatchObject({ index: 1, error: { code: Code.FAILED_PRECONDITION } });
    const child = (await call<{ model: Model }>("LookupModel", { name: "import-child", version: "1" })).model;
    expect([child.lineage?.parentModelIds, child.artifactDigest]).toEqual([[parent.id], digest("d")]);
  });

  it("sets a digest once, and refuses to change or clear it", async () => {
    const model = await create({ name: "digest", version: "1" });
    const set = await update({ id: model.id, artifactDigest: digest("b") }, ["artifact_digest"]);
    expect(set.artifactDigest).toBe(digest("b"));
    // Sending the same digest again is not a change.
    expect((await update({ id: model.id, artifactDigest: digest("b") })).etag).toBe(set.etag);
    const changed = await expectError(
      update({ id: model.id, artifactDigest: digest("c") }, ["artifact_digest"]),
      Code.INVALID_ARGUMENT,
    );
    expect(changed.violations).toEqual([
      {
        field: "model.artifact_digest",
        description: `is immutable once set (stored value "${digest("b")}"); register the new artifact as a new version`,
      },
    ]);
    const cleared = await expectError(
      update({ id: model.id, description: "x" }, ["*"]),
      Code.INVALID_ARGUMENT,
    );
    expect(cleared.violations[0]?.description).toContain("it cannot be cleared");
  });

  it("updates lineage whole or one part at a time", async () => {
    const parent = await create({ name: "lineage-parent", version: "1" });
    const model = await create({
      name: "lineage-edit",
      version: "1",
      lineage: {
        runUri: "https://wandb.ai/t/p/runs/a",
        codeRevision: "abc",
        datasetUris: [],
        parentModelIds: [],
      },
    });
    const part = await update(
      {
        id: model.id,
        lineage: { runUri: "", codeRevision: "", datasetUris: ["s3://d"], parentModelIds: [parent.id] },
      },
      ["lineage.dataset_uris", "lineage.parent_model_ids"],
    );
    expect(part.lineage).toEqual({
      runUri: "https://wandb.ai/t/p/runs/a",
      codeRevision: "abc",
      datasetUris: ["s3://d"],
      parentModelIds: [parent.id],
    });
    const whole = await update(
      { id: model.id, lineage: { runUri: "", codeRevision: "def", datasetUris: [], parentModelIds: [] } },
      ["lineage"],
    );
    expect(whole.lineage).toEqual({ runUri: "", codeRevision: "def", datasetUris: [], parentModelIds: [] });
    const self = await expectError(
      update(
        {
          id: model.id,
          lineage: { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: [model.id] },
        },
        ["lineage"],
      ),
      Code.INVALID_ARGUMENT,
    );
    expect(self.violations).toEqual([
      { field: "model.lineage.parent_model_ids", description: "must not name the model itself" },
    ]);
    const unknown = await expectError(update({ id: model.id }, ["lineage.owner"]), Code.INVALID_ARGUMENT);
    expect(unknown.violations[0]?.description).toContain('unknown field "lineage.owner"');
  });
});
