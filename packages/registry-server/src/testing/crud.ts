import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { ModelRecord } from "../storage/adapter";
import { assertRecord, defined, plain, scribble, withoutRevision } from "./assertions";
import { listAll, NAME_ASC } from "./expected-order";
import { f } from "./filter-cases";
import { insertAll, makeModelRecord, T0 } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of inserts and reads: every field stored exactly (rules 2, 4, 5). */
export function defineCrudTests(test: TestFn): void {
  defineRoundTripTests(test);
  defineEdgeValueTests(test);
  defineLookupTests(test);
  defineFreshObjectTests(test);
}

/** A record comes back from every read exactly as written, whatever its text. */
function defineRoundTripTests(test: TestFn): void {
  test("insert then get returns an equal record", async (adapter) => {
    const record = makeModelRecord({
      name: "resnet-50",
      version: "2.1.0",
      framework: "pytorch",
      description:
        "Image classifier.\nLine two: \"quotes\", 'apostrophes', \\backslashes\\, tabs\tand %_ wildcards.",
      tags: ["A-team", "cv", "prod", "vision"],
      metadata: { dataset: "imagenet-1k", "train.epochs": "90", "owner/team": "vision", json: '{"a":[1,2]}' },
      artifactUri: "s3://models/resnet-50/2.1.0/model.onnx?versionId=3&x=%20",
      createTime: T0 + 123_456,
      updateTime: T0 + 987_654,
    });
    const result = await adapter.insert(record);
    assert.equal(result.status, "created", JSON.stringify(result));
    assertRecord(await adapter.get(record.id), record, "get");
    assertRecord(await adapter.getByNameVersion(record.name, record.version), record, "getByNameVersion");
    const [listed] = await listAll(adapter);
    assertRecord(listed, record, "list");
  });

  test("stores non-ASCII text, including 4-byte UTF-8, exactly in every string field (rule 5)", async (adapter) => {
    const record = makeModelRecord({
      name: "模型-😀",
      version: "βeta-𝟙",
      framework: "фреймворк",
      description: "Ünïcödé — 日本語 — 😀🎉👩‍👩‍👧 — 𝄞 — é vs e\u0301 — שלום — zero\u200bwidth — \u{10FFFF}",
      tags: ["ταγ", "😀", "𝄞"].sort(),
      metadata: { ключ: "значение", emoji: "😀🎉", "😀": "an emoji key", nfd: "e\u0301", nfc: "é" },
      artifactUri: "s3://bücket/😀/modèle.onnx",
    });
    assert.equal((await adapter.insert(record)).status, "created");
    const stored = await adapter.get(record.id);
    assertRecord(stored, record, "get");
    assert.equal(stored?.description.length, record.description.length, "no characters added or lost");
    assertRecord(await adapter.getByNameVersion("模型-😀", "βeta-𝟙"), record, "getByNameVersion");
    assertRecord(
      (await listAll(adapter, NAME_ASC, f.str("name", "=", "模型-😀")))[0],
      record,
      'list with filter name = "模型-😀"',
    );
  });
}

/** Empty values and values at the service's size limits are stored exactly. */
function defineEdgeValueTests(test: TestFn): void {
  test("stores empty strings, no tags, no metadata and surrounding spaces exactly", async (adapter) => {
    const empty = makeModelRecord({
      framework: "",
      description: "",
      artifactUri: "",
      tags: [],
      metadata: {},
    });
    const spaced = makeModelRecord({
      framework: "",
      description: "  padded with spaces  ",
      metadata: { empty: "", space: " ", trailing: "x  " },
    });
    await insertAll(adapter, [empty, spaced]);
    assertRecord(await adapter.get(empty.id), empty, "get of the empty record");
    assertRecord(await adapter.get(spaced.id), spaced, "get of the spaced record");
  });

  test("stores values at the service's size limits", async (adapter) => {
    const record = makeModelRecord({
      name: `n${"a".repeat(127)}`,
      version: `v${"1".repeat(63)}`,
      framework: `f${"x".repeat(63)}`,
      description: "é😀".repeat(2048),
      tags: Array.from({ length: 64 }, (_, i) => `t${String(i).padStart(2, "0")}`.padEnd(64, "x")).sort(),
      metadata: Object.fromEntries(
        Array.from({ length: 64 }, (_, i) => [
          `k${String(i).padStart(2, "0")}`.padEnd(128, "k"),
          "😀".repeat(1024),
        ]),
      ),
      artifactUri: `s3://bucket/${"a".repeat(2048 - 12)}`,
    });
    assert.equal((await adapter.insert(record)).status, "created");
    assertRecord(await adapter.get(record.id), record, "get");
  });
}

/** Lookups find exactly what exists and never throw for what does not (rule 2). */
function defineLookupTests(test: TestFn): void {
  test("lookups of something absent return undefined or leave it out, never throw (rule 2)", async (adapter) => {
    const record = makeModelRecord({ name: "present", version: "1.0.0" });
    await insertAll(adapter, [record]);
    assert.equal(await adapter.get(randomUUID()), undefined, "get of an unknown UUID");
    assert.equal(await adapter.get("not-a-uuid"), undefined, "get of an id that is not a UUID");
    assert.equal(await adapter.getByNameVersion("absent", "1.0.0"), undefined, "unknown name");
    assert.equal(
      await adapter.getByNameVersion("present", "2.0.0"),
      undefined,
      "known name, unknown version",
    );
    assert.equal(await adapter.getByNameVersion("absent", "1.0.0"), undefined, "unknown name, known version");
    assert.deepEqual(await adapter.getMany([randomUUID(), "not-a-uuid"]), [], "getMany of unknown ids");
    assert.deepEqual(await adapter.delete("not-a-uuid"), { status: "notFound" }, "delete of a non-UUID id");
    const ghost = { ...makeModelRecord({ id: "not-a-uuid" }), revision: 2 };
    assert.deepEqual(await adapter.replace(ghost, 1), { status: "notFound" }, "replace of a non-UUID id");
  });

  test("getByNameVersion finds the record with exactly that (name, version)", async (adapter) => {
    const v1 = makeModelRecord({ name: "bert", version: "1.0.0", framework: "pytorch" });
    const v2 = makeModelRecord({ name: "bert", version: "2.0.0", framework: "onnx" });
    const other = makeModelRecord({ name: "gpt", version: "1.0.0" });
    await insertAll(adapter, [v1, v2, other]);
    assertRecord(await adapter.getByNameVersion("bert", "1.0.0"), v1, "bert@1.0.0");
    assertRecord(await adapter.getByNameVersion("bert", "2.0.0"), v2, "bert@2.0.0");
    assertRecord(await adapter.getByNameVersion("gpt", "1.0.0"), other, "gpt@1.0.0");
    assert.equal(await adapter.getByNameVersion("gpt", "2.0.0"), undefined, "gpt@2.0.0");
    assert.equal(await adapter.getByNameVersion("bert", "1.0"), undefined, "no partial match of the version");
    assert.equal(await adapter.getByNameVersion("ber", "1.0.0"), undefined, "no partial match of the name");
  });

  test("getMany returns the existing records only, each once, even when ids repeat", async (adapter) => {
    const [a, b, c] = [makeModelRecord(), makeModelRecord(), makeModelRecord()];
    await insertAll(adapter, [a, b, c]);
    const missing = randomUUID();
    const found = await adapter.getMany([a.id, missing, a.id, b.id, b.id, missing]);
    assert.deepEqual(found.map((r) => r.id).sort(), [a.id, b.id].sort(), "ids returned by getMany");
    for (const record of found) assertRecord(record, record.id === a.id ? a : b, "getMany");
    assert.deepEqual(await adapter.getMany([]), [], "getMany([])");
    const [onlyC, ...rest] = await adapter.getMany([c.id]);
    assertRecord(onlyC, c, "getMany([c])");
    assert.equal(rest.length, 0, "getMany([c]) returns one record");
  });
}

/** Reads return complete, fresh records that never alias stored state (rule 4). */
function defineFreshObjectTests(test: TestFn): void {
  test("list returns the same complete records as get", async (adapter) => {
    const records = [
      makeModelRecord({ name: "l-a", tags: ["x", "y"], metadata: { k: "v", e: "" }, description: "first" }),
      makeModelRecord({ name: "l-b", framework: "", artifactUri: "" }),
      makeModelRecord({ name: "l-c", metadata: { "a.b": "c" }, createTime: T0, updateTime: T0 + 999_999 }),
    ];
    await insertAll(adapter, records);
    const listed = await listAll(adapter);
    assert.equal(listed.length, 3);
    for (const [i, record] of records.entries()) assertRecord(listed[i], record, `list[${i}]`);
  });

  test("returned records are fresh objects: mutating them does not change storage (rule 4)", async (adapter) => {
    const record = makeModelRecord({
      tags: ["a", "b"],
      metadata: { k: "v", other: "w" },
      description: "kept",
    });
    await insertAll(adapter, [record]);
    const first = defined(await adapter.get(record.id), "get");
    const second = defined(await adapter.get(record.id), "get");
    assert.notEqual(first, second, "two gets return different objects");
    assert.notEqual(first.tags, second.tags, "two gets return different tag arrays");
    assert.notEqual(first.metadata, second.metadata, "two gets return different metadata objects");
    const readers: [string, () => Promise<ModelRecord | undefined>][] = [
      ["get", () => adapter.get(record.id)],
      ["getByNameVersion", () => adapter.getByNameVersion(record.name, record.version)],
      ["getMany", async () => (await adapter.getMany([record.id]))[0]],
      ["list", async () => (await listAll(adapter))[0]],
    ];
    for (const [reader, read] of readers) {
      scribble(defined(await read(), reader));
      assertRecord(await adapter.get(record.id), record, `after mutating the result of ${reader}`);
    }
  });

  test("mutating a record after passing it to insert or replace does not change storage (rule 4)", async (adapter) => {
    const input = makeModelRecord({ tags: ["a", "b"], metadata: { k: "v" }, description: "original" });
    const snapshot = plain(input);
    await insertAll(adapter, [input]);
    scribble(input);
    assertRecord(await adapter.get(snapshot.id), snapshot, "after mutating the inserted record");

    const next: ModelRecord = {
      ...snapshot,
      tags: ["c"],
      metadata: { k: "w" },
      revision: 2,
      updateTime: snapshot.updateTime + 1,
    };
    const nextSnapshot = plain(next);
    assert.deepEqual(withoutRevision(await adapter.replace(next, 1)), { status: "ok" });
    scribble(next);
    assertRecord(await adapter.get(snapshot.id), nextSnapshot, "after mutating the replacing record");
  });
}
