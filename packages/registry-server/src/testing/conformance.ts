import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { ComparisonOperator, FilterExpression, StringComparison, TimeComparison } from "../filter/ast";
import type {
  Cursor,
  ListQuery,
  ModelRecord,
  OrderField,
  OrderTerm,
  StorageAdapter,
} from "../storage/adapter";

/**
 * Options of {@link defineStorageConformanceSuite}. `describe` and `it` come
 * from your test framework; the suite itself imports none.
 *
 * @example
 * ```ts
 * const options: StorageConformanceOptions = {
 *   name: "postgres",
 *   describe,
 *   it,
 *   createAdapter: async () => createPostgresStorage({ schema: `t_${randomUUID().slice(0, 8)}` }),
 *   destroyAdapter: async (adapter) => dropSchemaOf(adapter),
 * };
 * ```
 */
export interface StorageConformanceOptions {
  /** Names the suite in the test report, e.g. `"memory"` or `"postgres"`. */
  readonly name: string;
  /** Your framework's `describe` (vitest, jest, mocha, `node:test`). */
  readonly describe: (name: string, fn: () => void) => void;
  /** Your framework's `it`; the third argument is a timeout in milliseconds. */
  readonly it: (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;
  /** Creates a fresh, empty adapter. Called once per test: no state is shared between tests. */
  readonly createAdapter: () => Promise<StorageAdapter>;
  /**
   * Removes what `createAdapter` made (a database file, a schema). Called at
   * the end of every test, after `adapter.close()`, whether the test passed or not.
   */
  readonly destroyAdapter?: ((adapter: StorageAdapter) => Promise<void>) | undefined;
  /** Timeout passed to every `it`, in milliseconds. Default 30 000. */
  readonly timeoutMs?: number | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

let lastMicros = 0;

/** The current time in microseconds, strictly increasing from call to call. */
function nowMicros(): number {
  lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
  return lastMicros;
}

/**
 * A valid new {@link ModelRecord} as the service would insert it: a fresh
 * UUID, a unique name, revision 1, times in microseconds since the epoch
 * (`updateTime` defaults to `createTime`). Fields in `overrides` win; pass
 * `tags` unique and sorted, as storage expects them. Arrays and objects are
 * copied, so the result never aliases `overrides`.
 *
 * @example
 * ```ts
 * const record = makeModelRecord({ name: "resnet", version: "1.0.0", tags: ["prod", "vision"] });
 * assert.equal((await adapter.insert(record)).status, "created");
 * ```
 */
export function makeModelRecord(overrides: Partial<ModelRecord> = {}): ModelRecord {
  const createTime = overrides.createTime ?? nowMicros();
  return {
    id: overrides.id ?? randomUUID(),
    name: overrides.name ?? `model-${randomUUID()}`,
    version: overrides.version ?? "1.0.0",
    framework: overrides.framework ?? "pytorch",
    description: overrides.description ?? "",
    tags: [...(overrides.tags ?? [])],
    metadata: { ...(overrides.metadata ?? {}) },
    artifactUri: overrides.artifactUri ?? "s3://models/model.onnx",
    revision: overrides.revision ?? 1,
    createTime,
    updateTime: overrides.updateTime ?? createTime,
  };
}

/**
 * Registers the storage conformance suite: one `describe` per rule of
 * `StorageAdapter` (CRUD, uniqueness, request ids, compare-and-swap, delete,
 * lost updates, filters, ordering, keyset paging, limits, ping and close).
 * Every test gets a fresh adapter from `createAdapter` and closes it (then
 * calls `destroyAdapter`) when it ends, pass or fail. Assertions use
 * `node:assert/strict`, so it runs under any framework that has `describe`
 * and `it`.
 *
 * @example
 * ```ts
 * // my-storage.test.ts (vitest or jest)
 * import { describe, it } from "vitest";
 * import { defineStorageConformanceSuite } from "@modelreg/registry-server/testing";
 * import { createMyStorage } from "./my-storage";
 *
 * defineStorageConformanceSuite({ name: "my storage", describe, it, createAdapter: async () => createMyStorage() });
 *
 * // With node:test, whose `it` takes options before the function:
 * // import { describe, it } from "node:test";
 * // defineStorageConformanceSuite({
 * //   name: "my storage", describe,
 * //   it: (name, fn, timeout) => it(name, { timeout }, fn),
 * //   createAdapter: async () => createMyStorage(),
 * // });
 * ```
 */
export function defineStorageConformanceSuite(options: StorageConformanceOptions): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const test: TestFn = (name, body) => {
    options.it(name, () => withAdapter(options, body), timeoutMs);
  };
  const { describe } = options;

  describe(`storage conformance: ${options.name}`, () => {
    describe("CRUD", () => defineCrudTests(test));
    describe("uniqueness of (name, version)", () => defineUniquenessTests(test));
    describe("request ids", () => defineRequestIdTests(test));
    describe("replace (compare-and-swap)", () => defineReplaceTests(test));
    describe("delete", () => defineDeleteTests(test));
    describe("no lost update", () => defineLostUpdateTests(test));
    describe("change history", () => defineChangeTests(test));
    describe("filters", () => defineFilterTests(test));
    describe("ordering", () => defineOrderingTests(test));
    describe("keyset paging", () => definePagingTests(test));
    describe("limits and empty results", () => defineLimitTests(test));
    describe("ping and close", () => {
      test("ping resolves", async (adapter) => {
        await adapter.ping();
        await insertAll(adapter, [makeModelRecord()]);
        await adapter.ping();
      });
      options.it(
        "close can be called twice",
        async () => {
          const adapter = await options.createAdapter();
          try {
            await insertAll(adapter, [makeModelRecord()]);
            await adapter.close();
            await adapter.close();
          } finally {
            await options.destroyAdapter?.(adapter);
          }
        },
        timeoutMs,
      );
    });
  });
}

type TestFn = (name: string, body: (adapter: StorageAdapter) => Promise<void>) => void;

/**
 * Runs `body` on a fresh adapter, then always closes and destroys it. The
 * body's failure wins over a failure to clean up (often its consequence).
 */
async function withAdapter(
  options: StorageConformanceOptions,
  body: (adapter: StorageAdapter) => Promise<void>,
): Promise<void> {
  const adapter = await options.createAdapter();
  let failure: { readonly error: unknown } | undefined;
  try {
    await body(adapter);
  } catch (error) {
    failure = { error };
  }
  const cleanupErrors: unknown[] = [];
  try {
    await adapter.close();
  } catch (error) {
    cleanupErrors.push(error);
  }
  try {
    await options.destroyAdapter?.(adapter);
  } catch (error) {
    cleanupErrors.push(error);
  }
  if (failure) throw failure.error;
  if (cleanupErrors.length === 1) throw cleanupErrors[0];
  if (cleanupErrors.length > 1)
    throw new AggregateError(cleanupErrors, "closing and destroying the adapter failed");
}

// ---------------------------------------------------------------------------
// Helpers

const T0 = 1_700_000_000_000_000;
const NAME_ASC: readonly OrderTerm[] = [{ field: "name", descending: false }];
const ORDER_FIELDS: readonly OrderField[] = ["name", "version", "framework", "create_time", "update_time"];
const RECORD_KEYS: readonly string[] = [
  "artifactUri",
  "createTime",
  "description",
  "framework",
  "id",
  "metadata",
  "name",
  "revision",
  "tags",
  "updateTime",
  "version",
];

function defined<T>(value: T | undefined, what: string): T {
  assert.ok(value !== undefined, `${what} is missing`);
  return value;
}

/** A plain copy holding exactly the fields of a ModelRecord, for deep comparison. */
function plain(record: ModelRecord): ModelRecord {
  return {
    id: record.id,
    name: record.name,
    version: record.version,
    framework: record.framework,
    description: record.description,
    tags: [...record.tags],
    metadata: Object.fromEntries(Object.entries(record.metadata)),
    artifactUri: record.artifactUri,
    revision: record.revision,
    createTime: record.createTime,
    updateTime: record.updateTime,
  };
}

/** Asserts `actual` holds exactly `expected`'s values, with the same types (numbers stay numbers). */
function assertRecord(actual: ModelRecord | undefined, expected: ModelRecord, what: string): void {
  assert.ok(actual !== undefined, `${what}: expected ${key(expected)}, got undefined`);
  assert.deepEqual(
    Object.keys(actual).sort(),
    RECORD_KEYS,
    `${what}: a record has exactly the ModelRecord fields`,
  );
  assert.ok(Array.isArray(actual.tags), `${what}: tags is an array`);
  assert.deepEqual(plain(actual), plain(expected), `${what}: the stored record differs from the one written`);
}

function key(record: ModelRecord): string {
  return `${record.name}@${record.version}`;
}

function keys(records: readonly ModelRecord[]): string[] {
  return records.map(key);
}

async function insertAll(adapter: StorageAdapter, records: Iterable<ModelRecord>): Promise<void> {
  for (const record of records) {
    const result = await adapter.insert(record);
    assert.equal(result.status, "created", `insert of ${key(record)}: ${JSON.stringify(result)}`);
  }
}

/** Mutates a record the caller got from storage; frozen records (TypeError) are fine too. */
function scribble(record: ModelRecord): void {
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

function orderValue(record: ModelRecord, field: OrderField): string | number {
  switch (field) {
    case "name":
      return record.name;
    case "version":
      return record.version;
    case "framework":
      return record.framework;
    case "create_time":
      return record.createTime;
    case "update_time":
      return record.updateTime;
  }
}

/** Unicode code point order (rule 5): UTF-8 byte order, unlike JavaScript's UTF-16 `<`. */
function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function compareValues(a: string | number, b: string | number): number {
  if (typeof a === "string" && typeof b === "string") return compareCodePoints(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order of the contract: `orderBy` (strings by code point), then id ascending. */
function compareRecords(a: ModelRecord, b: ModelRecord, orderBy: readonly OrderTerm[]): number {
  for (const term of orderBy) {
    const c = compareValues(orderValue(a, term.field), orderValue(b, term.field));
    if (c !== 0) return term.descending ? -c : c;
  }
  return compareValues(a.id, b.id);
}

function sortRecords(records: Iterable<ModelRecord>, orderBy: readonly OrderTerm[]): ModelRecord[] {
  return [...records].sort((a, b) => compareRecords(a, b, orderBy));
}

/** The cursor after `record`: its order-by values (strings, microseconds for times) and id. */
function cursorOf(record: ModelRecord, orderBy: readonly OrderTerm[]): Cursor {
  return { values: orderBy.map((term) => orderValue(record, term.field)), id: record.id };
}

function showOrder(orderBy: readonly OrderTerm[]): string {
  return orderBy.map((t) => (t.descending ? `${t.field} desc` : t.field)).join(", ");
}

async function listAll(
  adapter: StorageAdapter,
  orderBy: readonly OrderTerm[] = NAME_ASC,
  filter?: FilterExpression,
): Promise<ModelRecord[]> {
  return adapter.list({ filter, orderBy, limit: 1000 });
}

/**
 * Lists page by page via `after` cursors until a short page. `between` runs
 * after each full page, before the next is read.
 */
async function walk(
  adapter: StorageAdapter,
  query: Omit<ListQuery, "after">,
  between?: (last: ModelRecord, pageIndex: number) => Promise<void>,
): Promise<ModelRecord[]> {
  const seen: ModelRecord[] = [];
  let after: Cursor | undefined;
  for (let pageIndex = 0; pageIndex < 500; pageIndex++) {
    const page = await adapter.list({ ...query, after });
    assert.ok(
      page.length <= query.limit,
      `page ${pageIndex} holds ${page.length} records, over the limit ${query.limit}`,
    );
    seen.push(...page);
    const last = page.at(-1);
    if (page.length < query.limit || last === undefined) return seen;
    after = cursorOf(last, query.orderBy);
    await between?.(last, pageIndex);
  }
  assert.fail(`paging did not end after 500 pages (seen: ${keys(seen).slice(0, 20).join(", ")}, ...)`);
}

function showMicros(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, "0")}Z`;
}

function showFilter(filter: FilterExpression): string {
  switch (filter.kind) {
    case "and":
      return `(${filter.operands.map(showFilter).join(" AND ")})`;
    case "or":
      return `(${filter.operands.map(showFilter).join(" OR ")})`;
    case "not":
      return `NOT ${showFilter(filter.operand)}`;
    case "string":
      return `${filter.field} ${filter.op} ${JSON.stringify(filter.prefix ? `${filter.value}*` : filter.value)}`;
    case "time":
      return `${filter.field} ${filter.op} ${showMicros(filter.value)}`;
    case "metadata":
      return `metadata.${filter.key} ${filter.op} ${JSON.stringify(filter.prefix ? `${filter.value}*` : filter.value)}`;
    case "hasTag":
      return `tags:${JSON.stringify(filter.tag)}`;
    case "hasMetadataKey":
      return `metadata:${JSON.stringify(filter.key)}`;
  }
}

/** Filter tree builders. */
const f = {
  str: (field: StringComparison["field"], op: ComparisonOperator, value: string): FilterExpression => ({
    kind: "string",
    field,
    op,
    value,
    prefix: false,
  }),
  prefix: (field: StringComparison["field"], op: "=" | "!=", value: string): FilterExpression => ({
    kind: "string",
    field,
    op,
    value,
    prefix: true,
  }),
  time: (field: TimeComparison["field"], op: ComparisonOperator, value: number): FilterExpression => ({
    kind: "time",
    field,
    op,
    value,
  }),
  meta: (key: string, op: ComparisonOperator, value: string): FilterExpression => ({
    kind: "metadata",
    key,
    op,
    value,
    prefix: false,
  }),
  metaPrefix: (key: string, op: "=" | "!=", value: string): FilterExpression => ({
    kind: "metadata",
    key,
    op,
    value,
    prefix: true,
  }),
  tag: (tag: string): FilterExpression => ({ kind: "hasTag", tag }),
  hasKey: (key: string): FilterExpression => ({ kind: "hasMetadataKey", key }),
  and: (...operands: FilterExpression[]): FilterExpression => ({ kind: "and", operands }),
  or: (...operands: FilterExpression[]): FilterExpression => ({ kind: "or", operands }),
  not: (operand: FilterExpression): FilterExpression => ({ kind: "not", operand }),
};

type FilterCase = readonly [filter: FilterExpression, expectedLabels: readonly string[]];

/**
 * Runs every case and reports all mismatches at once. Matches are compared
 * as sets of labels; a record returned twice shows up as a duplicate label.
 */
async function checkFilterCases(
  adapter: StorageAdapter,
  fixture: ReadonlyMap<string, ModelRecord>,
  cases: readonly FilterCase[],
): Promise<void> {
  const labelById = new Map([...fixture].map(([label, record]) => [record.id, label]));
  const failures: string[] = [];
  for (const [filter, expectedLabels] of cases) {
    let got: string[];
    try {
      const records = await listAll(adapter, NAME_ASC, filter);
      got = records.map((r) => labelById.get(r.id) ?? `<unknown ${key(r)}>`).sort();
    } catch (error) {
      failures.push(`${showFilter(filter)}: threw ${error instanceof Error ? error.stack : String(error)}`);
      continue;
    }
    const want = [...expectedLabels].sort();
    if (got.join("|") !== want.join("|")) {
      failures.push(
        `${showFilter(filter)}\n      expected [${want.join(", ")}]\n      got      [${got.join(", ")}]`,
      );
    }
  }
  if (failures.length > 0) {
    assert.fail(
      `${failures.length} of ${cases.length} filters matched the wrong records:\n    ${failures.join("\n    ")}`,
    );
  }
}

async function insertFixture(
  adapter: StorageAdapter,
  rows: readonly (readonly [string, Partial<ModelRecord>])[],
): Promise<Map<string, ModelRecord>> {
  const fixture = new Map(
    rows.map(([label, overrides]) => [
      label,
      makeModelRecord({
        description: `fixture ${label}`,
        artifactUri: `s3://fixture/${label}`,
        ...overrides,
      }),
    ]),
  );
  await insertAll(adapter, fixture.values());
  return fixture;
}

/**
 * Ten varied models for filters, ordering and paging. Names, versions,
 * frameworks, tags and metadata keys use the characters the service allows
 * (ASCII); metadata values are free text. Ties: two `alpha`s; four `pytorch`;
 * create_time +60 twice; update_time +50 twice.
 */
const MAIN_ROWS: readonly (readonly [string, Partial<ModelRecord>])[] = [
  [
    "a1",
    {
      name: "alpha",
      version: "1.0.0",
      framework: "pytorch",
      createTime: T0,
      updateTime: T0 + 100,
      tags: ["prod", "vision"],
      metadata: { team: "cv", stage: "prod" },
    },
  ],
  [
    "a2",
    {
      name: "alpha",
      version: "2.0.0",
      framework: "pytorch",
      createTime: T0 + 1,
      updateTime: T0 + 50,
      tags: ["vision"],
      metadata: { team: "cv" },
    },
  ],
  [
    "beta",
    {
      name: "beta",
      version: "0.1.0",
      framework: "sklearn",
      createTime: T0 + 10,
      updateTime: T0 + 10,
      tags: ["prod"],
      metadata: { team: "nlp", stage: "" },
    },
  ],
  [
    "resnet",
    {
      name: "res_net",
      version: "1.0.0",
      framework: "pytorch",
      createTime: T0 + 20,
      updateTime: T0 + 200,
      tags: ["cv/backbone"],
      metadata: { team: "cv", "owner.email": "zoë@example.com" },
    },
  ],
  [
    "resx",
    {
      name: "resXnet",
      version: "1.0.0",
      framework: "onnx",
      createTime: T0 + 30,
      updateTime: T0 + 30,
      tags: ["staging"],
      metadata: { stage: "staging" },
    },
  ],
  [
    "gamma",
    {
      name: "gamma",
      version: "10.0.0",
      framework: "",
      createTime: T0 + 40,
      updateTime: T0 + 40,
      tags: ["experimental"],
      metadata: { note: "😀 ok" },
    },
  ],
  [
    "eclair",
    {
      name: "models/eclair",
      version: "1.0.0+build.5",
      framework: "jax",
      createTime: T0 + 50,
      updateTime: T0 + 50,
      tags: [],
      metadata: {},
    },
  ],
  [
    "omega",
    {
      name: "omega",
      version: "1.0.0",
      framework: "jax",
      createTime: T0 + 60,
      updateTime: T0 + 60,
      tags: ["prod"],
      metadata: { team: "😀" },
    },
  ],
  [
    "zeta",
    {
      name: "zeta",
      version: "1.0.0",
      framework: "pytorch",
      createTime: T0 + 60,
      updateTime: T0 + 300,
      tags: ["prod", "staging", "vision"],
      metadata: { team: "nlp", stage: "prod", owner: "z" },
    },
  ],
  [
    "delta",
    {
      name: "delta",
      version: "2.0.0",
      framework: "tensorflow",
      createTime: T0 + 70,
      updateTime: T0 + 70,
      tags: ["vision"],
      metadata: { team: "cv", stage: "dev" },
    },
  ],
];

const ALL: readonly string[] = MAIN_ROWS.map(([label]) => label);
const except = (...labels: string[]): string[] => ALL.filter((l) => !labels.includes(l));

// ---------------------------------------------------------------------------
// CRUD

function defineCrudTests(test: TestFn): void {
  test("insert then get returns an equal record", async (adapter) => {
    const record = makeModelRecord({
      name: "resnet-50",
      version: "2.1.0",
      framework: "pytorch",
      description:
        "Image classifier.\nLine two: \"quotes\", 'apostrophes', \\backslashes\\, tabs\tand %_ wildcards.",
      tags: ["A-team", "cv", "prod", "vision"],
      metadata: { dataset: "imagenet-1k", "train.epochs": "90", "owner/team": "vision", json: '{"a":[1,2]}' },
      artifactUri: "s3://models/resnet-50/2.1.0/model.onnx?versionId=3&x=%20",
      createTime: T0 + 123_456,
      updateTime: T0 + 987_654,
    });
    const result = await adapter.insert(record);
    assert.equal(result.status, "created", JSON.stringify(result));
    assertRecord(await adapter.get(record.id), record, "get");
    assertRecord(await adapter.getByNameVersion(record.name, record.version), record, "getByNameVersion");
    const [listed] = await listAll(adapter);
    assertRecord(listed, record, "list");
  });

  test("stores non-ASCII text, including 4-byte UTF-8, exactly in every string field (rule 5)", async (adapter) => {
    const record = makeModelRecord({
      name: "模型-😀",
      version: "βeta-𝟙",
      framework: "фреймворк",
      description: "Ünïcödé — 日本語 — 😀🎉👩‍👩‍👧 — 𝄞 — é vs e\u0301 — שלום — zero\u200bwidth — \u{10FFFF}",
      tags: ["ταγ", "😀", "𝄞"].sort(),
      metadata: { ключ: "значение", emoji: "😀🎉", "😀": "an emoji key", nfd: "e\u0301", nfc: "é" },
      artifactUri: "s3://bücket/😀/modèle.onnx",
    });
    assert.equal((await adapter.insert(record)).status, "created");
    const stored = await adapter.get(record.id);
    assertRecord(stored, record, "get");
    assert.equal(stored?.description.length, record.description.length, "no characters added or lost");
    assertRecord(await adapter.getByNameVersion("模型-😀", "βeta-𝟙"), record, "getByNameVersion");
    assertRecord(
      (await listAll(adapter, NAME_ASC, f.str("name", "=", "模型-😀")))[0],
      record,
      'list with filter name = "模型-😀"',
    );
  });

  test("stores empty strings, no tags, no metadata and surrounding spaces exactly", async (adapter) => {
    const empty = makeModelRecord({
      framework: "",
      description: "",
      artifactUri: "",
      tags: [],
      metadata: {},
    });
    const spaced = makeModelRecord({
      framework: "",
      description: "  padded with spaces  ",
      metadata: { empty: "", space: " ", trailing: "x  " },
    });
    await insertAll(adapter, [empty, spaced]);
    assertRecord(await adapter.get(empty.id), empty, "get of the empty record");
    assertRecord(await adapter.get(spaced.id), spaced, "get of the spaced record");
  });

  test("stores values at the service's size limits", async (adapter) => {
    const record = makeModelRecord({
      name: `n${"a".repeat(127)}`,
      version: `v${"1".repeat(63)}`,
      framework: `f${"x".repeat(63)}`,
      description: "é😀".repeat(2048),
      tags: Array.from({ length: 64 }, (_, i) => `t${String(i).padStart(2, "0")}`.padEnd(64, "x")).sort(),
      metadata: Object.fromEntries(
        Array.from({ length: 64 }, (_, i) => [
          `k${String(i).padStart(2, "0")}`.padEnd(128, "k"),
          "😀".repeat(1024),
        ]),
      ),
      artifactUri: `s3://bucket/${"a".repeat(2048 - 12)}`,
    });
    assert.equal((await adapter.insert(record)).status, "created");
    assertRecord(await adapter.get(record.id), record, "get");
  });

  test("lookups of something absent return undefined or leave it out, never throw (rule 2)", async (adapter) => {
    const record = makeModelRecord({ name: "present", version: "1.0.0" });
    await insertAll(adapter, [record]);
    assert.equal(await adapter.get(randomUUID()), undefined, "get of an unknown UUID");
    assert.equal(await adapter.get("not-a-uuid"), undefined, "get of an id that is not a UUID");
    assert.equal(await adapter.getByNameVersion("absent", "1.0.0"), undefined, "unknown name");
    assert.equal(
      await adapter.getByNameVersion("present", "2.0.0"),
      undefined,
      "known name, unknown version",
    );
    assert.equal(await adapter.getByNameVersion("absent", "1.0.0"), undefined, "unknown name, known version");
    assert.deepEqual(await adapter.getMany([randomUUID(), "not-a-uuid"]), [], "getMany of unknown ids");
    assert.deepEqual(await adapter.delete("not-a-uuid"), { status: "notFound" }, "delete of a non-UUID id");
    const ghost = { ...makeModelRecord({ id: "not-a-uuid" }), revision: 2 };
    assert.deepEqual(await adapter.replace(ghost, 1), { status: "notFound" }, "replace of a non-UUID id");
  });

  test("getByNameVersion finds the record with exactly that (name, version)", async (adapter) => {
    const v1 = makeModelRecord({ name: "bert", version: "1.0.0", framework: "pytorch" });
    const v2 = makeModelRecord({ name: "bert", version: "2.0.0", framework: "onnx" });
    const other = makeModelRecord({ name: "gpt", version: "1.0.0" });
    await insertAll(adapter, [v1, v2, other]);
    assertRecord(await adapter.getByNameVersion("bert", "1.0.0"), v1, "bert@1.0.0");
    assertRecord(await adapter.getByNameVersion("bert", "2.0.0"), v2, "bert@2.0.0");
    assertRecord(await adapter.getByNameVersion("gpt", "1.0.0"), other, "gpt@1.0.0");
    assert.equal(await adapter.getByNameVersion("gpt", "2.0.0"), undefined, "gpt@2.0.0");
    assert.equal(await adapter.getByNameVersion("bert", "1.0"), undefined, "no partial match of the version");
    assert.equal(await adapter.getByNameVersion("ber", "1.0.0"), undefined, "no partial match of the name");
  });

  test("getMany returns the existing records only, each once, even when ids repeat", async (adapter) => {
    const [a, b, c] = [makeModelRecord(), makeModelRecord(), makeModelRecord()];
    await insertAll(adapter, [a, b, c]);
    const missing = randomUUID();
    const found = await adapter.getMany([a.id, missing, a.id, b.id, b.id, missing]);
    assert.deepEqual(found.map((r) => r.id).sort(), [a.id, b.id].sort(), "ids returned by getMany");
    for (const record of found) assertRecord(record, record.id === a.id ? a : b, "getMany");
    assert.deepEqual(await adapter.getMany([]), [], "getMany([])");
    const [onlyC, ...rest] = await adapter.getMany([c.id]);
    assertRecord(onlyC, c, "getMany([c])");
    assert.equal(rest.length, 0, "getMany([c]) returns one record");
  });

  test("list returns the same complete records as get", async (adapter) => {
    const records = [
      makeModelRecord({ name: "l-a", tags: ["x", "y"], metadata: { k: "v", e: "" }, description: "first" }),
      makeModelRecord({ name: "l-b", framework: "", artifactUri: "" }),
      makeModelRecord({ name: "l-c", metadata: { "a.b": "c" }, createTime: T0, updateTime: T0 + 999_999 }),
    ];
    await insertAll(adapter, records);
    const listed = await listAll(adapter);
    assert.equal(listed.length, 3);
    for (const [i, record] of records.entries()) assertRecord(listed[i], record, `list[${i}]`);
  });

  test("returned records are fresh objects: mutating them does not change storage (rule 4)", async (adapter) => {
    const record = makeModelRecord({
      tags: ["a", "b"],
      metadata: { k: "v", other: "w" },
      description: "kept",
    });
    await insertAll(adapter, [record]);
    const first = defined(await adapter.get(record.id), "get");
    const second = defined(await adapter.get(record.id), "get");
    assert.notEqual(first, second, "two gets return different objects");
    assert.notEqual(first.tags, second.tags, "two gets return different tag arrays");
    assert.notEqual(first.metadata, second.metadata, "two gets return different metadata objects");
    const readers: [string, () => Promise<ModelRecord | undefined>][] = [
      ["get", () => adapter.get(record.id)],
      ["getByNameVersion", () => adapter.getByNameVersion(record.name, record.version)],
      ["getMany", async () => (await adapter.getMany([record.id]))[0]],
      ["list", async () => (await listAll(adapter))[0]],
    ];
    for (const [reader, read] of readers) {
      scribble(defined(await read(), reader));
      assertRecord(await adapter.get(record.id), record, `after mutating the result of ${reader}`);
    }
  });

  test("mutating a record after passing it to insert or replace does not change storage (rule 4)", async (adapter) => {
    const input = makeModelRecord({ tags: ["a", "b"], metadata: { k: "v" }, description: "original" });
    const snapshot = plain(input);
    await insertAll(adapter, [input]);
    scribble(input);
    assertRecord(await adapter.get(snapshot.id), snapshot, "after mutating the inserted record");

    const next: ModelRecord = {
      ...snapshot,
      tags: ["c"],
      metadata: { k: "w" },
      revision: 2,
      updateTime: snapshot.updateTime + 1,
    };
    const nextSnapshot = plain(next);
    assert.deepEqual(await adapter.replace(next, 1), { status: "ok" });
    scribble(next);
    assertRecord(await adapter.get(snapshot.id), nextSnapshot, "after mutating the replacing record");
  });
}

// ---------------------------------------------------------------------------
// Uniqueness

function defineUniquenessTests(test: TestFn): void {
  test("a second insert of the same (name, version) is nameVersionTaken with the existing id", async (adapter) => {
    const first = makeModelRecord({ name: "dup", version: "1.0.0", description: "first" });
    const second = makeModelRecord({
      name: "dup",
      version: "1.0.0",
      description: "second",
      framework: "onnx",
    });
    await insertAll(adapter, [first]);
    const result = await adapter.insert(second);
    assert.equal(result.status, "nameVersionTaken", JSON.stringify(result));
    assert.equal(result.status === "nameVersionTaken" && result.existingId, first.id, "existingId");
    assert.equal(await adapter.get(second.id), undefined, "the second record was not stored");
    assertRecord(await adapter.getByNameVersion("dup", "1.0.0"), first, "the first record is unchanged");
    assert.equal((await listAll(adapter)).length, 1, "one record listed");
  });

  test("the same name with another version, or another name with the same version, is created", async (adapter) => {
    const records = [
      makeModelRecord({ name: "shared", version: "1.0.0" }),
      makeModelRecord({ name: "shared", version: "1.0.1" }),
      makeModelRecord({ name: "shared-2", version: "1.0.0" }),
      makeModelRecord({ name: "shared", version: "1.0.0-rc.1" }),
    ];
    await insertAll(adapter, records);
    for (const record of records) {
      assertRecord(await adapter.getByNameVersion(record.name, record.version), record, key(record));
    }
  });

  test("names and versions that differ only in letter case are different", async (adapter) => {
    const records = [
      makeModelRecord({ name: "alpha", version: "v1" }),
      makeModelRecord({ name: "Alpha", version: "v1" }),
      makeModelRecord({ name: "ALPHA", version: "v1" }),
      makeModelRecord({ name: "alpha", version: "V1" }),
    ];
    await insertAll(adapter, records);
    for (const record of records) {
      assertRecord(await adapter.getByNameVersion(record.name, record.version), record, key(record));
    }
  });

  test("(name, version) is compared exactly: no space padding, no Unicode normalization (rule 5)", async (adapter) => {
    const records = [
      makeModelRecord({ name: "café", version: "1.0" }),
      makeModelRecord({ name: "cafe\u0301", version: "1.0" }),
      makeModelRecord({ name: "café ", version: "1.0" }),
      makeModelRecord({ name: "café", version: "1.0 " }),
    ];
    await insertAll(adapter, records);
    for (const record of records) {
      assertRecord(
        await adapter.getByNameVersion(record.name, record.version),
        record,
        JSON.stringify([record.name, record.version]),
      );
    }
  });

  test("of 20 concurrent inserts of the same (name, version) exactly one is created", async (adapter) => {
    const records = Array.from({ length: 20 }, (_, i) =>
      makeModelRecord({ name: "race", version: "1.0.0", description: `contender ${i}` }),
    );
    const results = await Promise.all(records.map((r) => adapter.insert(r)));
    const created = results.flatMap((r, i) => (r.status === "created" ? [i] : []));
    assert.equal(
      created.length,
      1,
      `exactly one created, got ${JSON.stringify(results.map((r) => r.status))}`,
    );
    const winner = defined(records[defined(created[0], "created index")], "winner");
    for (const [i, result] of results.entries()) {
      if (i === created[0]) continue;
      assert.equal(result.status, "nameVersionTaken", `insert ${i}: ${JSON.stringify(result)}`);
      assert.equal(
        result.status === "nameVersionTaken" && result.existingId,
        winner.id,
        `insert ${i}: existingId`,
      );
    }
    assertRecord(await adapter.getByNameVersion("race", "1.0.0"), winner, "getByNameVersion");
    assert.deepEqual(keys(await listAll(adapter)), ["race@1.0.0"], "only one row is visible");
    const found = await adapter.getMany(records.map((r) => r.id));
    assert.deepEqual(
      found.map((r) => r.id),
      [winner.id],
      "getMany of every contender finds the winner only",
    );
  });
}

// ---------------------------------------------------------------------------
// Request ids

function defineRequestIdTests(test: TestFn): void {
  test("an insert with a used request id is requestIdUsed with the existing record; nothing is stored", async (adapter) => {
    const first = makeModelRecord({ name: "first", tags: ["t"], metadata: { k: "v" } });
    const retry = makeModelRecord({ name: "another-name", version: "9.9.9" });
    assert.equal((await adapter.insert(first, "req-1")).status, "created");
    const result = await adapter.insert(retry, "req-1");
    assert.equal(result.status, "requestIdUsed", JSON.stringify(result));
    assert.ok(result.status === "requestIdUsed");
    assertRecord(result.existing, first, "existing");
    assert.equal(await adapter.get(retry.id), undefined, "the retry was not stored");
    assert.equal(
      await adapter.getByNameVersion(retry.name, retry.version),
      undefined,
      "nor its (name, version)",
    );
    scribble(result.existing);
    assertRecord(await adapter.get(first.id), first, "after mutating `existing` (rule 4)");
  });

  test("requestIdUsed wins over nameVersionTaken", async (adapter) => {
    const first = makeModelRecord({ name: "m", version: "1" });
    const other = makeModelRecord({ name: "other", version: "1" });
    assert.equal((await adapter.insert(first, "req-1")).status, "created");
    await insertAll(adapter, [other]);
    const sameNameVersion = await adapter.insert(makeModelRecord({ name: "m", version: "1" }), "req-1");
    assert.equal(
      sameNameVersion.status,
      "requestIdUsed",
      `same (name, version): ${JSON.stringify(sameNameVersion)}`,
    );
    assert.equal(sameNameVersion.status === "requestIdUsed" && sameNameVersion.existing.id, first.id);
    const otherNameVersion = await adapter.insert(makeModelRecord({ name: "other", version: "1" }), "req-1");
    assert.equal(
      otherNameVersion.status,
      "requestIdUsed",
      `(name, version) of another model: ${JSON.stringify(otherNameVersion)}`,
    );
    assert.equal(otherNameVersion.status === "requestIdUsed" && otherNameVersion.existing.id, first.id);
    assert.equal((await listAll(adapter)).length, 2);
  });

  test("different, absent and empty request ids do not clash", async (adapter) => {
    const records = Array.from({ length: 6 }, () => makeModelRecord());
    const requestIds = ["req-a", "req-b", undefined, undefined, "", ""];
    for (const [i, record] of records.entries()) {
      const result = await adapter.insert(record, requestIds[i]);
      assert.equal(
        result.status,
        "created",
        `insert with request id ${JSON.stringify(requestIds[i])}: ${JSON.stringify(result)}`,
      );
    }
    const reuse = await adapter.insert(makeModelRecord(), "req-a");
    assert.equal(reuse.status, "requestIdUsed", JSON.stringify(reuse));
    assert.equal(reuse.status === "requestIdUsed" && reuse.existing.id, records[0]?.id);
    assert.equal((await listAll(adapter)).length, 6);
  });

  test("request ids are compared exactly (letter case matters)", async (adapter) => {
    const lower = makeModelRecord();
    const upper = makeModelRecord();
    assert.equal((await adapter.insert(lower, "req-x")).status, "created");
    const result = await adapter.insert(upper, "REQ-X");
    assert.equal(result.status, "created", JSON.stringify(result));
  });

  test("of 20 concurrent inserts with the same request id exactly one is created", async (adapter) => {
    const records = Array.from({ length: 20 }, (_, i) => makeModelRecord({ name: `contender-${i}` }));
    const results = await Promise.all(records.map((r) => adapter.insert(r, "req-race")));
    const created = results.flatMap((r, i) => (r.status === "created" ? [i] : []));
    assert.equal(
      created.length,
      1,
      `exactly one created, got ${JSON.stringify(results.map((r) => r.status))}`,
    );
    const winner = defined(records[defined(created[0], "created index")], "winner");
    for (const [i, result] of results.entries()) {
      if (i === created[0]) continue;
      assert.equal(result.status, "requestIdUsed", `insert ${i}: ${JSON.stringify(result)}`);
      if (result.status === "requestIdUsed") assertRecord(result.existing, winner, `insert ${i}: existing`);
    }
    assert.deepEqual(keys(await listAll(adapter)), [key(winner)], "only one row is visible");
  });

  test("a create retried while the first try runs: same request id and (name, version) creates one", async (adapter) => {
    const records = Array.from({ length: 20 }, () => makeModelRecord({ name: "retried", version: "1.0.0" }));
    const results = await Promise.all(records.map((r) => adapter.insert(r, "req-retried")));
    const statuses = results.map((r) => r.status);
    assert.equal(
      statuses.filter((s) => s === "created").length,
      1,
      `exactly one created: ${JSON.stringify(statuses)}`,
    );
    assert.equal(
      statuses.filter((s) => s === "requestIdUsed").length,
      19,
      `the others are requestIdUsed (it wins over nameVersionTaken): ${JSON.stringify(statuses)}`,
    );
    assert.equal((await listAll(adapter)).length, 1, "only one row is visible");
  });
}

// ---------------------------------------------------------------------------
// Replace

function defineReplaceTests(test: TestFn): void {
  test("replace with the expected revision stores the new state whole", async (adapter) => {
    const original = makeModelRecord({
      description: "v1",
      framework: "pytorch",
      artifactUri: "s3://b/1",
      tags: ["a", "b", "c"],
      metadata: { keep: "1", change: "old", drop: "x" },
    });
    await insertAll(adapter, [original]);
    const next: ModelRecord = {
      ...original,
      description: "v2",
      framework: "onnx",
      artifactUri: "s3://b/2",
      tags: ["b", "d"],
      metadata: { keep: "1", change: "new", added: "y" },
      revision: 2,
      updateTime: original.updateTime + 5,
    };
    assert.deepEqual(await adapter.replace(next, 1), { status: "ok" });
    assertRecord(await adapter.get(original.id), next, "get after replace");
    assertRecord(
      await adapter.getByNameVersion(original.name, original.version),
      next,
      "getByNameVersion after replace",
    );
    assertRecord((await listAll(adapter))[0], next, "list after replace");

    const cleared: ModelRecord = {
      ...next,
      description: "",
      framework: "",
      artifactUri: "",
      tags: [],
      metadata: {},
      revision: 3,
      updateTime: next.updateTime + 5,
    };
    assert.deepEqual(await adapter.replace(cleared, 2), { status: "ok" });
    assertRecord(await adapter.get(original.id), cleared, "get after clearing every tag and metadata key");
  });

  test("replace keeps id, name, version and createTime", async (adapter) => {
    const original = makeModelRecord({ name: "stable", version: "1.0.0", createTime: T0, updateTime: T0 });
    await insertAll(adapter, [original]);
    const next: ModelRecord = {
      ...original,
      name: "renamed",
      version: "9.9.9",
      createTime: T0 + 1_000_000,
      description: "changed",
      revision: 2,
      updateTime: T0 + 5,
    };
    assert.deepEqual(await adapter.replace(next, 1), { status: "ok" });
    const expected: ModelRecord = { ...next, name: "stable", version: "1.0.0", createTime: T0 };
    assertRecord(await adapter.get(original.id), expected, "get after replace");
    assertRecord(
      await adapter.getByNameVersion("stable", "1.0.0"),
      expected,
      "getByNameVersion of the kept key",
    );
    assert.equal(await adapter.getByNameVersion("renamed", "9.9.9"), undefined, "the new name was not taken");
  });

  test("replace with a wrong revision is a conflict with the current revision and changes nothing", async (adapter) => {
    const original = makeModelRecord({ description: "v1" });
    await insertAll(adapter, [original]);
    const next: ModelRecord = {
      ...original,
      description: "v2",
      revision: 2,
      updateTime: original.updateTime + 1,
    };
    assert.deepEqual(await adapter.replace(next, 1), { status: "ok" });
    const stale: ModelRecord = { ...original, description: "stale", tags: ["x"], revision: 2 };
    assert.deepEqual(
      await adapter.replace(stale, 1),
      { status: "conflict", currentRevision: 2 },
      "stale revision",
    );
    const future: ModelRecord = { ...original, description: "future", revision: 6 };
    assert.deepEqual(
      await adapter.replace(future, 5),
      { status: "conflict", currentRevision: 2 },
      "future revision",
    );
    assertRecord(await adapter.get(original.id), next, "nothing changed");
  });

  test("replace of an unknown id is notFound and inserts nothing", async (adapter) => {
    const ghost: ModelRecord = { ...makeModelRecord({ name: "ghost" }), revision: 2 };
    assert.deepEqual(await adapter.replace(ghost, 1), { status: "notFound" });
    assert.equal(await adapter.get(ghost.id), undefined, "get");
    assert.equal(await adapter.getByNameVersion("ghost", ghost.version), undefined, "getByNameVersion");
    assert.deepEqual(await listAll(adapter), [], "list");
  });

  test("of 10 concurrent replaces expecting the same revision exactly one succeeds", async (adapter) => {
    const original = makeModelRecord();
    await insertAll(adapter, [original]);
    const contenders = Array.from(
      { length: 10 },
      (_, i): ModelRecord => ({ ...original, description: `writer ${i}`, tags: [`w${i}`], revision: 2 }),
    );
    const results = await Promise.all(contenders.map((r) => adapter.replace(r, 1)));
    const ok = results.flatMap((r, i) => (r.status === "ok" ? [i] : []));
    assert.equal(ok.length, 1, `exactly one ok: ${JSON.stringify(results)}`);
    for (const [i, result] of results.entries()) {
      if (i !== ok[0]) assert.deepEqual(result, { status: "conflict", currentRevision: 2 }, `replace ${i}`);
    }
    assertRecord(
      await adapter.get(original.id),
      defined(contenders[defined(ok[0], "ok index")], "winner"),
      "the winner's state",
    );
  });
}

// ---------------------------------------------------------------------------
// Delete

function defineDeleteTests(test: TestFn): void {
  test("delete with the current revision removes the record from every read", async (adapter) => {
    const gone = makeModelRecord({ name: "gone" });
    const kept = makeModelRecord({ name: "kept" });
    await insertAll(adapter, [gone, kept]);
    assert.deepEqual(await adapter.delete(gone.id, 1), { status: "ok" });
    assert.equal(await adapter.get(gone.id), undefined, "get");
    assert.equal(await adapter.getByNameVersion(gone.name, gone.version), undefined, "getByNameVersion");
    assert.deepEqual(
      (await adapter.getMany([gone.id, kept.id])).map((r) => r.id),
      [kept.id],
      "getMany",
    );
    assert.deepEqual(keys(await listAll(adapter)), [key(kept)], "list");
  });

  test("delete without an expected revision removes the record at any revision", async (adapter) => {
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    assert.deepEqual(await adapter.replace({ ...record, description: "r2", revision: 2 }, 1), {
      status: "ok",
    });
    assert.deepEqual(await adapter.delete(record.id), { status: "ok" });
    assert.equal(await adapter.get(record.id), undefined);
  });

  test("delete with a wrong revision is a conflict and keeps the record", async (adapter) => {
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    assert.deepEqual(await adapter.delete(record.id, 5), { status: "conflict", currentRevision: 1 });
    assertRecord(await adapter.get(record.id), record, "still there");
    const next: ModelRecord = { ...record, revision: 2 };
    assert.deepEqual(await adapter.replace(next, 1), { status: "ok" });
    assert.deepEqual(
      await adapter.delete(record.id, 1),
      { status: "conflict", currentRevision: 2 },
      "stale revision",
    );
    assertRecord(await adapter.get(record.id), next, "still there after a stale delete");
  });

  test("delete of an unknown or already deleted id is notFound; so is replace after delete", async (adapter) => {
    assert.deepEqual(await adapter.delete(randomUUID()), { status: "notFound" }, "unknown id");
    assert.deepEqual(
      await adapter.delete(randomUUID(), 1),
      { status: "notFound" },
      "unknown id with a revision",
    );
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    assert.deepEqual(await adapter.delete(record.id), { status: "ok" });
    assert.deepEqual(await adapter.delete(record.id), { status: "notFound" }, "second delete");
    assert.deepEqual(
      await adapter.delete(record.id, 1),
      { status: "notFound" },
      "second delete with a revision",
    );
    assert.deepEqual(await adapter.replace({ ...record, revision: 2 }, 1), { status: "notFound" }, "replace");
    assert.equal(await adapter.get(record.id), undefined, "replace did not bring it back");
  });

  test("a deleted model's (name, version) can be used again", async (adapter) => {
    const first = makeModelRecord({ name: "reused", version: "1.0.0" });
    await insertAll(adapter, [first]);
    assert.deepEqual(await adapter.delete(first.id, 1), { status: "ok" });
    const second = makeModelRecord({ name: "reused", version: "1.0.0", description: "second life" });
    const result = await adapter.insert(second);
    assert.equal(result.status, "created", JSON.stringify(result));
    assertRecord(await adapter.getByNameVersion("reused", "1.0.0"), second, "getByNameVersion");
    assert.equal(await adapter.get(first.id), undefined, "the first stays deleted");
  });

  test("of 10 concurrent deletes exactly one succeeds", async (adapter) => {
    const record = makeModelRecord();
    await insertAll(adapter, [record]);
    const results = await Promise.all(Array.from({ length: 10 }, () => adapter.delete(record.id)));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "notFound",
      "ok",
    ]);
    assert.equal(await adapter.get(record.id), undefined);
  });
}

// ---------------------------------------------------------------------------
// Lost updates

function defineLostUpdateTests(test: TestFn): void {
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

// ---------------------------------------------------------------------------
// Change history (rule 8)

function defineChangeTests(test: TestFn): void {
  test("every write that changes something appends one change, numbered one past the latest", async (adapter) => {
    const empty = await adapter.readChanges(0, 10);
    assert.deepEqual(
      empty,
      { changes: [], latestRevision: 0, prunedThrough: 0 },
      "a new store has no history",
    );
    const record = makeModelRecord({ tags: ["a"], metadata: { k: "v" } });
    assert.equal((await adapter.insert(record)).status, "created");
    const updated: ModelRecord = { ...record, tags: ["b"], revision: 2, updateTime: record.updateTime + 1 };
    assert.equal((await adapter.replace(updated, 1)).status, "ok");
    // Failures and no-ops append nothing.
    assert.equal(
      (await adapter.insert({ ...makeModelRecord(), name: record.name, version: record.version })).status,
      "nameVersionTaken",
    );
    assert.equal((await adapter.replace({ ...updated, revision: 3 }, 1)).status, "conflict");
    assert.equal((await adapter.delete(record.id, 1)).status, "conflict");
    assert.equal((await adapter.delete(randomUUID())).status, "notFound");
    assert.equal((await adapter.delete(record.id)).status, "ok");

    const { changes, latestRevision, prunedThrough } = await adapter.readChanges(0, 10);
    assert.equal(latestRevision, 3);
    assert.equal(prunedThrough, 0);
    assert.deepEqual(
      changes.map((c) => [c.revision, c.type, c.model.id, c.model.revision, [...c.model.tags]]),
      [
        [1, "created", record.id, 1, ["a"]],
        [2, "updated", record.id, 2, ["b"]],
        // A delete reports the model's last state.
        [3, "deleted", record.id, 2, ["b"]],
      ],
    );
    assert.deepEqual(
      { ...changes[0]?.model },
      { ...record, tags: ["a"], metadata: { k: "v" } },
      "the model as created",
    );
    for (const change of changes) assert.ok(change.commitTime > 0, "a commit time");
  });

  test("reads a slice after a revision, up to a limit; limit 0 reads just the bounds", async (adapter) => {
    const records = Array.from({ length: 5 }, () => makeModelRecord());
    await insertAll(adapter, records);
    const page = await adapter.readChanges(1, 2);
    assert.deepEqual(
      page.changes.map((c) => [c.revision, c.model.id]),
      [
        [2, records[1]?.id],
        [3, records[2]?.id],
      ],
    );
    assert.equal(page.latestRevision, 5);
    const bounds = await adapter.readChanges(5, 0);
    assert.deepEqual(bounds, { changes: [], latestRevision: 5, prunedThrough: 0 });
    assert.deepEqual((await adapter.readChanges(5, 10)).changes, [], "nothing after the latest");
  });

  test("insertMany: each item as insert would, in order, later items seeing earlier ones", async (adapter) => {
    const existing = makeModelRecord({ name: "existing" });
    await insertAll(adapter, [existing]);
    const a = makeModelRecord({ name: "a", tags: ["t"], metadata: { k: "v" } });
    const b = makeModelRecord({ name: "b" });
    const results = await adapter.insertMany([
      { record: a, requestId: "req-a" },
      { record: makeModelRecord({ name: "existing", version: existing.version }) },
      { record: b },
      { record: makeModelRecord({ name: "b", version: b.version }) },
      { record: makeModelRecord({ name: "a-again" }), requestId: "req-a" },
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === "requestIdUsed" ? [r.status, r.existing.id] : r)),
      [
        { status: "created" },
        { status: "nameVersionTaken", existingId: existing.id },
        { status: "created" },
        { status: "nameVersionTaken", existingId: b.id },
        ["requestIdUsed", a.id],
      ],
    );
    assert.deepEqual(await adapter.get(a.id), { ...a, tags: ["t"], metadata: { k: "v" } });
    assert.deepEqual(await adapter.insertMany([]), []);
    const { changes } = await adapter.readChanges(0, 10);
    assert.deepEqual(
      changes.map((c) => [c.revision, c.type, c.model.name]),
      [
        [1, "created", "existing"],
        [2, "created", "a"],
        [3, "created", "b"],
      ],
      "one change per created item only",
    );
  });

  test("concurrent writers get consecutive revisions: no gap, no duplicate, one per write", async (adapter) => {
    const records = Array.from({ length: 12 }, (_, i) => makeModelRecord({ name: `w${i}` }));
    const clash = makeModelRecord({ name: "w0", version: records[0]?.version ?? "" });
    const results = await Promise.all([...records.map((r) => adapter.insert(r)), adapter.insert(clash)]);
    assert.equal(results.filter((r) => r.status === "created").length, 12);
    await Promise.all(
      records.map((r) =>
        adapter.replace({ ...r, description: "second", revision: 2, updateTime: r.updateTime + 1 }, 1),
      ),
    );
    const { changes, latestRevision } = await adapter.readChanges(0, 100);
    assert.equal(latestRevision, 24);
    assert.deepEqual(
      changes.map((c) => c.revision),
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    for (const r of records) {
      assert.deepEqual(
        changes.filter((c) => c.model.id === r.id).map((c) => c.type),
        ["created", "updated"],
        `the changes of ${r.name}, in order`,
      );
    }
  });
}

// ---------------------------------------------------------------------------
// Filters

function defineFilterTests(test: TestFn): void {
  const filterTest = (name: string, cases: readonly FilterCase[]) =>
    test(name, async (adapter) => {
      const fixture = await insertFixture(adapter, MAIN_ROWS);
      await checkFilterCases(adapter, fixture, cases);
    });

  filterTest("string comparisons of name, version and framework with every operator", [
    [f.str("name", "=", "alpha"), ["a1", "a2"]],
    [f.str("name", "!=", "alpha"), except("a1", "a2")],
    [f.str("name", "<", "beta"), ["a1", "a2"]],
    [f.str("name", "<=", "beta"), ["a1", "a2", "beta"]],
    [f.str("name", ">", "res_net"), ["zeta"]],
    [f.str("name", ">=", "res_net"), ["resnet", "zeta"]],
    [f.str("name", ">=", "m"), ["eclair", "omega", "resx", "resnet", "zeta"]],
    [f.str("name", "=", "alph"), []],
    [f.str("version", "=", "1.0.0"), ["a1", "resnet", "resx", "omega", "zeta"]],
    [f.str("version", ">", "2"), ["a2", "delta"]],
    [f.str("version", "<", "1.0.0"), ["beta"]],
    [f.str("version", "<=", "1.0.0"), ["beta", "a1", "resnet", "resx", "omega", "zeta"]],
    [f.str("framework", "=", ""), ["gamma"]],
    [f.str("framework", ">", ""), except("gamma")],
    [f.str("framework", "!=", "pytorch"), ["beta", "resx", "gamma", "eclair", "omega", "delta"]],
    [f.str("framework", ">=", "sklearn"), ["beta", "delta"]],
  ]);

  filterTest("prefix matches with = and != (wildcard characters in the prefix are literal)", [
    [f.prefix("name", "=", "al"), ["a1", "a2"]],
    [f.prefix("name", "=", "alpha"), ["a1", "a2"]],
    [f.prefix("name", "=", "res"), ["resnet", "resx"]],
    [f.prefix("name", "=", "res_"), ["resnet"]],
    [f.prefix("name", "!=", "res_"), except("resnet")],
    [f.prefix("name", "=", "models/"), ["eclair"]],
    [f.prefix("name", "=", "%"), []],
    [f.prefix("name", "=", "_"), []],
    [f.prefix("name", "=", "Al"), []],
    [f.prefix("name", "=", "alphabet"), []],
    [f.prefix("version", "=", "1."), ["a1", "resnet", "resx", "eclair", "omega", "zeta"]],
    [f.prefix("version", "=", "1.0.0+"), ["eclair"]],
    [f.prefix("framework", "=", "py"), ["a1", "a2", "resnet", "zeta"]],
    [f.prefix("framework", "!=", "py"), ["beta", "resx", "gamma", "eclair", "omega", "delta"]],
  ]);

  filterTest("time comparisons of create_time and update_time with every operator, to the microsecond", [
    [f.time("create_time", "=", T0 + 60), ["omega", "zeta"]],
    [f.time("create_time", "!=", T0 + 60), except("omega", "zeta")],
    [f.time("create_time", "<", T0 + 10), ["a1", "a2"]],
    [f.time("create_time", "<=", T0 + 10), ["a1", "a2", "beta"]],
    [f.time("create_time", ">", T0 + 60), ["delta"]],
    [f.time("create_time", ">=", T0 + 60), ["omega", "zeta", "delta"]],
    [f.time("create_time", "=", T0 + 1), ["a2"]],
    [f.time("create_time", "<", T0 + 1), ["a1"]],
    [f.time("update_time", ">", T0 + 100), ["resnet", "zeta"]],
    [f.time("update_time", ">=", T0 + 100), ["a1", "resnet", "zeta"]],
    [f.time("update_time", "=", T0 + 50), ["a2", "eclair"]],
    [f.time("update_time", "!=", T0 + 50), except("a2", "eclair")],
    [f.time("update_time", "<=", T0 + 30), ["beta", "resx"]],
    [f.time("update_time", "<", T0 + 10), []],
  ]);

  filterTest("metadata comparisons: an absent key never matches, NOT of it does", [
    [f.meta("team", "=", "cv"), ["a1", "a2", "resnet", "delta"]],
    [f.meta("team", "!=", "cv"), ["beta", "omega", "zeta"]],
    [f.not(f.meta("team", "=", "cv")), ["beta", "resx", "gamma", "eclair", "omega", "zeta"]],
    [f.not(f.meta("team", "!=", "cv")), ["a1", "a2", "resnet", "delta", "resx", "gamma", "eclair"]],
    [f.meta("team", ">", "nlp"), ["omega"]],
    [f.meta("team", "<", "nlp"), ["a1", "a2", "resnet", "delta"]],
    [f.meta("team", ">=", "nlp"), ["beta", "zeta", "omega"]],
    [f.meta("team", "<=", "cv"), ["a1", "a2", "resnet", "delta"]],
    [f.meta("stage", "=", ""), ["beta"]],
    [f.meta("stage", "!=", "prod"), ["beta", "resx", "delta"]],
    [f.meta("stage", "<", "prod"), ["beta", "delta"]],
    [f.meta("stage", ">", "prod"), ["resx"]],
    [f.meta("stage", ">=", "prod"), ["a1", "resx", "zeta"]],
    [f.metaPrefix("team", "=", "n"), ["beta", "zeta"]],
    [f.metaPrefix("team", "!=", "n"), ["a1", "a2", "resnet", "omega", "delta"]],
    [f.not(f.metaPrefix("team", "=", "n")), except("beta", "zeta")],
    [f.meta("owner.email", "=", "zoë@example.com"), ["resnet"]],
    [f.metaPrefix("owner.email", "=", "zo"), ["resnet"]],
    [f.meta("owner", "=", "z"), ["zeta"]],
    [f.meta("note", "=", "😀 ok"), ["gamma"]],
    [f.metaPrefix("note", "=", "😀"), ["gamma"]],
    [f.meta("team", "=", "😀"), ["omega"]],
    [f.meta("missing", "=", ""), []],
    [f.meta("missing", "!=", "x"), []],
    [f.meta("missing", "<", "zzz"), []],
    [f.not(f.meta("missing", "=", "x")), ALL],
  ]);

  filterTest("hasTag matches a whole tag, exactly", [
    [f.tag("prod"), ["a1", "beta", "omega", "zeta"]],
    [f.tag("vision"), ["a1", "a2", "zeta", "delta"]],
    [f.tag("cv/backbone"), ["resnet"]],
    [f.tag("Prod"), []],
    [f.tag("pro"), []],
    [f.tag("prod "), []],
    [f.tag("%"), []],
    [f.not(f.tag("prod")), except("a1", "beta", "omega", "zeta")],
  ]);

  filterTest("hasMetadataKey matches a whole key, exactly (dots are not paths)", [
    [f.hasKey("team"), except("resx", "gamma", "eclair")],
    [f.hasKey("stage"), ["a1", "beta", "resx", "zeta", "delta"]],
    [f.hasKey("owner.email"), ["resnet"]],
    [f.hasKey("owner"), ["zeta"]],
    [f.hasKey("tea"), []],
    [f.hasKey("Team"), []],
    [f.not(f.hasKey("team")), ["resx", "gamma", "eclair"]],
  ]);

  filterTest("and, or and not, nested", [
    [f.and(f.tag("prod"), f.str("framework", "=", "pytorch")), ["a1", "zeta"]],
    [f.or(f.str("name", "=", "beta"), f.tag("experimental")), ["beta", "gamma"]],
    [f.not(f.or(f.tag("prod"), f.tag("vision"))), ["resnet", "resx", "gamma", "eclair"]],
    [
      f.and(f.or(f.str("framework", "=", "jax"), f.str("framework", "=", "onnx")), f.not(f.hasKey("team"))),
      ["resx", "eclair"],
    ],
    [
      f.or(
        f.and(f.prefix("name", "=", "al"), f.str("version", "=", "2.0.0")),
        f.and(f.time("create_time", ">=", T0 + 60), f.not(f.tag("prod"))),
      ),
      ["a2", "delta"],
    ],
    [f.not(f.not(f.tag("vision"))), ["a1", "a2", "zeta", "delta"]],
    [f.and(f.tag("staging")), ["resx", "zeta"]],
    [f.or(f.tag("staging")), ["resx", "zeta"]],
    [
      f.or(f.meta("team", "=", "cv"), f.meta("stage", "=", "staging")),
      ["a1", "a2", "resnet", "delta", "resx"],
    ],
    [f.not(f.and(f.tag("prod"), f.not(f.meta("team", "=", "nlp")))), except("a1", "omega")],
    [
      f.and(
        f.or(f.tag("prod"), f.tag("staging")),
        f.or(f.meta("stage", "=", "prod"), f.time("update_time", "<", T0 + 50)),
      ),
      ["a1", "beta", "resx", "zeta"],
    ],
    [f.and(f.tag("prod"), f.tag("vision"), f.tag("staging")), ["zeta"]],
    [f.or(f.tag("nope"), f.hasKey("nope"), f.str("name", "=", "nope")), []],
  ]);

  const caseRows: readonly (readonly [string, Partial<ModelRecord>])[] = [
    ["lower", { name: "alpha", tags: ["prod"], metadata: { team: "x", Team: "X" } }],
    ["title", { name: "Alpha", tags: ["Prod"], metadata: { team: "X" } }],
    ["upper", { name: "ALPHA", tags: ["PROD"], metadata: { team: "x " } }],
  ];
  test("string matching is case-sensitive and exact (no case folding, no space padding)", async (adapter) => {
    const fixture = await insertFixture(adapter, caseRows);
    await checkFilterCases(adapter, fixture, [
      [f.str("name", "=", "alpha"), ["lower"]],
      [f.str("name", "=", "ALPHA"), ["upper"]],
      [f.str("name", "!=", "alpha"), ["title", "upper"]],
      [f.str("name", "<", "a"), ["title", "upper"]],
      [f.str("name", ">", "Alpha"), ["lower"]],
      [f.prefix("name", "=", "al"), ["lower"]],
      [f.prefix("name", "=", "AL"), ["upper"]],
      [f.prefix("name", "!=", "Al"), ["lower", "upper"]],
      [f.tag("prod"), ["lower"]],
      [f.tag("Prod"), ["title"]],
      [f.hasKey("Team"), ["lower"]],
      [f.meta("team", "=", "x"), ["lower"]],
      [f.meta("team", "=", "X"), ["title"]],
      [f.meta("team", "=", "x "), ["upper"]],
      [f.metaPrefix("team", "=", "x"), ["lower", "upper"]],
      [f.meta("Team", "=", "x"), []],
    ]);
  });

  test("string comparisons go by code point, as UTF-8 bytes do (rule 5)", async (adapter) => {
    // Code point order puts U+FB01 before U+1F600; JavaScript's UTF-16 `<` would put the surrogate 0xD83D first.
    const fixture = await insertFixture(adapter, [
      ["ascii", { metadata: { k: "z" } }],
      ["latin", { metadata: { k: "é" } }],
      ["emoji", { metadata: { k: "😀" } }],
      ["ligature", { metadata: { k: "\uFB01" } }],
      ["fullwidth", { metadata: { k: "\uFF21" } }],
    ]);
    await checkFilterCases(adapter, fixture, [
      [f.meta("k", "<", "\uFB01"), ["ascii", "latin"]],
      [f.meta("k", ">=", "😀"), ["emoji"]],
      [f.meta("k", ">", "\uE000"), ["emoji", "ligature", "fullwidth"]],
      [f.meta("k", "<=", "😀"), ["ascii", "latin", "emoji", "ligature", "fullwidth"]],
    ]);
  });
}

// ---------------------------------------------------------------------------
// Ordering

function defineOrderingTests(test: TestFn): void {
  const orderTest = (orderBy: readonly OrderTerm[]) =>
    test(`orders by ${showOrder(orderBy)}, ties by id ascending`, async (adapter) => {
      const fixture = await insertFixture(adapter, MAIN_ROWS);
      const expected = sortRecords(fixture.values(), orderBy);
      assert.deepEqual(keys(await listAll(adapter, orderBy)), keys(expected));
    });

  for (const field of ORDER_FIELDS) {
    orderTest([{ field, descending: false }]);
    orderTest([{ field, descending: true }]);
  }
  orderTest([
    { field: "framework", descending: false },
    { field: "create_time", descending: true },
  ]);
  orderTest([
    { field: "version", descending: true },
    { field: "name", descending: false },
  ]);
  orderTest([
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

// ---------------------------------------------------------------------------
// Keyset paging

function definePagingTests(test: TestFn): void {
  const walkTest = (orderBy: readonly OrderTerm[], limit = 3) =>
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

  walkTest(NAME_ASC);
  walkTest([{ field: "name", descending: true }]);
  walkTest([{ field: "version", descending: false }]);
  walkTest([{ field: "framework", descending: true }]);
  walkTest([{ field: "create_time", descending: false }]);
  walkTest([{ field: "update_time", descending: true }]);
  walkTest([
    { field: "framework", descending: false },
    { field: "create_time", descending: true },
  ]);
  walkTest([
    { field: "version", descending: true },
    { field: "name", descending: false },
  ]);
  walkTest([{ field: "create_time", descending: true }], 1);

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
    assert.deepEqual(await adapter.delete(last.id), { status: "ok" });
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
  const stabilityTest = (
    orderBy: readonly OrderTerm[],
    initial: () => ModelRecord[],
    around: (cursor: ModelRecord, step: number) => ModelRecord[],
  ) =>
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
          assert.deepEqual(await adapter.delete(victim.id), { status: "ok" });
          deleted.add(victim.id);
        }
        if (step === 1) {
          assert.deepEqual(await adapter.delete(cursor.id), { status: "ok" });
          deleted.add(cursor.id);
        }
      });
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
    });

  stabilityTest(
    NAME_ASC,
    () => Array.from({ length: 12 }, (_, i) => makeModelRecord({ name: `m-${String(i).padStart(2, "0")}` })),
    (cursor, step) => [
      makeModelRecord({ name: `a-${step}` }),
      makeModelRecord({ name: `z-${step}` }),
      makeModelRecord({ name: cursor.name, version: `tie-${step}` }),
    ],
  );

  stabilityTest(
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

// ---------------------------------------------------------------------------
// Limits and empty results

function defineLimitTests(test: TestFn): void {
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
