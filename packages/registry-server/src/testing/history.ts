import assert from "node:assert/strict";
import type {
  ChangeRecord,
  HistoryQuery,
  HistoryRecord,
  ModelRecord,
  StorageAdapter,
} from "../storage/adapter";
import { allChanges, insertVersions, plainChange, REFUSAL, setOk, version } from "./alias-fixtures";
import { plain, withoutRevision } from "./assertions";
import { makeModelRecord } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of listHistory and of what every entry records (actor, request id). */
export function defineHistoryTests(test: TestFn): void {
  defineOrderTests(test);
  defineFilterTests(test);
  defineBeforeTests(test);
  defineActorTests(test);
}

function bump(model: ModelRecord, description: string): ModelRecord {
  return { ...model, description, revision: model.revision + 1, updateTime: model.updateTime + 1 };
}

/** A varied history: two names, three actors, aliases set, moved, refused and deleted, updates, deletes. */
async function playHistory(adapter: StorageAdapter): Promise<void> {
  const alice = { actor: "alice" };
  const bob = { actor: "bob" };
  const bert = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
  const gpt = await insertVersions(adapter, "gpt", ["1.0.0"]);
  await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" }, alice);
  await setOk(adapter, { name: "gpt", alias: "champion", version: "1.0.0" }, bob);
  const b10 = bump(version(bert, "1.0.0"), "second");
  assert.deepEqual(withoutRevision(await adapter.replace(b10, 1, bob)), { status: "ok" });
  await setOk(adapter, { name: "bert", alias: "staging", version: "1.1.0" }, alice);
  const refused = await adapter.setAlias(
    { name: "bert", alias: "champion", version: "1.1.0", check: async () => REFUSAL },
    bob,
  );
  assert.equal(refused.status, "refused");
  await setOk(
    adapter,
    { name: "bert", alias: "champion", version: "1.1.0", expectedVersion: "1.0.0" },
    alice,
  );
  assert.deepEqual(withoutRevision(await adapter.replace(bump(b10, "third"), 2, { actor: "carol" })), {
    status: "ok",
  });
  assert.equal((await adapter.deleteAlias({ name: "gpt", alias: "champion" }, bob)).status, "deleted");
  assert.deepEqual(withoutRevision(await adapter.delete(version(gpt, "1.0.0").id, undefined, alice)), {
    status: "ok",
  });
  await insertVersions(adapter, "bert", ["2.0.0"]);
}

/** What `query` must return from `all` (oldest first): the contract's own model of ListModelHistory. */
function expectedFor(all: readonly ChangeRecord[], query: HistoryQuery): number[] {
  return all
    .filter(
      (c) =>
        (query.name === undefined || c.model.name === query.name) &&
        (query.alias === undefined || c.alias?.alias === query.alias) &&
        (query.modelId === undefined || c.model.id === query.modelId) &&
        (query.actor === undefined || c.actor === query.actor) &&
        (query.types === undefined || query.types.includes(c.type)) &&
        (query.refused === undefined || (c.refusal !== undefined) === query.refused) &&
        (query.fromTime === undefined || c.commitTime >= query.fromTime) &&
        (query.toTime === undefined || c.commitTime <= query.toTime) &&
        (query.beforeRevision === undefined || c.revision < query.beforeRevision),
    )
    .map((c) => c.revision)
    .reverse()
    .slice(0, query.limit);
}

const revisions = (records: readonly HistoryRecord[]) => records.map((r) => r.revision);

function defineOrderTests(test: TestFn): void {
  test("listHistory lists every entry newest first, revisions gapless, commit times strictly decreasing, as readChanges has them", async (adapter) => {
    await playHistory(adapter);
    const all = await allChanges(adapter);
    const listed = await adapter.listHistory({ limit: 1000 });
    const latest = all.length;
    assert.deepEqual(
      revisions(listed),
      Array.from({ length: latest }, (_, i) => latest - i),
      "every revision from the latest down to 1, no gap",
    );
    for (const [i, entry] of listed.entries()) {
      const older = listed[i + 1];
      if (older)
        assert.ok(
          entry.commitTime > older.commitTime,
          `entry ${entry.revision} committed after ${older.revision}`,
        );
      const { before: _before, ...change } = entry;
      assert.deepEqual(
        plainChange(change),
        plainChange(all[entry.revision - 1] as ChangeRecord),
        `entry ${entry.revision} is the same in listHistory and readChanges`,
      );
    }
    assert.deepEqual(
      revisions(await adapter.listHistory({ limit: 3 })),
      [latest, latest - 1, latest - 2],
      "limit",
    );
  });

  test("listHistory pages with beforeRevision, alone and with a condition, with no gap or repeat", async (adapter) => {
    await playHistory(adapter);
    const all = await allChanges(adapter);
    const queries: Omit<HistoryQuery, "limit">[] = [
      {},
      { name: "bert" },
      { types: ["alias_set"] },
      // Several types and nothing narrower: SQL reads a page per type and merges them.
      { types: ["created", "alias_set", "alias_deleted"] },
      { types: ["alias_set", "created"], refused: false },
      { refused: true },
    ];
    for (const query of queries) {
      const seen: number[] = [];
      let beforeRevision: number | undefined;
      for (let round = 0; round < 100; round++) {
        const page = await adapter.listHistory({ ...query, beforeRevision, limit: 2 });
        seen.push(...revisions(page));
        if (page.length < 2) break;
        beforeRevision = page.at(-1)?.revision;
      }
      assert.deepEqual(
        seen,
        expectedFor(all, { ...query, limit: 1000 }),
        `pages of 2 of ${JSON.stringify(query)}`,
      );
    }
  });
}

function defineFilterTests(test: TestFn): void {
  test("listHistory filters by name, alias, modelId, actor, types, refused, fromTime/toTime (inclusive), ANDed", async (adapter) => {
    await playHistory(adapter);
    const all = await allChanges(adapter);
    const bert10 = all.find((c) => c.model.name === "bert" && c.model.version === "1.0.0")?.model.id;
    const mid = all[Math.floor(all.length / 2)]?.commitTime ?? 0;
    const third = all[2]?.commitTime ?? 0;
    const queries: HistoryQuery[] = [
      { name: "bert", limit: 100 },
      { name: "gpt", limit: 100 },
      { name: "bert", alias: "champion", limit: 100 },
      { name: "gpt", alias: "champion", limit: 100 },
      { modelId: bert10, limit: 100 },
      { actor: "alice", limit: 100 },
      { actor: "anonymous", limit: 100 },
      { actor: "nobody", limit: 100 },
      { types: ["alias_set", "alias_deleted"], limit: 100 },
      { types: ["created", "deleted"], limit: 100 },
      { types: ["created", "alias_set", "created"], limit: 3 },
      { types: ["updated", "alias_set"], refused: true, limit: 100 },
      { types: ["created", "alias_set"], fromTime: third, toTime: mid, limit: 100 },
      { types: ["updated"], name: "bert", limit: 100 },
      { refused: true, limit: 100 },
      { refused: false, types: ["alias_set"], limit: 100 },
      { fromTime: mid, limit: 100 },
      { toTime: mid, limit: 100 },
      { fromTime: third, toTime: mid, limit: 100 },
      { fromTime: mid, toTime: mid, limit: 100 },
      { name: "bert", actor: "bob", limit: 100 },
      { name: "bert", toTime: mid, types: ["alias_set"], limit: 1 },
      { modelId: bert10, beforeRevision: all.length, fromTime: third, limit: 100 },
    ];
    const failures: string[] = [];
    for (const query of queries) {
      const got = revisions(await adapter.listHistory(query));
      const want = expectedFor(all, query);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        failures.push(
          `listHistory(${JSON.stringify(query)}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`,
        );
      }
    }
    assert.deepEqual(failures, [], `the history is:\n${all.map(describe).join("\n")}`);
  });
}

/** One line per entry, for failure messages. */
function describe(c: ChangeRecord): string {
  const alias = c.alias ? ` ${c.alias.name}@${c.alias.alias}->${c.alias.version}` : "";
  return `${c.revision} ${c.commitTime} ${c.type} ${c.model.name}@${c.model.version}${alias} by ${c.actor}${c.refusal ? " REFUSED" : ""}`;
}

function defineBeforeTests(test: TestFn): void {
  test("listHistory fills before for updated and deleted (the model after its previous change), for no other type", async (adapter) => {
    const first = makeModelRecord({ name: "bert", description: "first", tags: ["a"] });
    assert.equal((await adapter.insert(first)).status, "created");
    await setOk(adapter, { name: "bert", alias: "champion", version: first.version });
    const second = bump(first, "second");
    assert.deepEqual(withoutRevision(await adapter.replace(second, 1)), { status: "ok" });
    const third = { ...bump(second, "third"), tags: ["b"] };
    assert.deepEqual(withoutRevision(await adapter.replace(third, 2)), { status: "ok" });
    assert.deepEqual(withoutRevision(await adapter.delete(first.id, undefined, { force: true })), {
      status: "ok",
    });
    const listed = await adapter.listHistory({ limit: 100 });
    assert.deepEqual(
      listed.map((r) => [r.type, r.before?.description]),
      [
        ["deleted", "third"],
        ["alias_deleted", undefined],
        ["updated", "second"],
        ["updated", "first"],
        ["alias_set", undefined],
        ["created", undefined],
      ],
      "before of each entry, newest first: deleted's is the last state; an alias entry is not the model's change",
    );
    const [deleted, , updated3, updated2] = listed;
    assert.deepEqual(
      deleted?.before && plain(deleted.before),
      plain(third),
      "deleted: before is the last state",
    );
    assert.deepEqual(
      updated3?.before && plain(updated3.before),
      plain(second),
      "updated: before is the previous state",
    );
    assert.deepEqual(
      updated2?.before && plain(updated2.before),
      plain(first),
      "the first update: before is as created",
    );
  });
}

function defineActorTests(test: TestFn): void {
  test("every entry records the call's actor (anonymous when absent) and the request id of an insert or move", async (adapter) => {
    const a = makeModelRecord({ name: "a" });
    const b = makeModelRecord({ name: "b" });
    const c = makeModelRecord({ name: "c" });
    assert.equal((await adapter.insert(a, "req-a", { actor: "alice" })).status, "created");
    const many = await adapter.insertMany([{ record: b, requestId: "req-b" }, { record: c }], {
      actor: "bob",
    });
    assert.deepEqual(withoutRevision(many), [{ status: "created" }, { status: "created" }]);
    assert.deepEqual(withoutRevision(await adapter.replace(bump(a, "2"), 1)), { status: "ok" });
    await setOk(
      adapter,
      { name: "a", alias: "champion", version: a.version, requestId: "req-move" },
      { actor: "dave" },
    );
    assert.equal(
      (await adapter.deleteAlias({ name: "a", alias: "champion" }, { actor: "erin" })).status,
      "deleted",
    );
    assert.deepEqual(withoutRevision(await adapter.delete(b.id, undefined, { actor: "frank" })), {
      status: "ok",
    });
    assert.deepEqual(withoutRevision(await adapter.delete(c.id)), { status: "ok" });
    const changes = await allChanges(adapter);
    assert.deepEqual(
      changes.map((ch) => [ch.type, ch.model.name, ch.actor, ch.requestId]),
      [
        ["created", "a", "alice", "req-a"],
        ["created", "b", "bob", "req-b"],
        ["created", "c", "bob", ""],
        ["updated", "a", "anonymous", ""],
        ["alias_set", "a", "dave", "req-move"],
        ["alias_deleted", "a", "erin", ""],
        ["deleted", "b", "frank", ""],
        ["deleted", "c", "anonymous", ""],
      ],
      "[type, name, actor, requestId] of each entry",
    );
  });
}
