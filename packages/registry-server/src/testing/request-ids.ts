import assert from "node:assert/strict";
import { assertRecord, defined, key, keys, scribble } from "./assertions";
import { listAll } from "./expected-order";
import { insertAll, makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of `insert`'s request ids (idempotent creates). */
export function defineRequestIdTests(test: TestFn): void {
  defineRequestIdClashTests(test);
  defineConcurrentRequestIdTests(test);
}

/** A used request id is `requestIdUsed`, winning over `nameVersionTaken`; others do not clash. */
function defineRequestIdClashTests(test: TestFn): void {
  test("an insert with a used request id is requestIdUsed with the existing record; nothing is stored", async (adapter) => {
    const first = makeModelRecord({ name: "first", tags: ["t"], metadata: { k: "v" } });
    const retry = makeModelRecord({ name: "another-name", version: "9.9.9" });
    assert.equal((await adapter.insert(first, "req-1")).status, "created");
    const result = await adapter.insert(retry, "req-1");
    assert.equal(result.status, "requestIdUsed", JSON.stringify(result));
    assert.ok(result.status === "requestIdUsed");
    assertRecord(result.existing, first, "existing");
    assert.equal(await adapter.get(retry.id), undefined, "the retry was not stored");
    assert.equal(
      await adapter.getByNameVersion(retry.name, retry.version),
      undefined,
      "nor its (name, version)",
    );
    scribble(result.existing);
    assertRecord(await adapter.get(first.id), first, "after mutating `existing` (rule 4)");
  });

  test("requestIdUsed wins over nameVersionTaken", async (adapter) => {
    const first = makeModelRecord({ name: "m", version: "1" });
    const other = makeModelRecord({ name: "other", version: "1" });
    assert.equal((await adapter.insert(first, "req-1")).status, "created");
    await insertAll(adapter, [other]);
    const sameNameVersion = await adapter.insert(makeModelRecord({ name: "m", version: "1" }), "req-1");
    assert.equal(
      sameNameVersion.status,
      "requestIdUsed",
      `same (name, version): ${JSON.stringify(sameNameVersion)}`,
    );
    assert.equal(sameNameVersion.status === "requestIdUsed" && sameNameVersion.existing.id, first.id);
    const otherNameVersion = await adapter.insert(makeModelRecord({ name: "other", version: "1" }), "req-1");
    assert.equal(
      otherNameVersion.status,
      "requestIdUsed",
      `(name, version) of another model: ${JSON.stringify(otherNameVersion)}`,
    );
    assert.equal(otherNameVersion.status === "requestIdUsed" && otherNameVersion.existing.id, first.id);
    assert.equal((await listAll(adapter)).length, 2);
  });

  test("different, absent and empty request ids do not clash", async (adapter) => {
    const records = Array.from({ length: 6 }, () => makeModelRecord());
    const requestIds = ["req-a", "req-b", undefined, undefined, "", ""];
    for (const [i, record] of records.entries()) {
      const result = await adapter.insert(record, requestIds[i]);
      assert.equal(
        result.status,
        "created",
        `insert with request id ${JSON.stringify(requestIds[i])}: ${JSON.stringify(result)}`,
      );
    }
    const reuse = await adapter.insert(makeModelRecord(), "req-a");
    assert.equal(reuse.status, "requestIdUsed", JSON.stringify(reuse));
    assert.equal(reuse.status === "requestIdUsed" && reuse.existing.id, records[0]?.id);
    assert.equal((await listAll(adapter)).length, 6);
  });

  test("request ids are compared exactly (letter case matters)", async (adapter) => {
    const lower = makeModelRecord();
    const upper = makeModelRecord();
    assert.equal((await adapter.insert(lower, "req-x")).status, "created");
    const result = await adapter.insert(upper, "REQ-X");
    assert.equal(result.status, "created", JSON.stringify(result));
  });
}

/** Of concurrent inserts with one request id exactly one is created (rule 1). */
function defineConcurrentRequestIdTests(test: TestFn): void {
  test("of 20 concurrent inserts with the same request id exactly one is created", async (adapter) => {
    const records = Array.from({ length: 20 }, (_, i) => makeModelRecord({ name: `contender-${i}` }));
    const results = await Promise.all(records.map((r) => adapter.insert(r, "req-race")));
    const created = results.flatMap((r, i) => (r.status === "created" ? [i] : []));
    assert.equal(
      created.length,
      1,
      `exactly one created, got ${JSON.stringify(results.map((r) => r.status))}`,
    );
    const winner = defined(records[defined(created[0], "created index")], "winner");
    for (const [i, result] of results.entries()) {
      if (i === created[0]) continue;
      assert.equal(result.status, "requestIdUsed", `insert ${i}: ${JSON.stringify(result)}`);
      if (result.status === "requestIdUsed") assertRecord(result.existing, winner, `insert ${i}: existing`);
    }
    assert.deepEqual(keys(await listAll(adapter)), [key(winner)], "only one row is visible");
  });

  test("a create retried while the first try runs: same request id and (name, version) creates one", async (adapter) => {
    const records = Array.from({ length: 20 }, () => makeModelRecord({ name: "retried", version: "1.0.0" }));
    const results = await Promise.all(records.map((r) => adapter.insert(r, "req-retried")));
    const statuses = results.map((r) => r.status);
    assert.equal(
      statuses.filter((s) => s === "created").length,
      1,
      `exactly one created: ${JSON.stringify(statuses)}`,
    );
    assert.equal(
      statuses.filter((s) => s === "requestIdUsed").length,
      19,
      `the others are requestIdUsed (it wins over nameVersionTaken): ${JSON.stringify(statuses)}`,
    );
    assert.equal((await listAll(adapter)).length, 1, "only one row is visible");
  });
}
