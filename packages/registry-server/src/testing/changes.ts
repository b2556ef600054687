import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { ModelRecord } from "../storage/adapter";
import { withoutRevision } from "./assertions";
import { insertAll, makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of the change history (rule 8): `readChanges` and what writes append. */
export function defineChangeTests(test: TestFn): void {
  defineChangeNumberingTests(test);
  defineChangeBatchTests(test);
}

/** Each write that changes something appends one change; `readChanges` reads slices of them. */
function defineChangeNumberingTests(test: TestFn): void {
  test("every write that changes something appends one change, numbered one past the latest", async (adapter) => {
    const empty = await adapter.readChanges(0, 10);
    assert.deepEqual(
      empty,
      { changes: [], latestRevision: 0, prunedThrough: 0 },
      "a new store has no history",
    );
    const record = makeModelRecord({ tags: ["a"], metadata: { k: "v" } });
    assert.equal((await adapter.insert(record)).status, "created");
    const updated: ModelRecord = { ...record, tags: ["b"], revision: 2, updateTime: record.updateTime + 1 };
    assert.equal((await adapter.replace(updated, 1)).status, "ok");
    // Failures and no-ops append nothing.
    assert.equal(
      (await adapter.insert({ ...makeModelRecord(), name: record.name, version: record.version })).status,
      "nameVersionTaken",
    );
    assert.equal((await adapter.replace({ ...updated, revision: 3 }, 1)).status, "conflict");
    assert.equal((await adapter.delete(record.id, 1)).status, "conflict");
    assert.equal((await adapter.delete(randomUUID())).status, "notFound");
    assert.equal((await adapter.delete(record.id)).status, "ok");

    const { changes, latestRevision, prunedThrough } = await adapter.readChanges(0, 10);
    assert.equal(latestRevision, 3);
    assert.equal(prunedThrough, 0);
    assert.deepEqual(
      changes.map((c) => [c.revision, c.type, c.model.id, c.model.revision, [...c.model.tags]]),
      [
        [1, "created", record.id, 1, ["a"]],
        [2, "updated", record.id, 2, ["b"]],
        // A delete reports the model's last state.
        [3, "deleted", record.id, 2, ["b"]],
      ],
    );
    assert.deepEqual(
      { ...changes[0]?.model },
      { ...record, tags: ["a"], metadata: { k: "v" } },
      "the model as created",
    );
    for (const change of changes) assert.ok(change.commitTime > 0, "a commit time");
  });

  test("reads a slice after a revision, up to a limit; limit 0 reads just the bounds", async (adapter) => {
    const records = Array.from({ length: 5 }, () => makeModelRecord());
    await insertAll(adapter, records);
    const page = await adapter.readChanges(1, 2);
    assert.deepEqual(
      page.changes.map((c) => [c.revision, c.model.id]),
      [
        [2, records[1]?.id],
        [3, records[2]?.id],
      ],
    );
    assert.equal(page.latestRevision, 5);
    const bounds = await adapter.readChanges(5, 0);
    assert.deepEqual(bounds, { changes: [], latestRevision: 5, prunedThrough: 0 });
    assert.deepEqual((await adapter.readChanges(5, 10)).changes, [], "nothing after the latest");
  });
}

/** `insertMany` and concurrent writers append one change each, numbered with no gap. */
function defineChangeBatchTests(test: TestFn): void {
  test("insertMany: each item as insert would, in order, later items seeing earlier ones", async (adapter) => {
    const existing = makeModelRecord({ name: "existing" });
    await insertAll(adapter, [existing]);
    const a = makeModelRecord({ name: "a", tags: ["t"], metadata: { k: "v" } });
    const b = makeModelRecord({ name: "b" });
    const results = await adapter.insertMany([
      { record: a, requestId: "req-a" },
      { record: makeModelRecord({ name: "existing", version: existing.version }) },
      { record: b },
      { record: makeModelRecord({ name: "b", version: b.version }) },
      { record: makeModelRecord({ name: "a-again" }), requestId: "req-a" },
    ]);
    assert.deepEqual(
      withoutRevision(results.map((r) => (r.status === "requestIdUsed" ? [r.status, r.existing.id] : r))),
      [
        { status: "created" },
        { status: "nameVersionTaken", existingId: existing.id },
        { status: "created" },
        { status: "nameVersionTaken", existingId: b.id },
        ["requestIdUsed", a.id],
      ],
    );
    assert.deepEqual(await adapter.get(a.id), { ...a, tags: ["t"], metadata: { k: "v" } });
    assert.deepEqual(await adapter.insertMany([]), []);
    const { changes } = await adapter.readChanges(0, 10);
    assert.deepEqual(
      changes.map((c) => [c.revision, c.type, c.model.name]),
      [
        [1, "created", "existing"],
        [2, "created", "a"],
        [3, "created", "b"],
      ],
      "one change per created item only",
    );
  });

  test("concurrent writers get consecutive revisions: no gap, no duplicate, one per write", async (adapter) => {
    const records = Array.from({ length: 12 }, (_, i) => makeModelRecord({ name: `w${i}` }));
    const clash = makeModelRecord({ name: "w0", version: records[0]?.version ?? "" });
    const results = await Promise.all([...records.map((r) => adapter.insert(r)), adapter.insert(clash)]);
    assert.equal(results.filter((r) => r.status === "created").length, 12);
    await Promise.all(
      records.map((r) =>
        adapter.replace({ ...r, description: "second", revision: 2, updateTime: r.updateTime + 1 }, 1),
      ),
    );
    const { changes, latestRevision } = await adapter.readChanges(0, 100);
    assert.equal(latestRevision, 24);
    assert.deepEqual(
      changes.map((c) => c.revision),
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    for (const r of records) {
      assert.deepEqual(
        changes.filter((c) => c.model.id === r.id).map((c) => c.type),
        ["created", "updated"],
        `the changes of ${r.name}, in order`,
      );
    }
  });
}
