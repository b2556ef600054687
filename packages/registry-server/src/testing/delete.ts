import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { ModelRecord } from "../storage/adapter";
import { assertRecord, key, keys, withoutRevision } from "./assertions";
import { listAll } from "./expected-order";
import { insertAll, makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of `delete`. */
export function defineDeleteTests(test: TestFn): void {
  defineDeleteRevisionTests(test);
  defineDeleteOnceTests(test);
}

/** A delete removes the record from every read, at the expected revision if one is given. */
function defineDeleteRevisionTests(test: TestFn): void {
  test("delete with the current revision removes the record from every read", async (adapter) => {
    const gone = makeModelRecord({ name: "gone" });
    const kept = makeModelRecord({ name: "kept" });
    await insertAll(adapter, [gone, kept]);
    assert.deepEqual(withoutRevision(await adapter.delete(gone.id, 1)), { status: "ok" });
    assert.equal(await adapter.get(gone.id), undefined, "get");
    assert.equal(await adapter.getByNameVersion(gone.name, gone.version), undefined, "getByNameVersion");
    assert.deepEqual(
      (await adapter.getMany([gone.id, kept.id])).map((r) => r.id),
      [kept.id],
      "getMany",
    );
    assert.deepEqual(keys(await listAll(adapter)), [key(kept)], "list");
  });

  test("delete without an expected revision removes the record at any revision", async (adapter) => {
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    assert.deepEqual(
      withoutRevision(await adapter.replace({ ...record, description: "r2", revision: 2 }, 1)),
      {
        status: "ok",
      },
    );
    assert.deepEqual(withoutRevision(await adapter.delete(record.id)), { status: "ok" });
    assert.equal(await adapter.get(record.id), undefined);
  });

  test("delete with a wrong revision is a conflict and keeps the record", async (adapter) => {
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    assert.deepEqual(await adapter.delete(record.id, 5), { status: "conflict", currentRevision: 1 });
    assertRecord(await adapter.get(record.id), record, "still there");
    const next: ModelRecord = { ...record, revision: 2 };
    assert.deepEqual(withoutRevision(await adapter.replace(next, 1)), { status: "ok" });
    assert.deepEqual(
      await adapter.delete(record.id, 1),
      { status: "conflict", currentRevision: 2 },
      "stale revision",
    );
    assertRecord(await adapter.get(record.id), next, "still there after a stale delete");
  });
}

/** A record is deleted once: later deletes and replaces are `notFound`, its (name, version) is free. */
function defineDeleteOnceTests(test: TestFn): void {
  test("delete of an unknown or already deleted id is notFound; so is replace after delete", async (adapter) => {
    assert.deepEqual(await adapter.delete(randomUUID()), { status: "notFound" }, "unknown id");
    assert.deepEqual(
      await adapter.delete(randomUUID(), 1),
      { status: "notFound" },
      "unknown id with a revision",
    );
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    assert.deepEqual(withoutRevision(await adapter.delete(record.id)), { status: "ok" });
    assert.deepEqual(await adapter.delete(record.id), { status: "notFound" }, "second delete");
    assert.deepEqual(
      await adapter.delete(record.id, 1),
      { status: "notFound" },
      "second delete with a revision",
    );
    assert.deepEqual(await adapter.replace({ ...record, revision: 2 }, 1), { status: "notFound" }, "replace");
    assert.equal(await adapter.get(record.id), undefined, "replace did not bring it back");
  });

  test("a deleted model's (name, version) can be used again", async (adapter) => {
    const first = makeModelRecord({ name: "reused", version: "1.0.0" });
    await insertAll(adapter, [first]);
    assert.deepEqual(withoutRevision(await adapter.delete(first.id, 1)), { status: "ok" });
    const second = makeModelRecord({ name: "reused", version: "1.0.0", description: "second life" });
    const result = await adapter.insert(second);
    assert.equal(result.status, "created", JSON.stringify(result));
    assertRecord(await adapter.getByNameVersion("reused", "1.0.0"), second, "getByNameVersion");
    assert.equal(await adapter.get(first.id), undefined, "the first stays deleted");
  });

  test("of 10 concurrent deletes exactly one succeeds", async (adapter) => {
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    const results = await Promise.all(Array.from({ length: 10 }, () => adapter.delete(record.id)));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "ok",
    ]);
    assert.equal(await adapter.get(record.id), undefined);
  });
}
