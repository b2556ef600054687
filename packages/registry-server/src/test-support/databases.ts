import { Code, RegistryError } from "@modelreg/proto";
import { expect } from "vitest";
import { until } from "../../../../test-support/waiting";
import type { ModelRecord, StorageAdapter } from "../storage/adapter";
import { makeModelRecord } from "../testing/conformance";
/** Asserts that `promise` rejects with a RegistryError whose code is UNAVAILABLE. */
export async function expectUnavailable(promise: Promise<unknown>, what: string): Promise<void> {
  const error = await promise.then(
    () => new Error(`${what} resolved`),
    (e: unknown) => e,
  );
  expect(error, what).toBeInstanceOf(RegistryError);
  expect((error as RegistryError).code, what).toBe(Code.UNAVAILABLE);
}

/** Asserts that every StorageAdapter method rejects UNAVAILABLE (the database is gone). */
export async function expectEveryMethodUnavailable(
  adapter: StorageAdapter,
  record: ModelRecord,
): Promise<void> {
  await expectUnavailable(adapter.ping(), "ping");
  await expectUnavailable(adapter.insert(makeModelRecord()), "insert");
  await expectUnavailable(adapter.get(record.id), "get");
  await expectUnavailable(adapter.getByNameVersion(record.name, record.version), "getByNameVersion");
  await expectUnavailable(adapter.getMany([record.id]), "getMany");
  await expectUnavailable(
    adapter.list({ orderBy: [{ field: "name", descending: false }], limit: 5 }),
    "list",
  );
  await expectUnavailable(adapter.replace({ ...record, revision: 2 }, 1), "replace");
  await expectUnavailable(adapter.delete(record.id), "delete");
  await expectUnavailable(adapter.delete(record.id, undefined, { force: true }), "delete (force)");
  await expectEveryAliasAndHistoryMethodUnavailable(adapter, record);
}

/** The alias, history and change feed methods of {@link expectEveryMethodUnavailable}. */
async function expectEveryAliasAndHistoryMethodUnavailable(
  adapter: StorageAdapter,
  record: ModelRecord,
): Promise<void> {
  const { name, version } = record;
  await expectUnavailable(adapter.setAlias({ name, alias: "champion", version }), "setAlias");
  await expectUnavailable(
    adapter.setAlias({ name, alias: "champion", version, check: async () => undefined }),
    "setAlias (policy-checked)",
  );
  await expectUnavailable(adapter.getAlias(name, "champion"), "getAlias");
  await expectUnavailable(adapter.listAliases({ name, limit: 5 }), "listAliases (one name)");
  await expectUnavailable(
    adapter.listAliases({ after: { name, alias: "a" }, limit: 5 }),
    "listAliases (every name, past a cursor)",
  );
  await expectUnavailable(adapter.deleteAlias({ name, alias: "champion" }), "deleteAlias");
  await expectUnavailable(adapter.resolveAlias(name, "champion"), "resolveAlias");
  await expectUnavailable(
    adapter.resolveAlias(name, "champion", Date.now() * 1000),
    "resolveAlias (readTime)",
  );
  await expectUnavailable(adapter.listHistory({ limit: 5 }), "listHistory");
  await expectUnavailable(adapter.listHistory({ name, fromTime: 0, limit: 5 }), "listHistory (a window)");
  await expectUnavailable(adapter.readChanges(0, 5), "readChanges");
}

/** How a test holds and releases a row lock from another session, and sees our statement wait for it. */
export interface RowLocker {
  /** Begins a transaction in the other session and locks the model's row (`SELECT ... FOR UPDATE`). */
  lock(id: string): Promise<void>;
  /** Rolls that transaction back, releasing the lock. */
  release(): Promise<void>;
  /** How many of the adapter's statements wait for a lock now. */
  waiting(): Promise<number>;
}

/**
 * A replace (with a far-off deadline too: the abort, not the time limit,
 * stops it) and a delete, each waiting behind another session's row lock
 * when its signal aborts: once the lock is freed the call fails CANCELLED,
 * and neither the row nor the change history changed.
 */
export async function expectAbortWhileLockedCommitsNothing(
  adapter: StorageAdapter,
  locker: RowLocker,
): Promise<void> {
  const record = makeModelRecord({ tags: ["t"], metadata: { k: "v" }, description: "before" });
  expect(await adapter.insert(record)).toEqual({ status: "created", revision: expect.any(Number) });
  const history = await adapter.readChanges(0, 10);
  const writes = [
    [
      "replace",
      (signal: AbortSignal) =>
        adapter.replace({ ...record, revision: 2, description: "after", tags: ["u"] }, 1, {
          signal,
          deadline: Date.now() + 60_000,
        }),
    ],
    ["delete", (signal: AbortSignal) => adapter.delete(record.id, 1, { signal })],
  ] as const;
  for (const [what, write] of writes) {
    await locker.lock(record.id);
    const controller = new AbortController();
    const outcome = write(controller.signal).catch((e: unknown) => e);
    await until(async () => (await locker.waiting()) === 1, `the ${what} waits for the row`);
    controller.abort();
    // The statement that waits finishes once the lock is freed; the next one is never sent.
    await locker.release();
    const error = await outcome;
    expect(error, what).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code, what).toBe(Code.CANCELLED);
    expect(await adapter.get(record.id), `${what}: the row is unchanged`).toEqual(record);
    expect(await adapter.readChanges(0, 10), `${what}: no change was recorded`).toEqual(history);
  }
}
