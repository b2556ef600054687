import { defineAliasCheckTests } from "./alias-checks";
import { defineAliasListingTests } from "./alias-listing";
import { defineAliasRaceTests } from "./alias-races";
import { defineAliasTests } from "./aliases";
import { defineCancellationTests } from "./cancellation";
import { defineBeforePrunedTest, defineChangeRevisionTests } from "./change-revisions";
import { defineChangeTests } from "./changes";
import { defineCrudTests } from "./crud";
import { defineDeadlineTests } from "./deadlines";
import { defineDeleteTests } from "./delete";
import { defineFilterTests } from "./filters";
import { defineForceDeleteTests } from "./force-delete";
import { makeClaimedTest, makeTest } from "./harness";
import { defineHistoryTests } from "./history";
import { defineLimitTests } from "./limits";
import { defineLineageTests } from "./lineage";
import { defineLostUpdateTests } from "./lost-updates";
import type { StorageConformanceOptions } from "./options";
import { defineOrderingTests } from "./ordering";
import { definePagingTests } from "./paging";
import { definePingCloseTests } from "./ping-close";
import { defineReplaceTests } from "./replace";
import { defineRequestIdTests } from "./request-ids";
import { defineRetentionTests } from "./retention";
import { defineTimeTravelTests } from "./time-travel";
import { defineUniquenessTests } from "./uniqueness";

// Re-exported by name for the package's own tests, which import the suite from here.
export { makeModelRecord } from "./fixtures";
export type { StorageConformanceOptions, StorageTestContext, StorageTestSettings } from "./options";

/**
 * Registers the storage conformance suite: one `describe` per rule of
 * `StorageAdapter` (CRUD, uniqueness, request ids, compare-and-swap, delete,
 * lost updates, change history, filters, ordering, keyset paging, limits,
 * ping and close, aliases with their policy checks and races, force delete,
 * time travel, the history's queries and actors, artifact digest and
 * lineage, retention), and one per capability (`deadlines`, `cancellation`),
 * whose tests run only on an adapter that claims it in
 * `adapter.capabilities` and are reported skipped otherwise. Every test gets
 * a fresh adapter from `createAdapter` and closes it (then calls
 * `destroyAdapter`) when it ends, pass or fail. Assertions use
 * `node:assert/strict`, so it runs under any framework that has `describe`
 * and `it`.
 *
 * @example
 * ```ts
 * // memory-storage.test.ts (vitest; jest and mocha alike)
 * import { createMemoryStorage } from "@modelreg/registry-server";
 * import { defineStorageConformanceSuite } from "@modelreg/registry-server/testing";
 * import { describe, it } from "vitest";
 *
 * defineStorageConformanceSuite({ name: "memory", describe, it, createAdapter: async () => createMemoryStorage() });
 * ```
 *
 * @example
 * ```ts
 * // With node:test, whose `it` takes options before the function:
 * import { describe, it } from "node:test";
 * import { createMemoryStorage } from "@modelreg/registry-server";
 * import { defineStorageConformanceSuite } from "@modelreg/registry-server/testing";
 *
 * defineStorageConformanceSuite({
 *   name: "memory",
 *   describe,
 *   it: (name, fn, timeout) => it(name, { timeout }, fn),
 *   createAdapter: async () => createMemoryStorage(),
 * });
 * ```
 */
export function defineStorageConformanceSuite(options: StorageConformanceOptions): void {
  const test = makeTest(options);
  const { describe } = options;

  describe(`storage conformance: ${options.name}`, () => {
    describe("CRUD", () => defineCrudTests(test));
    describe("uniqueness of (name, version)", () => defineUniquenessTests(test));
    describe("request ids", () => defineRequestIdTests(test));
    describe("replace (compare-and-swap)", () => defineReplaceTests(test));
    describe("delete", () => defineDeleteTests(test));
    describe("no lost update", () => defineLostUpdateTests(test));
    describe("change history", () => defineChangeTests(test));
    describe("change revisions and before (what the change feed relies on)", () => {
      defineChangeRevisionTests(test);
      defineBeforePrunedTest(makeTest(options, { retainChanges: 5, retainHistory: 5 }));
    });
    describe("filters", () => defineFilterTests(test));
    describe("ordering", () => defineOrderingTests(test));
    describe("keyset paging", () => definePagingTests(test));
    describe("limits and empty results", () => defineLimitTests(test));
    describe("ping and close", () => definePingCloseTests(test, options));
    describe("aliases (rule 9)", () => defineAliasTests(test));
    describe("alias listing", () => defineAliasListingTests(test));
    describe("alias policy checks (inside the move's transaction)", () => defineAliasCheckTests(test));
    describe("alias races (rule 9: exactly one winner)", () => defineAliasRaceTests(test));
    describe("force delete (rule 9)", () => defineForceDeleteTests(test));
    describe("time travel (resolveAlias with a read time)", () => defineTimeTravelTests(test));
    describe("history (listHistory, actors)", () => defineHistoryTests(test));
    describe("artifact digest and lineage", () => defineLineageTests(test));
    describe("retention (createAdapter gets retainChanges / retainHistory)", () =>
      defineRetentionTests((settings) => makeTest(options, settings)));
    describe("deadlines (capability: skipped unless capabilities.deadlines)", () =>
      defineDeadlineTests(makeClaimedTest(options, "deadlines")));
    describe("cancellation (capability: skipped unless capabilities.cancellation)", () =>
      defineCancellationTests(makeClaimedTest(options, "cancellation")));
  });
}
