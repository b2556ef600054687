import assert from "node:assert/strict";
import type { Cursor } from "../storage/adapter";
import { defined, keys } from "./assertions";
import { cursorOf, NAME_ASC, showOrder, sortRecords, walk } from "./expected-order";
import { f } from "./filter-cases";
import { insertFixture, MAIN_ROWS } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of `limit` and of listings with nothing to return. */
export function defineLimitTests(test: TestFn): void {
  defineLimitAndEmptyTests(test);
}

/** Limits of 1 and above the match count; empty stores, filters and cursors list `[]`. */
function defineLimitAndEmptyTests(test: TestFn): void {
  test("limit 1 returns exactly one record, and walks everything one by one", async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    const expected = sortRecords(fixture.values(), NAME_ASC);
    assert.deepEqual(keys(await adapter.list({ orderBy: NAME_ASC, limit: 1 })), keys(expected.slice(0, 1)));
    assert.deepEqual(keys(await walk(adapter, { orderBy: NAME_ASC, limit: 1 })), keys(expected));
  });

  test("a limit above the number of matches returns them all", async (adapter) => {
    await insertFixture(adapter, MAIN_ROWS);
    assert.equal((await adapter.list({ orderBy: NAME_ASC, limit: 11 })).length, 10);
    assert.equal((await adapter.list({ orderBy: NAME_ASC, limit: 1000 })).length, 10);
    assert.equal((await adapter.list({ filter: f.tag("prod"), orderBy: NAME_ASC, limit: 5 })).length, 4);
  });

  test("a filter that matches nothing returns []", async (adapter) => {
    await insertFixture(adapter, MAIN_ROWS);
    assert.deepEqual(
      await adapter.list({ filter: f.str("name", "=", "nothing"), orderBy: NAME_ASC, limit: 10 }),
      [],
    );
    assert.deepEqual(
      await adapter.list({
        filter: f.and(f.tag("prod"), f.not(f.tag("prod"))),
        orderBy: NAME_ASC,
        limit: 10,
      }),
      [],
    );
  });

  test("an empty storage lists []", async (adapter) => {
    assert.deepEqual(await adapter.list({ orderBy: NAME_ASC, limit: 10 }), []);
    assert.deepEqual(
      await adapter.list({
        orderBy: [{ field: "create_time", descending: true }],
        limit: 1,
        filter: f.tag("x"),
      }),
      [],
    );
  });

  test("a cursor at or past the last record returns []", async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    for (const orderBy of [NAME_ASC, [{ field: "update_time", descending: true }] as const]) {
      const last = defined(sortRecords(fixture.values(), orderBy).at(-1), "the last record");
      assert.deepEqual(
        await adapter.list({ orderBy, after: cursorOf(last, orderBy), limit: 5 }),
        [],
        showOrder(orderBy),
      );
    }
    const beyond: Cursor = { values: ["\uFFFF"], id: "ffffffff-ffff-ffff-ffff-ffffffffffff" };
    assert.deepEqual(
      await adapter.list({ orderBy: NAME_ASC, after: beyond, limit: 5 }),
      [],
      "a cursor past every name",
    );
  });
}
