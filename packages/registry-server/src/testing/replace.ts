import assert from "node:assert/strict";
import type { ModelRecord } from "../storage/adapter";
import { assertRecord, defined, withoutRevision } from "./assertions";
import { listAll } from "./expected-order";
import { insertAll, makeModelRecord, T0 } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of `replace`, the compare-and-swap every edit stands on. */
export function defineReplaceTests(test: TestFn): void {
  defineReplaceStateTests(test);
  defineReplaceConflictTests(test);
}

/** A replace at the expected revision stores the new state whole, keeping the identity fields. */
function defineReplaceStateTests(test: TestFn): void {
  test("replace with the expected revision stores the new state whole", async (adapter) => {
    const original = makeModelRecord({
      description: "v1",
      framework: "pytorch",
      artifactUri: "s3://b/1",
      tags: ["a", "b", "c"],
      metadata: { keep: "1", change: "old", drop: "x" },
    });
    await insertAll(adapter, [original]);
    const next: ModelRecord = {
      ...original,
      description: "v2",
      framework: "onnx",
      artifactUri: "s3://b/2",
      tags: ["b", "d"],
      metadata: { keep: "1", change: "new", added: "y" },
      revision: 2,
      updateTime: original.updateTime + 5,
    };
    assert.deepEqual(withoutRevision(await adapter.replace(next, 1)), { status: "ok" });
    assertRecord(await adapter.get(original.id), next, "get after replace");
    assertRecord(
      await adapter.getByNameVersion(original.name, original.version),
      next,
      "getByNameVersion after replace",
    );
    assertRecord((await listAll(adapter))[0], next, "list after replace");

    const cleared: ModelRecord = {
      ...next,
      description: "",
      framework: "",
      artifactUri: "",
      tags: [],
      metadata: {},
      revision: 3,
      updateTime: next.updateTime + 5,
    };
    assert.deepEqual(withoutRevision(await adapter.replace(cleared, 2)), { status: "ok" });
    assertRecord(await adapter.get(original.id), cleared, "get after clearing every tag and metadata key");
  });

  test("replace keeps id, name, version and createTime", async (adapter) => {
    const original = makeModelRecord({ name: "stable", version: "1.0.0", createTime: T0, updateTime: T0 });
    await insertAll(adapter, [original]);
    const next: ModelRecord = {
      ...original,
      name: "renamed",
      version: "9.9.9",
      createTime: T0 + 1_000_000,
      description: "changed",
      revision: 2,
      updateTime: T0 + 5,
    };
    assert.deepEqual(withoutRevision(await adapter.replace(next, 1)), { status: "ok" });
    const expected: ModelRecord = { ...next, name: "stable", version: "1.0.0", createTime: T0 };
    assertRecord(await adapter.get(original.id), expected, "get after replace");
    assertRecord(
      await adapter.getByNameVersion("stable", "1.0.0"),
      expected,
      "getByNameVersion of the kept key",
    );
    assert.equal(await adapter.getByNameVersion("renamed", "9.9.9"), undefined, "the new name was not taken");
  });
}

/** A replace at another revision, or of an unknown id, changes nothing. */
function defineReplaceConflictTests(test: TestFn): void {
  test("replace with a wrong revision is a conflict with the current revision and changes nothing", async (adapter) => {
    const original = makeModelRecord({ description: "v1" });
    await insertAll(adapter, [original]);
    const next: ModelRecord = {
      ...original,
      description: "v2",
      revision: 2,
      updateTime: original.updateTime + 1,
    };
    assert.deepEqual(withoutRevision(await adapter.replace(next, 1)), { status: "ok" });
    const stale: ModelRecord = { ...original, description: "stale", tags: ["x"], revision: 2 };
    assert.deepEqual(
      await adapter.replace(stale, 1),
      { status: "conflict", currentRevision: 2 },
      "stale revision",
    );
    const future: ModelRecord = { ...original, description: "future", revision: 6 };
    assert.deepEqual(
      await adapter.replace(future, 5),
      { status: "conflict", currentRevision: 2 },
      "future revision",
    );
    assertRecord(await adapter.get(original.id), next, "nothing changed");
  });

  test("replace of an unknown id is notFound and inserts nothing", async (adapter) => {
    const ghost: ModelRecord = { ...makeModelRecord({ name: "ghost" }), revision: 2 };
    assert.deepEqual(await adapter.replace(ghost, 1), { status: "notFound" });
    assert.equal(await adapter.get(ghost.id), undefined, "get");
    assert.equal(await adapter.getByNameVersion("ghost", ghost.version), undefined, "getByNameVersion");
    assert.deepEqual(await listAll(adapter), [], "list");
  });

  test("of 10 concurrent replaces expecting the same revision exactly one succeeds", async (adapter) => {
    const original = makeModelRecord();
    await insertAll(adapter, [original]);
    const contenders = Array.from(
      { length: 10 },
      (_, i): ModelRecord => ({ ...original, description: `writer ${i}`, tags: [`w${i}`], revision: 2 }),
    );
    const results = await Promise.all(contenders.map((r) => adapter.replace(r, 1)));
    const ok = results.flatMap((r, i) => (r.status === "ok" ? [i] : []));
    assert.equal(ok.length, 1, `exactly one ok: ${JSON.stringify(results)}`);
    for (const [i, result] of results.entries()) {
      if (i !== ok[0]) assert.deepEqual(result, { status: "conflict", currentRevision: 2 }, `replace ${i}`);
    }
    assertRecord(
      await adapter.get(original.id),
      defined(contenders[defined(ok[0], "ok index")], "winner"),
      "the winner's state",
    );
  });
}
