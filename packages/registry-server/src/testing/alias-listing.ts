import assert from "node:assert/strict";
import type { AliasListQuery, StorageAdapter } from "../storage/adapter";
import { insertVersions, setOk } from "./alias-fixtures";
import { compareCodePoints } from "./expected-order";
import type { TestFn } from "./harness";

/** Model names whose order differs between code points and JavaScript's UTF-16 `<`. */
const NAMES = ["m\u{1F600}", "m\uFF5E", "a", "Z", "a-b", "ab"];
/** Aliases in code point order: `-` (2D) < `1` (31) < `_` (5F). */
const ALIASES = ["b_1", "b", "b1", "b-1"];

/** `[name, alias]` of every alias, in the contract's order: name, then alias, by code point. */
const EXPECTED = NAMES.flatMap((name) => ALIASES.map((alias) => [name, alias] as const)).sort(
  (a, b) => compareCodePoints(a[0], b[0]) || compareCodePoints(a[1], b[1]),
);

async function seed(adapter: StorageAdapter): Promise<void> {
  for (const name of NAMES) {
    await insertVersions(adapter, name, ["1.0.0"]);
    for (const alias of ALIASES) await setOk(adapter, { name, alias, version: "1.0.0" });
  }
}

/** Every page of a listing, `limit` at a time, each starting after the last of the previous one. */
async function pages(adapter: StorageAdapter, query: Omit<AliasListQuery, "limit">, limit: number) {
  const seen: (readonly [string, string])[] = [];
  for (let round = 0; round < 100; round++) {
    const page = await adapter.listAliases({ ...query, limit });
    assert.ok(page.length <= limit, `a page holds at most limit (${limit}) aliases, got ${page.length}`);
    seen.push(...page.map((a) => [a.name, a.alias] as const));
    const last = page.at(-1);
    if (page.length < limit || !last) return seen;
    query = { ...query, after: { name: last.name, alias: last.alias } };
  }
  throw new Error("listAliases paging did not end after 100 pages");
}

/** Registers the tests of listAliases: order, keyset paging, the name condition. */
export function defineAliasListingTests(test: TestFn): void {
  test("listAliases orders by name, then alias, by Unicode code point (not UTF-16), and pages by keyset", async (adapter) => {
    await seed(adapter);
    const all = await adapter.listAliases({ limit: 1000 });
    assert.deepEqual(
      all.map((a) => [a.name, a.alias]),
      EXPECTED,
      "every alias, ordered by (name, alias) by code point: U+FF5E sorts before U+1F600",
    );
    for (const limit of [1, 3, 4, 7]) {
      assert.deepEqual(
        await pages(adapter, {}, limit),
        EXPECTED,
        `pages of ${limit}, each after the previous last`,
      );
    }
    assert.deepEqual(await adapter.listAliases({ limit: 1, after: { name: "\u{10FFFF}", alias: "" } }), []);
  });

  test("listAliases with a name lists only that name's aliases, paged; unknown names list nothing", async (adapter) => {
    await seed(adapter);
    const ofA = EXPECTED.filter(([name]) => name === "a");
    const listed = await adapter.listAliases({ name: "a", limit: 100 });
    assert.deepEqual(
      listed.map((a) => [a.name, a.alias]),
      ofA,
      "only name `a` (not `a-b` or `ab`)",
    );
    assert.deepEqual(await pages(adapter, { name: "a" }, 2), ofA, "paged by 2");
    assert.deepEqual(await adapter.listAliases({ name: "nobody", limit: 10 }), []);
    const afterFirst = await adapter.listAliases({ name: "a", after: { name: "a", alias: "b" }, limit: 10 });
    assert.deepEqual(
      afterFirst.map((a) => a.alias),
      ["b-1", "b1", "b_1"],
      "strictly after (a, b)",
    );
  });

  test("listAliases paging: an alias deleted or added behind the cursor does not shift the next page", async (adapter) => {
    await seed(adapter);
    const first = await adapter.listAliases({ name: "ab", limit: 2 });
    assert.deepEqual(
      first.map((a) => a.alias),
      ["b", "b-1"],
    );
    const deleted = await adapter.deleteAlias({ name: "ab", alias: "b-1" });
    assert.equal(deleted.status, "deleted", JSON.stringify(deleted));
    await setOk(adapter, { name: "ab", alias: "a", version: "1.0.0" });
    const next = await adapter.listAliases({ name: "ab", after: { name: "ab", alias: "b-1" }, limit: 10 });
    assert.deepEqual(
      next.map((a) => a.alias),
      ["b1", "b_1"],
      "the page after a deleted alias starts after it",
    );
  });
}
