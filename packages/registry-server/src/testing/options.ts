import type { StorageAdapter } from "../storage/adapter";

/**
 * What the suite uses of the context your framework passes to a test
 * function: vitest's `ctx`, node:test's `t`. Frameworks that pass none (jest,
 * mocha) leave it `undefined`.
 */
export interface StorageTestContext {
  /**
   * Marks the running test skipped, with a note: vitest's `ctx.skip` (which
   * throws to stop the test), node:test's `t.skip` (which returns; the suite
   * then returns too).
   */
  readonly skip?: ((note?: string) => void) | undefined;
}

/**
 * What a test asks of the adapter `createAdapter` makes: the retention tests
 * ask for small windows. Pass both on to the adapter's options of the same
 * names (`createMemoryStorage`, `createSqliteStorage`, ... take them); an
 * adapter that ignores them fails the retention tests, which say so.
 */
export interface StorageTestSettings {
  /** The adapter's `retainChanges`; absent: its default. */
  readonly retainChanges?: number | undefined;
  /** The adapter's `retainHistory`; absent: its default (keep every entry). */
  readonly retainHistory?: number | undefined;
}

/**
 * Options of `defineStorageConformanceSuite`. `describe` and `it` come from
 * your test framework; the suite itself imports none.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
 * import {
 *   defineStorageConformanceSuite,
 *   type StorageAdapter,
 *   type StorageConformanceOptions,
 * } from "@modelreg/registry-server/testing";
 * import { describe, it } from "vitest";
 *
 * const directories = new WeakMap<StorageAdapter, string>();
 * const options: StorageConformanceOptions = {
 *   name: "sqlite",
 *   describe,
 *   it,
 *   createAdapter: async (settings) => {
 *     const directory = mkdtempSync(join(tmpdir(), "conformance-"));
 *     const adapter = await createSqliteStorage({ path: join(directory, "registry.db"), ...settings });
 *     directories.set(adapter, directory);
 *     return adapter;
 *   },
 *   destroyAdapter: async (adapter) => {
 *     const directory = directories.get(adapter);
 *     if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
 *   },
 *   timeoutMs: 60_000,
 * };
 * defineStorageConformanceSuite(options);
 * ```
 */
export interface StorageConformanceOptions {
  /** Names the suite in the test report, e.g. `"memory"` or `"postgres"`. */
  readonly name: string;
  /** Your framework's `describe` (vitest, jest, mocha, `node:test`). */
  readonly describe: (name: string, fn: () => void) => void;
  /**
   * Your framework's `it`; the third argument is a timeout in milliseconds.
   * The suite hands the test context on to `fn` when the framework passes
   * one, so that tests of a capability the adapter does not claim are marked
   * skipped. `fn` declares no parameter (`fn.length` is 0), so jest and mocha
   * do not take it for a callback-style test.
   */
  readonly it: (
    name: string,
    fn: (context?: StorageTestContext) => Promise<void>,
    timeoutMs?: number,
  ) => void;
  /**
   * Creates a fresh, empty adapter. Called once per test: no state is shared
   * between tests. `settings` is absent except in the retention tests, which
   * ask for small `retainChanges` / `retainHistory` windows: pass them on.
   */
  readonly createAdapter: (settings?: StorageTestSettings) => Promise<StorageAdapter>;
  /**
   * Removes what `createAdapter` made (a database file, a schema). Called at
   * the end of every test, after `adapter.close()`, whether the test passed or not.
   */
  readonly destroyAdapter?: ((adapter: StorageAdapter) => Promise<void>) | undefined;
  /** Timeout passed to every `it`, in milliseconds. Default 30 000. */
  readonly timeoutMs?: number | undefined;
}
