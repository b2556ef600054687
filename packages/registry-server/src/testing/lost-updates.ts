import assert from "node:assert/strict";
import type { ModelRecord } from "../storage/adapter";
import { defined } from "./assertions";
import { insertAll, makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests that concurrent read-modify-write loops lose nothing and reads are consistent (rule 1). */
export function defineLostUpdateTests(test: TestFn): void {
  defineConsistencyTests(test);
}

/** Retried compare-and-swap loses no update; a read sees one revision whole. */
function defineConsistencyTests(test: TestFn): void {
  test("10 concurrent read-modify-write loops (get + replace, retried on conflict) lose no update", async (adapter) => {
    const record = makeModelRecord({ tags: [] });
    await insertAll(adapter, [record]);
    const addTag = async (tag: string): Promise<void> => {
      for (let attempt = 0; attempt < 1000; attempt++) {
        const current = defined(await adapter.get(record.id), "the record");
        const next: ModelRecord = {
          ...current,
          tags: [...current.tags, tag].sort(),
          revision: current.revision + 1,
          updateTime: current.updateTime + 1,
        };
        const result = await adapter.replace(next, current.revision);
        if (result.status === "ok") return;
        assert.equal(result.status, "conflict", `adding ${tag}: ${JSON.stringify(result)}`);
      }
      assert.fail(`adding ${tag}: still conflicting after 1000 attempts`);
    };
    const tags = Array.from({ length: 10 }, (_, i) => `tag-${i}`);
    await Promise.all(tags.map(addTag));
    const final = defined(await adapter.get(record.id), "the record");
    assert.deepEqual([...final.tags], tags, "every writer's tag is there");
    assert.equal(final.revision, 11, "one revision per write");
    assert.equal(final.updateTime, record.updateTime + 10);
  });

  test("a read never mixes a record's fields with the tags or metadata of another revision", async (adapter) => {
    const revisionOf = (r: number) => ({ description: `r${r}`, tags: [`r${r}`], metadata: { r: `r${r}` } });
    const record = makeModelRecord(revisionOf(1));
    await insertAll(adapter, [record]);
    let writing = true;
    const writer = (async () => {
      try {
        for (let r = 2; r <= 40; r++) {
          const result = await adapter.replace({ ...record, ...revisionOf(r), revision: r }, r - 1);
          assert.equal(result.status, "ok", `replace to revision ${r}`);
        }
      } finally {
        writing = false;
      }
    })();
    const reader = async () => {
      let reads = 0;
      while (writing || reads === 0) {
        const [one] = await Promise.all([adapter.get(record.id), adapter.getMany([record.id])]);
        const [many] = await adapter.list({ orderBy: [{ field: "name", descending: false }], limit: 1 });
        for (const seen of [one, ...(await adapter.getMany([record.id])), many]) {
          const read = defined(seen, "the record");
          const expected = revisionOf(read.revision);
          assert.deepEqual(
            { description: read.description, tags: [...read.tags], metadata: { ...read.metadata } },
            expected,
            `a read of revision ${read.revision} is that revision's content`,
          );
        }
        reads++;
      }
    };
    await Promise.all([writer, reader(), reader()]);
  });
}
