import assert from "node:assert/strict";
import { Code } from "@modelreg/proto";
import type { ModelRecord, StorageAdapter, StorageCallOptions } from "../storage/adapter";
import { assertRejectsWithCode, plain } from "./assertions";
import { listAll, NAME_ASC } from "./expected-order";
import { insertAll, makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** One method call, made with the same arguments each time it is called. */
interface MethodCall {
  readonly call: (adapter: StorageAdapter, options?: StorageCallOptions) => Promise<unknown>;
  /**
   * For writes, what the same call returns once let through: that it
   * succeeds then shows the refused try left nothing behind (no request id
   * used, no name taken, no revision spent).
   */
  readonly letThrough?: unknown;
}

/** Every StorageAdapter method that takes call options, as a call on a store holding `seeded` at revision 1. */
const METHODS: readonly (readonly [method: string, prepare: (seeded: ModelRecord) => MethodCall])[] = [
  [
    "insert",
    () => {
      const record = makeModelRecord();
      return { call: (a, o) => a.insert(record, "req-refused-insert", o), letThrough: { status: "created" } };
    },
  ],
  [
    "insertMany",
    () => {
      const items = [
        { record: makeModelRecord(), requestId: "req-refused-insert-many" },
        { record: makeModelRecord() },
      ];
      return {
        call: (a, o) => a.insertMany(items, o),
        letThrough: [{ status: "created" }, { status: "created" }],
      };
    },
  ],
  ["get", (seeded) => ({ call: (a, o) => a.get(seeded.id, o) })],
  ["getByNameVersion", (seeded) => ({ call: (a, o) => a.getByNameVersion(seeded.name, seeded.version, o) })],
  ["getMany", (seeded) => ({ call: (a, o) => a.getMany([seeded.id], o) })],
  ["list", () => ({ call: (a, o) => a.list({ orderBy: NAME_ASC, limit: 10 }, o) })],
  [
    "replace",
    (seeded) => {
      const next = { ...seeded, description: "replaced", revision: 2, updateTime: seeded.updateTime + 1 };
      return { call: (a, o) => a.replace(next, 1, o), letThrough: { status: "ok" } };
    },
  ],
  ["delete", (seeded) => ({ call: (a, o) => a.delete(seeded.id, 1, o), letThrough: { status: "ok" } })],
  ["readChanges", () => ({ call: (a, o) => a.readChanges(0, 10, o) })],
];

/** How the tests of one capability refuse and allow calls. */
export interface CallOptionsCase {
  /** The code a refused call rejects with. */
  readonly code: Code;
  /** How test names describe the refused calls, e.g. "with a deadline already past". */
  readonly refusedWhen: string;
  /** Options that must make every call fail before it changes anything. */
  readonly refused: () => StorageCallOptions;
  /** How test names describe the allowed calls. */
  readonly allowedWhen: string;
  /** Options of the same kind that must let every call through. */
  readonly allowed: () => StorageCallOptions;
}

/** Everything a refused call must leave as it was: the records and the change history. */
async function snapshot(adapter: StorageAdapter): Promise<unknown> {
  const records = (await listAll(adapter)).map(plain);
  const history = await adapter.readChanges(0, 1000);
  return {
    records,
    history: { ...history, changes: history.changes.map((c) => ({ ...c, model: plain(c.model) })) },
  };
}

/**
 * Registers, per method, a test that a call with `refused()` options
 * rejects with `code` and changes nothing, and one test that calls with
 * `allowed()` options behave as usual.
 */
export function defineCallOptionsTests(test: TestFn, options: CallOptionsCase): void {
  for (const [method, prepare] of METHODS) {
    test(`${method} ${options.refusedWhen} rejects with ${Code[options.code]} and changes nothing`, async (adapter) => {
      const seeded = makeModelRecord({ tags: ["seeded"], metadata: { k: "v" } });
      await insertAll(adapter, [seeded]);
      const { call, letThrough } = prepare(seeded);
      const before = await snapshot(adapter);
      await assertRejectsWithCode(() => call(adapter, options.refused()), options.code, method);
      assert.deepEqual(await snapshot(adapter), before, `${method} changed nothing`);
      if (letThrough !== undefined) {
        assert.deepEqual(await call(adapter), letThrough, `${method} without options afterwards`);
      }
    });
  }
  test(`every method ${options.allowedWhen} runs as usual`, async (adapter) => {
    const seeded = makeModelRecord();
    await insertAll(adapter, [seeded]);
    for (const [method, prepare] of METHODS) {
      if (method === "delete") continue; // The replace before it spent revision 1; delete runs last below.
      const { call, letThrough } = prepare(seeded);
      const result = await call(adapter, options.allowed());
      if (letThrough !== undefined) assert.deepEqual(result, letThrough, method);
    }
    const last = await adapter.get(seeded.id, options.allowed());
    assert.equal(last?.revision, 2, "the replace was stored");
    assert.deepEqual(await adapter.delete(seeded.id, 2, options.allowed()), { status: "ok" }, "delete");
    assert.equal((await adapter.readChanges(0, 10, options.allowed())).latestRevision, 6, "six writes");
  });
}
