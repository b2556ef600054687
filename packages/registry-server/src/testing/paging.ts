import assert from "node:assert/strict";
import type { Cursor, ModelRecord, OrderTerm } from "../storage/adapter";
import { defined, keys, withoutRevision } from "./assertions";
import { compareRecords, cursorOf, listAll, NAME_ASC, showOrder, sortRecords, walk } from "./expected-order";
import { f } from "./filter-cases";
import { insertAll, insertFixture, MAIN_ROWS, makeModelRecord, T0 } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of keyset paging: `after` cursors, ties, and pages that stay put under concurrent writes. */
export function definePagingTests(test: TestFn): void {
  defineWalkTests(test);
  defineStabilityTests(test);
}

/** Walks every page of every order, filtered, through ties and past a deleted cursor. */
function defineWalkTests(test: TestFn): void {
  walkTest(test, NAME_ASC);
  walkTest(test, [{ field: "name", descending: true }]);
  walkTest(test, [{ field: "version", descending: false }]);
  walkTest(test, [{ field: "framework", descending: true }]);
  walkTest(test, [{ field: "create_time", descending: false }]);
  walkTest(test, [{ field: "update_time", descending: true }]);
  walkTest(test, [
    { field: "framework", descending: false },
    { field: "create_time", descending: true },
  ]);
  walkTest(test, [
    { field: "version", descending: true },
    { field: "name", descending: false },
  ]);
  walkTest(test, [{ field: "create_time", descending: true }], 1);

  test("walks a filtered listing", async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    const filter = f.or(f.tag("prod"), f.str("framework", "=", "pytorch"));
    const orderBy: readonly OrderTerm[] = [{ field: "create_time", descending: true }];
    const matching = ["a1", "a2", "beta", "resnet", "omega", "zeta"].map((l) => defined(fixture.get(l), l));
    const walked = await walk(adapter, { filter, orderBy, limit: 2 });
    assert.deepEqual(keys(walked), keys(sortRecords(matching, orderBy)));
  });

  test("pages through long runs of ties using the id", async (adapter) => {
    const records = Array.from({ length: 8 }, (_, i) =>
      makeModelRecord({ name: `tied-${i}`, framework: "same", createTime: T0, updateTime: T0 + (i % 2) }),
    );
    await insertAll(adapter, records);
    const orders: (readonly OrderTerm[])[] = [
      [{ field: "framework", descending: false }],
      [{ field: "create_time", descending: true }],
      [
        { field: "update_time", descending: false },
        { field: "framework", descending: true },
      ],
    ];
    for (const orderBy of orders) {
      const walked = await walk(adapter, { orderBy, limit: 3 });
      assert.deepEqual(keys(walked), keys(sortRecords(records, orderBy)), showOrder(orderBy));
    }
  });

  test("a cursor still works after its record is deleted", async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    const orderBy: readonly OrderTerm[] = [{ field: "update_time", descending: false }];
    const expected = sortRecords(fixture.values(), orderBy);
    const first = await adapter.list({ orderBy, limit: 3 });
    assert.deepEqual(keys(first), keys(expected.slice(0, 3)));
    const last = defined(first.at(-1), "the last record of page 1");
    assert.deepEqual(withoutRevision(await adapter.delete(last.id)), { status: "ok" });
    const second = await adapter.list({ orderBy, after: cursorOf(last, orderBy), limit: 3 });
    assert.deepEqual(keys(second), keys(expected.slice(3, 6)));
  });

  /**
   * Walks with limit 3 while, after every page, records are inserted that
   * sort before, at (a tie) and after the cursor, and a record not yet seen
   * is deleted (and, after page 2, the cursor's own record). A keyset walk
   * returns exactly: the records present throughout, plus those inserted
   * after the position at the time, each once, in order.
   */
}

/** Inserts and deletes around the position never shift a page boundary. */
function defineStabilityTests(test: TestFn): void {
  stabilityTest(
    test,
    NAME_ASC,
    () => Array.from({ length: 12 }, (_, i) => makeModelRecord({ name: `m-${String(i).padStart(2, "0")}` })),
    (cursor, step) => [
      makeModelRecord({ name: `a-${step}` }),
      makeModelRecord({ name: `z-${step}` }),
      makeModelRecord({ name: cursor.name, version: `tie-${step}` }),
    ],
  );

  stabilityTest(
    test,
    [{ field: "update_time", descending: true }],
    () =>
      Array.from({ length: 12 }, (_, i) =>
        makeModelRecord({ name: `u-${String(i).padStart(2, "0")}`, updateTime: T0 + 1_000 * (i + 1) }),
      ),
    (cursor, step) => [
      makeModelRecord({ name: `newest-${step}`, updateTime: T0 + 1_000_000 + step }),
      makeModelRecord({ name: `oldest-${step}`, updateTime: T0 - 1_000_000 - step }),
      makeModelRecord({ name: `tie-${step}`, updateTime: cursor.updateTime }),
    ],
  );
}

/** Registers a test that walking every page with `limit` returns the {@link MAIN_ROWS} fixture in order. */
function walkTest(test: TestFn, orderBy: readonly OrderTerm[], limit = 3): void {
  test(`walks every page with limit ${limit}: ${showOrder(orderBy)}`, async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    const expected = sortRecords(fixture.values(), orderBy);
    assert.deepEqual(keys(await listAll(adapter, orderBy)), keys(expected), "the full list");
    const pages: ModelRecord[][] = [];
    let after: Cursor | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await adapter.list({ orderBy, after, limit });
      pages.push(page);
      const last = page.at(-1);
      if (page.length < limit || last === undefined) break;
      after = cursorOf(last, orderBy);
    }
    assert.deepEqual(
      pages.map(keys),
      Array.from({ length: Math.floor(expected.length / limit) + 1 }, (_, i) =>
        keys(expected.slice(i * limit, (i + 1) * limit)),
      ),
      "pages",
    );
  });
}

/** What a walk under concurrent writes saw and did. */
interface ChurnedWalk {
  readonly originals: readonly ModelRecord[];
  readonly walked: readonly ModelRecord[];
  readonly deleted: ReadonlySet<string>;
  readonly inserted: readonly { readonly record: ModelRecord; readonly after: boolean }[];
}

/**
 * Walks with limit 3 while, after every page, records are inserted that
 * sort before, at (a tie) and after the cursor, and a record not yet seen
 * is deleted (and, after page 2, the cursor's own record). A keyset walk
 * returns exactly: the records present throughout, plus those inserted
 * after the position at the time, each once, in order.
 */
function stabilityTest(
  test: TestFn,
  orderBy: readonly OrderTerm[],
  initial: () => ModelRecord[],
  around: (cursor: ModelRecord, step: number) => ModelRecord[],
): void {
  test(`page stability under concurrent inserts and deletes: ${showOrder(orderBy)}`, async (adapter) => {
    const originals = initial();
    await insertAll(adapter, originals);
    const deleted = new Set<string>();
    const inserted: { readonly record: ModelRecord; readonly after: boolean }[] = [];
    const walked = await walk(adapter, { orderBy, limit: 3 }, async (cursor, step) => {
      for (const record of around(cursor, step)) {
        await insertAll(adapter, [record]);
        inserted.push({ record, after: compareRecords(record, cursor, orderBy) > 0 });
      }
      const ahead = sortRecords(
        originals.filter((r) => !deleted.has(r.id) && compareRecords(r, cursor, orderBy) > 0),
        orderBy,
      );
      const victim = ahead[1] ?? ahead[0];
      if (victim) {
        assert.deepEqual(withoutRevision(await adapter.delete(victim.id)), { status: "ok" });
        deleted.add(victim.id);
      }
      if (step === 1) {
        assert.deepEqual(withoutRevision(await adapter.delete(cursor.id)), { status: "ok" });
        deleted.add(cursor.id);
      }
    });
    assertStableWalk({ originals, walked, deleted, inserted }, orderBy);
  });
}

/** Asserts the walk returned exactly what a keyset walk must (see {@link stabilityTest}). */
function assertStableWalk(churn: ChurnedWalk, orderBy: readonly OrderTerm[]): void {
  const { originals, walked, deleted, inserted } = churn;
  assert.ok(
    inserted.some((i) => i.after) && inserted.some((i) => !i.after),
    "the test inserted records both before and after the position",
  );
  const seenIds = walked.map((r) => r.id);
  assert.equal(
    new Set(seenIds).size,
    seenIds.length,
    `no record is returned twice: ${keys(walked).join(", ")}`,
  );
  const expectedIds = new Set([
    ...originals.filter((r) => !deleted.has(r.id) || walked.some((w) => w.id === r.id)).map((r) => r.id),
    ...inserted.filter((i) => i.after).map((i) => i.record.id),
  ]);
  const stable = originals.filter((r) => !deleted.has(r.id));
  const missing = stable.filter((r) => !seenIds.includes(r.id));
  assert.deepEqual(keys(missing), [], "records present for the whole walk that were skipped");
  const expected = sortRecords(
    [...originals, ...inserted.map((i) => i.record)].filter((r) => expectedIds.has(r.id)),
    orderBy,
  );
  assert.deepEqual(keys(walked), keys(expected), "the walk, in order");
}
