import assert from "node:assert/strict";
import type { ChangeRecord, ModelRecord } from "../storage/adapter";
import { allChanges, latestRevision, setOk } from "./alias-fixtures";
import { plain } from "./assertions";
import { makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** `record` edited: the next revision, a later update time, `description` set. */
const edit = (record: ModelRecord, description: string): ModelRecord => ({
  ...record,
  description,
  revision: record.revision + 1,
  updateTime: record.updateTime + 1,
});

/** The entry of `revision` in `changes`, asserted present. */
function entryAt(changes: readonly ChangeRecord[], revision: number, what: string): ChangeRecord {
  const entry = changes.find((c) => c.revision === revision);
  assert.ok(entry, `${what}: no history entry with revision ${revision}`);
  return entry;
}

/** The revision a write result carries, asserted a number. */
function revisionOf(result: { readonly status: string }, what: string): number {
  const { revision } = result as { revision?: unknown };
  assert.equal(typeof revision, "number", `${what}: the ${result.status} result carries its revision`);
  return revision as number;
}

/**
 * Registers the tests of what readers of the change feed rely on: each
 * write result's `revision` is that of the entry it appended, and
 * `readChanges` gives each `updated` and `deleted` entry the model's state
 * before it (`before`), as `listHistory` does.
 */
export function defineChangeRevisionTests(test: TestFn): void {
  defineWriteRevisionTest(test);
  defineBeforeTests(test);
}

/** Each write result's `revision` names the entry it appended. */
function defineWriteRevisionTest(test: TestFn): void {
  test("each write result carries the revision of the history entry it appended", async (adapter) => {
    const model = makeModelRecord({ name: "rev" });
    const inserted = await adapter.insert(model, "req-rev");
    assert.equal(inserted.status, "created");
    const batch = [makeModelRecord({ name: "rev-a" }), makeModelRecord({ name: "rev-b" })];
    const many = await adapter.insertMany(batch.map((record) => ({ record })));
    const replaced = await adapter.replace(edit(model, "edited"), 1);
    const set = await adapter.setAlias({ name: "rev", alias: "live", version: model.version });
    assert.equal(set.status, "set");
    const unset = await adapter.deleteAlias({ name: "rev", alias: "live" });
    const deleted = await adapter.delete(model.id);

    const changes = await allChanges(adapter);
    const expectEntry = (result: { readonly status: string }, type: string, id: string, what: string) => {
      const entry = entryAt(changes, revisionOf(result, what), what);
      assert.deepEqual([entry.type, entry.model.id], [type, id], `${what}: the entry at its revision`);
    };
    expectEntry(inserted, "created", model.id, "insert");
    for (const [i, result] of many.entries()) {
      expectEntry(result, "created", batch[i]?.id ?? "", `insertMany item ${i}`);
    }
    expectEntry(replaced, "updated", model.id, "replace");
    if (set.status === "set") {
      const entry = entryAt(changes, set.alias.revision, "setAlias (alias.revision)");
      assert.deepEqual([entry.type, entry.alias?.alias], ["alias_set", "live"], "setAlias: its entry");
    }
    const aliasDeleted = entryAt(changes, revisionOf(unset, "deleteAlias"), "deleteAlias");
    assert.deepEqual(
      [aliasDeleted.type, aliasDeleted.alias?.alias],
      ["alias_deleted", "live"],
      "deleteAlias",
    );
    expectEntry(deleted, "deleted", model.id, "delete");
    assert.equal(
      revisionOf(deleted, "delete"),
      await latestRevision(adapter),
      "the delete was the last write",
    );
  });
}

/** `readChanges` gives `updated` and `deleted` entries their `before`, as `listHistory` does. */
function defineBeforeTests(test: TestFn): void {
  test("readChanges gives updated and deleted entries the model before them, as listHistory does", async (adapter) => {
    const first = makeModelRecord({ name: "before", tags: ["a"], metadata: { k: "1" } });
    assert.equal((await adapter.insert(first)).status, "created");
    const second = { ...edit(first, "second"), tags: ["b"] };
    assert.equal((await adapter.replace(second, 1)).status, "ok");
    // An alias entry of the model in between: `before` is the model's own previous state.
    await setOk(adapter, { name: "before", alias: "live", version: first.version });
    assert.equal((await adapter.deleteAlias({ name: "before", alias: "live" })).status, "deleted");
    const third = { ...edit(second, "third"), metadata: { k: "3" } };
    assert.equal((await adapter.replace(third, 2)).status, "ok");
    assert.equal((await adapter.delete(first.id)).status, "ok");
    // Created again under the same (name, version): a new model, with nothing before it.
    const again = makeModelRecord({ name: "before", version: first.version });
    assert.equal((await adapter.insert(again)).status, "created");

    const { changes } = await adapter.readChanges(0, 100);
    const summary = changes.map((c) => [c.type, c.before && plain(c.before)]);
    assert.deepEqual(summary, [
      ["created", undefined],
      ["updated", plain(first)],
      ["alias_set", undefined],
      ["alias_deleted", undefined],
      ["updated", plain(second)],
      ["deleted", plain(third)],
      ["created", undefined],
    ]);
    const listed = await adapter.listHistory({ limit: 100 });
    assert.deepEqual(
      changes.map((c) => c.before && plain(c.before)),
      listed.reverse().map((c) => c.before && plain(c.before)),
      "readChanges and listHistory agree on before",
    );
  });

  test("readChanges gives a page's before from before the page, and fresh copies each time", async (adapter) => {
    const model = makeModelRecord({ name: "paged", tags: ["x"] });
    await adapter.insert(model);
    const others = Array.from({ length: 3 }, (_, i) => makeModelRecord({ name: `other-${i}` }));
    await adapter.insertMany(others.map((record) => ({ record })));
    await adapter.replace(edit(model, "edited"), 1);
    const after = (await latestRevision(adapter)) - 1;
    const page = await adapter.readChanges(after, 1);
    const [change] = page.changes;
    assert.equal(change?.type, "updated");
    assert.deepEqual(
      change?.before && plain(change.before),
      plain(model),
      "before from an entry not in the page",
    );
    (change?.before?.tags as string[] | undefined)?.push("scribbled");
    const again = (await adapter.readChanges(after, 1)).changes[0];
    assert.deepEqual(again?.before?.tags, ["x"], "a caller's change to a before does not reach storage");
  });
}

/**
 * Registers the retention test of `before`: absent when the entry that held
 * the model's previous state was pruned.
 */
export function defineBeforePrunedTest(test: TestFn): void {
  test("retainChanges 5 and retainHistory 5: an update whose previous state was pruned has no before", async (adapter) => {
    const model = makeModelRecord({ name: "pruned-before" });
    await adapter.insert(model);
    await adapter.insertMany(
      Array.from({ length: 12 }, (_, i) => ({ record: makeModelRecord({ name: `fill-${i}` }) })),
    );
    await adapter.replace(edit(model, "late"), 1);
    const page = await adapter.readChanges(0, 100);
    assert.ok(
      page.prunedThrough >= 1,
      `the model's created entry is pruned (prunedThrough ${page.prunedThrough})`,
    );
    const update = page.changes.at(-1);
    assert.equal(update?.type, "updated");
    assert.equal(update?.before, undefined, "nothing kept tells the state before");
  });
}
