import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { OrderTerm } from "../storage/adapter";
import { keys } from "./assertions";
import { compareCodePoints, listAll, NAME_ASC, ORDER_FIELDS, showOrder, sortRecords } from "./expected-order";
import { insertAll, insertFixture, MAIN_ROWS, makeModelRecord, T0 } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of `list` order: every field, both directions, ties by id (rule 5). */
export function defineOrderingTests(test: TestFn): void {
  defineOrderByTests(test);
  defineStringOrderTests(test);
}

/** Every `orderBy` term and combination, ties broken by id, and a limit taking the first records. */
function defineOrderByTests(test: TestFn): void {
  for (const field of ORDER_FIELDS) {
    orderTest(test, [{ field, descending: false }]);
    orderTest(test, [{ field, descending: true }]);
  }
  orderTest(test, [
    { field: "framework", descending: false },
    { field: "create_time", descending: true },
  ]);
  orderTest(test, [
    { field: "version", descending: true },
    { field: "name", descending: false },
  ]);
  orderTest(test, [
    { field: "update_time", descending: true },
    { field: "framework", descending: true },
    { field: "name", descending: false },
  ]);

  test("ties are broken by id ascending, whatever the direction", async (adapter) => {
    const ids = Array.from({ length: 6 }, () => randomUUID()).sort();
    const records = ids.map((id, i) =>
      makeModelRecord({
        id,
        name: "tie",
        version: `v${5 - i}`,
        framework: "same",
        createTime: T0,
        updateTime: T0,
      }),
    );
    await insertAll(adapter, [...records].reverse());
    for (const field of ["name", "framework", "create_time", "update_time"] as const) {
      for (const descending of [false, true]) {
        const listed = await listAll(adapter, [{ field, descending }]);
        assert.deepEqual(
          listed.map((r) => r.id),
          ids,
          `order by ${field}${descending ? " desc" : ""}: ids ascending`,
        );
      }
    }
  });

  test("limit returns the first records of the order", async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    for (const orderBy of [NAME_ASC, [{ field: "create_time", descending: true }] as const]) {
      const expected = sortRecords(fixture.values(), orderBy);
      for (const limit of [1, 4, 9, 10]) {
        const page = await adapter.list({ orderBy, limit });
        assert.deepEqual(keys(page), keys(expected.slice(0, limit)), `${showOrder(orderBy)}, limit ${limit}`);
      }
    }
  });
}

/** Strings order by code point, not by UTF-16 code unit (rule 5). */
function defineStringOrderTests(test: TestFn): void {
  test("orders ASCII strings by code unit: digits < upper case < _ < lower case", async (adapter) => {
    const names = [
      "beta",
      "Beta",
      "Zeta",
      "alpha",
      "aB",
      "a_b",
      "a-b",
      "a.b",
      "a/b",
      "0day",
      "9lives",
      "Alpha",
    ];
    await insertAll(
      adapter,
      names.map((name) => makeModelRecord({ name })),
    );
    assert.deepEqual(
      (await listAll(adapter)).map((r) => r.name),
      [...names].sort(),
    );
    assert.deepEqual(
      (await listAll(adapter, [{ field: "name", descending: true }])).map((r) => r.name),
      [...names].sort().reverse(),
    );
  });

  test("orders non-ASCII strings by code point, not UTF-16 code units (rule 5)", async (adapter) => {
    const names = ["z", "\uFF21", "😀", "a", "é", "\uFB01", "𝄞"];
    await insertAll(
      adapter,
      names.map((name) => makeModelRecord({ name })),
    );
    const expected = [...names].sort(compareCodePoints);
    const actual = (await listAll(adapter)).map((r) => r.name);
    assert.deepEqual(actual, expected, `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  });
}

/** Registers a test that the {@link MAIN_ROWS} fixture lists in `orderBy`'s order. */
function orderTest(test: TestFn, orderBy: readonly OrderTerm[]): void {
  test(`orders by ${showOrder(orderBy)}, ties by id ascending`, async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    const expected = sortRecords(fixture.values(), orderBy);
    assert.deepEqual(keys(await listAll(adapter, orderBy)), keys(expected));
  });
}
