import assert from "node:assert/strict";
import { Code, RegistryError } from "@modelreg/proto";
import { copyLineage, type ModelRecord } from "../storage/adapter";

/** `T` with its `readonly` fields writable: for tests that scribble on records. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const RECORD_KEYS: readonly string[] = [
  "artifactDigest",
  "artifactUri",
  "createTime",
  "description",
  "framework",
  "id",
  "lineage",
  "metadata",
  "name",
  "revision",
  "tags",
  "updateTime",
  "version",
];

/** `value`, asserted present. */
export function defined<T>(value: T | undefined, what: string): T {
  assert.ok(value !== undefined, `${what} is missing`);
  return value;
}

/** A plain copy holding exactly the fields of a ModelRecord, for deep comparison. */
export function plain(record: ModelRecord): ModelRecord {
  return {
    id: record.id,
    name: record.name,
    version: record.version,
    framework: record.framework,
    description: record.description,
    tags: [...record.tags],
    metadata: Object.fromEntries(Object.entries(record.metadata)),
    artifactUri: record.artifactUri,
    artifactDigest: record.artifactDigest,
    lineage: copyLineage(record.lineage),
    revision: record.revision,
    createTime: record.createTime,
    updateTime: record.updateTime,
  };
}

/** Asserts `actual` holds exactly `expected`'s values, with the same types (numbers stay numbers). */
export function assertRecord(actual: ModelRecord | undefined, expected: ModelRecord, what: string): void {
  assert.ok(actual !== undefined, `${what}: expected ${key(expected)}, got undefined`);
  assert.deepEqual(
    Object.keys(actual).sort(),
    RECORD_KEYS,
    `${what}: a record has exactly the ModelRecord fields`,
  );
  assert.ok(Array.isArray(actual.tags), `${what}: tags is an array`);
  assert.ok(actual.lineage !== null && typeof actual.lineage === "object", `${what}: lineage is an object`);
  assert.deepEqual(
    Object.keys(actual.lineage).sort(),
    ["codeRevision", "datasetUris", "parentModelIds", "runUri"],
    `${what}: lineage has exactly the LineageRecord fields`,
  );
  assert.ok(Array.isArray(actual.lineage.datasetUris), `${what}: lineage.datasetUris is an array`);
  assert.ok(Array.isArray(actual.lineage.parentModelIds), `${what}: lineage.parentModelIds is an array`);
  assert.deepEqual(plain(actual), plain(expected), `${what}: the stored record differs from the one written`);
}

/** Asserts that `call` rejects (or throws) a RegistryError with `code`. */
export async function assertRejectsWithCode(
  call: () => Promise<unknown>,
  code: Code,
  what: string,
): Promise<void> {
  await assert.rejects(
    async () => call(),
    (error: unknown) => {
      assert.ok(error instanceof RegistryError, `${what}: expected a RegistryError, got ${String(error)}`);
      assert.equal(Code[error.code], Code[code], `${what}: the RegistryError's code`);
      return true;
    },
    `${what}: expected a rejection with ${Code[code]}`,
  );
}

/** `name@version`, how failures name a record. */
export function key(record: ModelRecord): string {
  return `${record.name}@${record.version}`;
}

/** The {@link key} of each record, in order. */
export function keys(records: readonly ModelRecord[]): string[] {
  return records.map(key);
}

/** Mutates a record the caller got from storage; frozen records (TypeError) are fine too. */
export function scribble(record: ModelRecord): void {
  const target = record as Mutable<ModelRecord>;
  const tags = record.tags as string[];
  const metadata = record.metadata as Record<string, string>;
  const mutations = [
    () => tags.push("zz-scribbled"),
    () => tags.splice(0, 1),
    () => {
      metadata.scribbled = "yes";
    },
    () => Reflect.deleteProperty(metadata, "k"),
    () => {
      target.description = "scribbled";
    },
  ];
  for (const mutate of mutations) {
    try {
      mutate();
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
  }
}

/** Write results that carry the revision of the history entry they appended. */
const WITH_REVISION = new Set(["ok", "created", "deleted", "set", "refused"]);

/**
 * A write result (or a list of them) with its `revision` checked — a whole
 * number of at least 1 — and then left out, to compare the rest with
 * `deepEqual`: `{ status: "ok" }`, `{ status: "created" }`. Results of other
 * statuses are returned as they are.
 */
export function withoutRevision<T>(result: T): T {
  if (Array.isArray(result)) return result.map((item: unknown) => withoutRevision(item)) as T;
  if (typeof result !== "object" || result === null || !("status" in result)) return result;
  const { status } = result as { status: unknown };
  if (typeof status !== "string" || !WITH_REVISION.has(status) || !("revision" in result)) return result;
  const { revision, ...rest } = result as { revision: unknown };
  assert.ok(
    typeof revision === "number" && Number.isSafeInteger(revision) && revision >= 1,
    `a ${status} result carries the revision of the entry it appended (got ${String(revision)})`,
  );
  return rest as T;
}
