import assert from "node:assert/strict";
import type { ModelRecord, StorageAdapter } from "../storage/adapter";
import {
  allChanges,
  insertVersions,
  latestRevision,
  plainResolution,
  REFUSAL,
  setOk,
  version,
} from "./alias-fixtures";
import { withoutRevision } from "./assertions";
import type { TestFn } from "./harness";

/** The aliases the test follows. */
const FOLLOWED = [
  ["bert", "champion"],
  ["bert", "staging"],
  ["gpt", "champion"],
] as const;

/** After each revision: how each followed alias resolves now (no read time). */
type Expected = Map<number, unknown[]>;

async function resolveNow(adapter: StorageAdapter): Promise<unknown[]> {
  return Promise.all(
    FOLLOWED.map(async ([name, alias]) => plainResolution(await adapter.resolveAlias(name, alias))),
  );
}

/** Runs `write`, asserts it appended exactly one entry, and records the state after it. */
async function step(
  adapter: StorageAdapter,
  expected: Expected,
  what: string,
  write: () => Promise<unknown>,
) {
  const before = await latestRevision(adapter);
  await write();
  const after = await latestRevision(adapter);
  assert.equal(after, before + 1, `${what}: one entry`);
  expected.set(after, await resolveNow(adapter));
}

function bump(model: ModelRecord, description: string, revision: number): ModelRecord {
  return { ...model, description, revision, updateTime: model.updateTime + revision };
}

/** Alias moves, roll-backs, a refusal, a delete and model updates, on two names; records the state after each. */
async function playHistory(adapter: StorageAdapter, expected: Expected): Promise<void> {
  const bert = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0", "2.0.0"]);
  const gpt = await insertVersions(adapter, "gpt", ["1.0.0"]);
  for (let r = 1; r <= 4; r++) expected.set(r, await resolveNow(adapter));
  const v = (x: string) => version(bert, x);
  const set = (name: string, alias: string, ver: string) => () =>
    setOk(adapter, { name, alias, version: ver });
  await step(adapter, expected, "set champion 1.0.0", set("bert", "champion", "1.0.0"));
  await step(adapter, expected, "update 1.0.0", () => adapter.replace(bump(v("1.0.0"), "r2", 2), 1));
  await step(adapter, expected, "set gpt champion", set("gpt", "champion", "1.0.0"));
  await step(adapter, expected, "move champion 1.1.0", set("bert", "champion", "1.1.0"));
  await step(adapter, expected, "set staging 2.0.0", set("bert", "staging", "2.0.0"));
  await step(adapter, expected, "update 1.1.0", () => adapter.replace(bump(v("1.1.0"), "r2", 2), 1));
  await step(adapter, expected, "update 1.1.0 again", () => adapter.replace(bump(v("1.1.0"), "r3", 3), 2));
  await step(adapter, expected, "refused move of champion", () =>
    adapter.setAlias({ name: "bert", alias: "champion", version: "2.0.0", check: async () => REFUSAL }),
  );
  await step(adapter, expected, "move champion 2.0.0", set("bert", "champion", "2.0.0"));
  await step(adapter, expected, "update gpt", () => adapter.replace(bump(version(gpt, "1.0.0"), "g2", 2), 1));
  await step(adapter, expected, "roll champion back to 1.0.0", set("bert", "champion", "1.0.0"));
  await step(adapter, expected, "delete staging", () =>
    adapter.deleteAlias({ name: "bert", alias: "staging" }),
  );
  await step(adapter, expected, "update 1.0.0 again", () => adapter.replace(bump(v("1.0.0"), "r3", 3), 2));
  await step(adapter, expected, "set staging again 1.1.0", set("bert", "staging", "1.1.0"));
  await step(adapter, expected, "delete 2.0.0 (no alias)", () => adapter.delete(v("2.0.0").id));
  const forced = await adapter.delete(v("1.1.0").id, undefined, { force: true });
  assert.deepEqual(withoutRevision(forced), { status: "ok" }, "force delete of 1.1.0 (staging points at it)");
  const last = await latestRevision(adapter);
  expected.set(last - 1, await resolveNow(adapter));
  expected.set(last, await resolveNow(adapter));
}

/** Registers the time-travel tests of resolveAlias with a read time. */
export function defineTimeTravelTests(test: TestFn): void {
  test("resolveAlias at EVERY entry's commit time returns each alias and its model exactly as after that entry", async (adapter) => {
    const expected: Expected = new Map();
    await playHistory(adapter, expected);
    const changes = await allChanges(adapter);
    assert.deepEqual(
      changes.map((c) => c.revision),
      [...expected.keys()].sort((a, b) => a - b),
      "the history holds one entry per write made",
    );
    for (const [i, change] of changes.entries()) {
      if (i > 0) {
        const previous = changes[i - 1]?.commitTime ?? 0;
        assert.ok(change.commitTime > previous, `commit times strictly increase: entry ${change.revision}`);
      }
      const at = await Promise.all(
        FOLLOWED.map(async ([n, a]) => plainResolution(await adapter.resolveAlias(n, a, change.commitTime))),
      );
      assert.deepEqual(
        at,
        expected.get(change.revision),
        `at the commit time of entry ${change.revision} (${change.type} ${change.model.name}@${change.model.version}${change.alias ? ` alias ${change.alias.alias}` : ""}${change.refusal ? " refused" : ""}): ${FOLLOWED.map((f) => f.join("@")).join(", ")}`,
      );
    }
  });

  test("resolveAlias before the alias's first move is notFound; between two entries it is as after the earlier", async (adapter) => {
    const expected: Expected = new Map();
    await playHistory(adapter, expected);
    const changes = await allChanges(adapter);
    const first = changes[0]?.commitTime ?? 0;
    for (const [name, alias] of FOLLOWED) {
      assert.deepEqual(
        await adapter.resolveAlias(name, alias, first - 1),
        { status: "notFound" },
        `${name}@${alias}`,
      );
      assert.deepEqual(await adapter.resolveAlias(name, alias, 0), { status: "notFound" }, "at time 0");
    }
    for (const change of changes.slice(1)) {
      const at = await Promise.all(
        FOLLOWED.map(async ([n, a]) =>
          plainResolution(await adapter.resolveAlias(n, a, change.commitTime - 1)),
        ),
      );
      assert.deepEqual(
        at,
        expected.get(change.revision - 1),
        `just before entry ${change.revision}: as after the one before`,
      );
    }
    const future = (changes.at(-1)?.commitTime ?? 0) + 3_600_000_000;
    assert.deepEqual(
      await Promise.all(
        FOLLOWED.map(async ([n, a]) => plainResolution(await adapter.resolveAlias(n, a, future))),
      ),
      await resolveNow(adapter),
      "a read time after the last entry resolves as now",
    );
  });
}
