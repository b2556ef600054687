import assert from "node:assert/strict";
import { assertRecord, defined, key, keys } from "./assertions";
import { listAll } from "./expected-order";
import { insertAll, makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of the (name, version) uniqueness of `insert`. */
export function defineUniquenessTests(test: TestFn): void {
  defineNameVersionTests(test);
  defineConcurrentInsertTests(test);
}

/** A taken (name, version) is `nameVersionTaken`; keys compare exactly (rule 5). */
function defineNameVersionTests(test: TestFn): void {
  test("a second insert of the same (name, version) is nameVersionTaken with the existing id", async (adapter) => {
    const first = makeModelRecord({ name: "dup", version: "1.0.0", description: "first" });
    const second = makeModelRecord({
      name: "dup",
      version: "1.0.0",
      description: "second",
      framework: "onnx",
    });
    await insertAll(adapter, [first]);
    const result = await adapter.insert(second);
    assert.equal(result.status, "nameVersionTaken", JSON.stringify(result));
    assert.equal(result.status === "nameVersionTaken" && result.existingId, first.id, "existingId");
    assert.equal(await adapter.get(second.id), undefined, "the second record was not stored");
    assertRecord(await adapter.getByNameVersion("dup", "1.0.0"), first, "the first record is unchanged");
    assert.equal((await listAll(adapter)).length, 1, "one record listed");
  });

  test("the same name with another version, or another name with the same version, is created", async (adapter) => {
    const records = [
      makeModelRecord({ name: "shared", version: "1.0.0" }),
      makeModelRecord({ name: "shared", version: "1.0.1" }),
      makeModelRecord({ name: "shared-2", version: "1.0.0" }),
      makeModelRecord({ name: "shared", version: "1.0.0-rc.1" }),
    ];
    await insertAll(adapter, records);
    for (const record of records) {
      assertRecord(await adapter.getByNameVersion(record.name, record.version), record, key(record));
    }
  });

  test("names and versions that differ only in letter case are different", async (adapter) => {
    const records = [
      makeModelRecord({ name: "alpha", version: "v1" }),
      makeModelRecord({ name: "Alpha", version: "v1" }),
      makeModelRecord({ name: "ALPHA", version: "v1" }),
      makeModelRecord({ name: "alpha", version: "V1" }),
    ];
    await insertAll(adapter, records);
    for (const record of records) {
      assertRecord(await adapter.getByNameVersion(record.name, record.version), record, key(record));
    }
  });

  test("(name, version) is compared exactly: no space padding, no Unicode normalization (rule 5)", async (adapter) => {
    const records = [
      makeModelRecord({ name: "café", version: "1.0" }),
      makeModelRecord({ name: "cafe\u0301", version: "1.0" }),
      makeModelRecord({ name: "café ", version: "1.0" }),
      makeModelRecord({ name: "café", version: "1.0 " }),
    ];
    await insertAll(adapter, records);
    for (const record of records) {
      assertRecord(
        await adapter.getByNameVersion(record.name, record.version),
        record,
        JSON.stringify([record.name, record.version]),
      );
    }
  });
}

/** Of concurrent inserts of one (name, version) exactly one is created (rule 1). */
function defineConcurrentInsertTests(test: TestFn): void {
  test("of 20 concurrent inserts of the same (name, version) exactly one is created", async (adapter) => {
    const records = Array.from({ length: 20 }, (_, i) =>
      makeModelRecord({ name: "race", version: "1.0.0", description: `contender ${i}` }),
    );
    const results = await Promise.all(records.map((r) => adapter.insert(r)));
    const created = results.flatMap((r, i) => (r.status === "created" ? [i] : []));
    assert.equal(
      created.length,
      1,
      `exactly one created, got ${JSON.stringify(results.map((r) => r.status))}`,
    );
    const winner = defined(records[defined(created[0], "created index")], "winner");
    for (const [i, result] of results.entries()) {
      if (i === created[0]) continue;
      assert.equal(result.status, "nameVersionTaken", `insert ${i}: ${JSON.stringify(result)}`);
      assert.equal(
        result.status === "nameVersionTaken" && result.existingId,
        winner.id,
        `insert ${i}: existingId`,
      );
    }
    assertRecord(await adapter.getByNameVersion("race", "1.0.0"), winner, "getByNameVersion");
    assert.deepEqual(keys(await listAll(adapter)), ["race@1.0.0"], "only one row is visible");
    const found = await adapter.getMany(records.map((r) => r.id));
    assert.deepEqual(
      found.map((r) => r.id),
      [winner.id],
      "getMany of every contender finds the winner only",
    );
  });
}
