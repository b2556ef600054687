import assert from "node:assert/strict";
import { Code } from "@modelreg/proto";
import type { ModelRecord, StorageAdapter, StorageCallOptions } from "../storage/adapter";
import { plainAlias, plainChange } from "./alias-fixtures";
import { assertRejectsWithCode, plain, withoutRevision } from "./assertions";
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
  /** As `letThrough`, for writes whose result holds times: the status it has once let through. */
  readonly letThroughStatus?: string;
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
  [
    "setAlias",
    (seeded) => {
      const request = {
        name: seeded.name,
        alias: "champion",
        version: seeded.version,
        requestId: "req-refused-set",
      };
      return { call: (a, o) => a.setAlias(request, o), letThroughStatus: "set" };
    },
  ],
  ["getAlias", (seeded) => ({ call: (a, o) => a.getAlias(seeded.name, "champion", o) })],
  ["listAliases", () => ({ call: (a, o) => a.listAliases({ limit: 10 }, o) })],
  [
    "resolveAlias",
    (seeded) => ({ call: (a, o) => a.resolveAlias(seeded.name, "champion", Date.now() * 1000, o) }),
  ],
  ["listHistory", () => ({ call: (a, o) => a.listHistory({ limit: 10 }, o) })],
  [
    "deleteAlias",
    (seeded) => ({ call: (a, o) => a.deleteAlias({ name: seeded.name, alias: "champion" }, o) }),
  ],
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

/** Everything a refused call must leave as it was: the records, the aliases and the change history. */
async function snapshot(adapter: StorageAdapter): Promise<unknown> {
  const records = (await listAll(adapter)).map(plain);
  const aliases = (await adapter.listAliases({ limit: 1000 })).map(plainAlias);
  const history = await adapter.readChanges(0, 1000);
  return {
    records,
    aliases,
    history: { ...history, changes: history.changes.map(plainChange) },
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
      const { call, letThrough, letThroughStatus } = prepare(seeded);
      const before = await snapshot(adapter);
      await assertRejectsWithCode(() => call(adapter, options.refused()), options.code, method);
      assert.deepEqual(await snapshot(adapter), before, `${method} changed nothing`);
      if (letThrough !== undefined) {
        assert.deepEqual(
          withoutRevision(await call(adapter)),
          letThrough,
          `${method} without options afterwards`,
        );
      }
      if (letThroughStatus !== undefined) {
        const result = (await call(adapter)) as { status: string };
        assert.equal(result.status, letThroughStatus, `${method} without options afterwards`);
      }
    });
  }
  test(`every method ${options.allowedWhen} runs as usual`, async (adapter) => {
    const seeded = makeModelRecord();
    await insertAll(adapter, [seeded]);
    for (const [method, prepare] of METHODS) {
      if (method === "delete") continue; // The replace before it spent revision 1; delete runs last below.
      const { call, letThrough, letThroughStatus } = prepare(seeded);
      const result = await call(adapter, options.allowed());
      if (letThrough !== undefined) assert.deepEqual(withoutRevision(result), letThrough, method);
      if (letThroughStatus !== undefined)
        assert.equal((result as { status: string }).status, letThroughStatus, method);
    }
    const last = await adapter.get(seeded.id, options.allowed());
    assert.equal(last?.revision, 2, "the replace was stored");
    assert.equal(
      await adapter.getAlias(seeded.name, "champion", options.allowed()),
      undefined,
      "deleteAlias ran",
    );
    assert.deepEqual(
      withoutRevision(await adapter.delete(seeded.id, 2, options.allowed())),
      { status: "ok" },
      "delete",
    );
    const { latestRevision } = await adapter.readChanges(0, 10, options.allowed());
    assert.equal(
      latestRevision,
      8,
      "eight entries: seed, insert, insertMany's 2, replace, setAlias, deleteAlias, delete",
    );
  });
}
