import { Code, RegistryError } from "@modelreg/proto";
import { expect } from "vitest";
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
}
