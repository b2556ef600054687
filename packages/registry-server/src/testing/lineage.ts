import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { LineageRecord, ModelRecord, StorageAdapter } from "../storage/adapter";
import { allChanges } from "./alias-fixtures";
import { assertRecord, scribble, withoutRevision } from "./assertions";
import { listAll } from "./expected-order";
import { checkFilterCases, f } from "./filter-cases";
import { type FixtureRows, insertFixture, makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const PARENT = randomUUID();

const LINEAGE: LineageRecord = {
  runUri: "https://mlflow.example/runs/ünïcode-😀?x=1",
  codeRevision: "9f2c1e0",
  datasetUris: ["gs://b/eval", "s3://bucket/train-2026-11", "s3://bucket/train-2026-11/part-😀"],
  parentModelIds: [PARENT],
};

/** Registers the tests of a model's artifact digest and lineage: stored exactly, filterable. */
export function defineLineageTests(test: TestFn): void {
  defineRoundTripTests(test);
  defineLineageFilterTests(test);
}

async function assertEverywhere(adapter: StorageAdapter, record: ModelRecord, what: string): Promise<void> {
  assertRecord(await adapter.get(record.id), record, `${what}: get`);
  assertRecord(
    await adapter.getByNameVersion(record.name, record.version),
    record,
    `${what}: getByNameVersion`,
  );
  assertRecord((await adapter.getMany([record.id]))[0], record, `${what}: getMany`);
  const listed = (await listAll(adapter)).find((r) => r.id === record.id);
  assertRecord(listed, record, `${what}: list`);
  const entries = (await allChanges(adapter)).filter((c) => c.model.id === record.id);
  assertRecord(entries.at(-1)?.model, record, `${what}: the latest history entry (readChanges)`);
  const [latest] = await adapter.listHistory({ modelId: record.id, limit: 1 });
  assertRecord(latest?.model, record, `${what}: the latest history entry (listHistory)`);
}

function defineRoundTripTests(test: TestFn): void {
  test("the artifact digest and lineage (Unicode URIs, several datasets) round-trip through every read and the history", async (adapter) => {
    const record = makeModelRecord({ artifactDigest: DIGEST, lineage: LINEAGE });
    assert.equal((await adapter.insert(record)).status, "created");
    await assertEverywhere(adapter, record, "inserted");
    const replaced: ModelRecord = {
      ...record,
      lineage: { ...LINEAGE, runUri: "", datasetUris: ["s3://other"], parentModelIds: [] },
      revision: 2,
      updateTime: record.updateTime + 1,
    };
    assert.deepEqual(withoutRevision(await adapter.replace(replaced, 1)), { status: "ok" });
    await assertEverywhere(adapter, replaced, "replaced");
    const batch = makeModelRecord({
      artifactDigest: DIGEST,
      lineage: { ...LINEAGE, codeRevision: "v1.2.3" },
    });
    assert.deepEqual(withoutRevision(await adapter.insertMany([{ record: batch }])), [{ status: "created" }]);
    await assertEverywhere(adapter, batch, "insertMany");
  });

  test('a model without digest or lineage reads back with "" and empty lineage arrays (not null or absent)', async (adapter) => {
    const record = makeModelRecord();
    assert.equal((await adapter.insert(record)).status, "created");
    const stored = await adapter.get(record.id);
    assert.equal(stored?.artifactDigest, "");
    assert.deepEqual(stored?.lineage && { ...stored.lineage }, {
      runUri: "",
      codeRevision: "",
      datasetUris: [],
      parentModelIds: [],
    });
    await assertEverywhere(adapter, record, "empty");
  });

  test("lineage arrays returned are the caller's own: changing them changes nothing stored", async (adapter) => {
    const lineage = { ...LINEAGE, datasetUris: [...LINEAGE.datasetUris] };
    const record = makeModelRecord({ lineage });
    assert.equal((await adapter.insert(record)).status, "created");
    lineage.datasetUris.push("s3://scribbled-by-the-caller");
    const got = await adapter.get(record.id);
    assert.ok(got);
    scribble(got);
    for (const array of [got.lineage.datasetUris, got.lineage.parentModelIds] as string[][]) {
      try {
        array.push("scribbled");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
      }
    }
    await assertEverywhere(adapter, makeModelRecord({ ...record, lineage: LINEAGE }), "after scribbling");
  });
}

const LINEAGE_ROWS: FixtureRows = [
  ["digest", { name: "digest", artifactDigest: DIGEST }],
  ["train", { name: "train", lineage: { ...LINEAGE, parentModelIds: [] } }],
  [
    "child",
    { name: "child", lineage: { runUri: "", codeRevision: "v2", datasetUris: [], parentModelIds: [PARENT] } },
  ],
  ["plain", { name: "plain" }],
];

function defineLineageFilterTests(test: TestFn): void {
  test("filters on artifact_digest, lineage.run_uri, lineage.code_revision and lineage membership", async (adapter) => {
    const fixture = await insertFixture(adapter, LINEAGE_ROWS);
    await checkFilterCases(adapter, fixture, [
      [f.str("artifact_digest", "=", DIGEST), ["digest"]],
      [f.str("artifact_digest", "=", ""), ["train", "child", "plain"]],
      [f.prefix("artifact_digest", "=", "sha256:"), ["digest"]],
      [f.str("lineage.run_uri", "=", LINEAGE.runUri), ["train"]],
      [f.prefix("lineage.run_uri", "=", "https://mlflow.example/"), ["train"]],
      [f.str("lineage.code_revision", "=", "v2"), ["child"]],
      [f.str("lineage.code_revision", "!=", ""), ["train", "child"]],
      [f.lineage("dataset_uris", "s3://bucket/train-2026-11"), ["train"]],
      [f.lineage("dataset_uris", "s3://bucket/train"), []],
      [f.lineage("parent_model_ids", PARENT), ["child"]],
      [f.not(f.lineage("dataset_uris", "gs://b/eval")), ["digest", "child", "plain"]],
      [f.and(f.str("name", "=", "train"), f.lineage("dataset_uris", "gs://b/eval")), ["train"]],
    ]);
  });
}
