import assert from "node:assert/strict";
import type { AliasRecord, ModelRecord, StorageAdapter } from "../storage/adapter";
import { insertVersions, setOk } from "./alias-fixtures";
import { plain, withoutRevision } from "./assertions";
import type { TestFn } from "./harness";

const WRITES = 60;

/** An alias set first, then `WRITES` updates of another model: the alias's entry is old. */
async function writeMany(adapter: StorageAdapter): Promise<{ readonly aliasSetAt: number }> {
  const models = await insertVersions(adapter, "bert", ["1.0.0", "2.0.0"]);
  await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
  const aliasSetAt = (await adapter.readChanges(0, 0)).latestRevision;
  let model = models.get("2.0.0") as ModelRecord;
  for (let i = 0; i < WRITES; i++) {
    const next = {
      ...model,
      description: `write ${i}`,
      revision: model.revision + 1,
      updateTime: model.updateTime + 1,
    };
    assert.deepEqual(
      withoutRevision(await adapter.replace(next, model.revision)),
      { status: "ok" },
      `write ${i}`,
    );
    model = next;
  }
  return { aliasSetAt };
}

/** Asserts nothing was pruned: the whole history is there, time travel to the start works. */
async function assertKeptWhole(adapter: StorageAdapter, settings: string): Promise<void> {
  const page = await adapter.readChanges(0, 1000);
  const total = WRITES + 3;
  assert.equal(page.prunedThrough, 0, `${settings}: nothing may be pruned (prunedThrough)`);
  assert.equal(page.changes.length, total, `${settings}: every entry is kept (readChanges)`);
  assert.equal(
    (await adapter.listHistory({ limit: 1000 })).length,
    total,
    `${settings}: listHistory lists all`,
  );
  const firstMove = page.changes[2]?.commitTime ?? 0;
  const resolved = await adapter.resolveAlias("bert", "champion", firstMove);
  assert.equal(
    resolved.status,
    "found",
    `${settings}: time travel to the first move: ${JSON.stringify(resolved)}`,
  );
}

/**
 * Registers the retention tests: the history is pruned only past both
 * `retainChanges` and `retainHistory`. Each gets its adapter from
 * `createAdapter(settings)` with the windows named in its title.
 */
export function defineRetentionTests(
  testWith: (settings: { retainChanges?: number; retainHistory?: number }) => TestFn,
): void {
  testWith({ retainChanges: 5 })(
    "retainChanges 5 without retainHistory: nothing is pruned (the history is an audit log)",
    (adapter) => writeMany(adapter).then(() => assertKeptWhole(adapter, "retainChanges 5")),
  );

  testWith({ retainChanges: 1000, retainHistory: 5 })(
    "retainHistory 5 with retainChanges 1000: nothing is pruned (entries go only past both windows)",
    (adapter) =>
      writeMany(adapter).then(() => assertKeptWhole(adapter, "retainChanges 1000 + retainHistory 5")),
  );

  testWith({ retainChanges: 5, retainHistory: 5 })(
    "retainChanges 5 and retainHistory 5: old entries are pruned, the latest 5 kept",
    async (adapter) => {
      const { aliasSetAt } = await writeMany(adapter);
      const page = await adapter.readChanges(0, 1000);
      assert.ok(
        page.prunedThrough > aliasSetAt,
        `the alias's entry (revision ${aliasSetAt}) is pruned after ${WRITES} more writes; prunedThrough is ${page.prunedThrough}. Does createAdapter pass its settings ({ retainChanges, retainHistory }) to the adapter?`,
      );
      const latest = page.latestRevision;
      assert.ok(
        latest - page.prunedThrough >= 5,
        `at least the latest 5 kept (prunedThrough ${page.prunedThrough} of ${latest})`,
      );
      assert.deepEqual(
        page.changes.map((c) => c.revision),
        Array.from({ length: latest - page.prunedThrough }, (_, i) => page.prunedThrough + 1 + i),
        "readChanges(0) starts right after prunedThrough",
      );
      const listed = await adapter.listHistory({ limit: 1000 });
      assert.equal(listed.at(-1)?.revision, page.prunedThrough + 1, "listHistory lists no pruned entry");
      const now = await adapter.resolveAlias("bert", "champion");
      assert.equal(now.status, "found", "without a read time the alias still resolves");
    },
  );

  testWith({ retainChanges: 5, retainHistory: 5 })(
    "retainHistory 5: time travel is exact where the kept entries and the current alias and model prove it, historyPruned only where nothing does",
    async (adapter) => {
      await writeMany(adapter);
      await assertTimeTravelPastPruning(adapter);
    },
  );

  testWith({ retainChanges: 5, retainHistory: 5 })(
    "retainHistory 5: an alias whose model was written after the alias was set, both pruned, is historyPruned before the oldest kept entry, found from it on",
    async (adapter) => {
      const [gpt] = [...(await insertVersions(adapter, "gpt", ["1.0.0"])).values()] as [ModelRecord];
      const set = await setOk(adapter, { name: "gpt", alias: "stable", version: "1.0.0" });
      const edited = { ...gpt, description: "edited", revision: 2, updateTime: gpt.updateTime + 1 };
      assert.deepEqual(withoutRevision(await adapter.replace(edited, 1)), { status: "ok" }, "the edit");
      await writeMany(adapter);
      const oldest = (await adapter.readChanges(0, 1000)).changes[0]?.commitTime ?? 0;
      const stable = (time: number, want: Parameters<typeof expectAt>[3], why: string) =>
        expectAt(adapter, "stable", time, want, why, "gpt");
      await stable(set.updateTime, "historyPruned", "set then, but the model's edit since was pruned");
      await stable(oldest, { version: "1.0.0", model: edited }, "no kept entry of the model: as it is now");
    },
  );
}

/** Resolves `alias` of bert at `readTime`: found with the alias's version and the model as `model` is, or `status`. */
async function expectAt(
  adapter: StorageAdapter,
  alias: string,
  readTime: number,
  want: { readonly version: string; readonly model: ModelRecord } | "notFound" | "historyPruned",
  why: string,
  name = "bert",
): Promise<void> {
  const got = await adapter.resolveAlias(name, alias, readTime);
  if (typeof want === "string") {
    assert.equal(got.status, want, `${alias} at ${readTime} (${why}): ${JSON.stringify(got)}`);
    return;
  }
  assert.equal(got.status, "found", `${alias} at ${readTime} (${why}): ${JSON.stringify(got)}`);
  const found = got as { alias: AliasRecord; model: ModelRecord };
  assert.equal(found.alias.version, want.version, `${alias} at ${readTime} (${why}): the version`);
  assert.deepEqual(plain(found.model), plain(want.model), `${alias} at ${readTime} (${why}): the model`);
}

/**
 * After {@link writeMany} pruned champion's entry: champion, set long ago
 * and never moved, resolves at any time since it was set (its row proves
 * it); an alias that never existed is notFound from the oldest kept entry
 * on; then champion is moved and the kept move's aliasBefore tells where it
 * pointed before it.
 */
async function assertTimeTravelPastPruning(adapter: StorageAdapter): Promise<void> {
  const models = await adapter.list({ orderBy: [{ field: "name", descending: false }], limit: 10 });
  const byVersion = (v: string) => models.find((m) => m.version === v) as ModelRecord;
  const v1 = byVersion("1.0.0");
  const page = await adapter.readChanges(0, 1000);
  assert.ok(page.prunedThrough > 0, "writeMany pruned the history");
  const oldest = page.changes[0]?.commitTime ?? 0;
  const newest = page.changes.at(-1)?.commitTime ?? 0;
  const set = (await adapter.getAlias("bert", "champion")) as AliasRecord;
  const champion10 = { version: "1.0.0", model: v1 };
  await expectAt(adapter, "champion", newest, champion10, "now: never moved since it was set");
  await expectAt(adapter, "champion", oldest, champion10, "the oldest kept entry's time");
  await expectAt(adapter, "champion", set.updateTime, champion10, "the time it was set");
  await expectAt(adapter, "champion", set.updateTime - 1, "historyPruned", "before it was set, pruned");
  await expectAt(adapter, "never", oldest, "notFound", "never existed, at the oldest kept entry");
  await expectAt(adapter, "never", newest, "notFound", "never existed, now");
  await expectAt(adapter, "never", set.updateTime, "historyPruned", "before the oldest kept entry");

  const moved = await setOk(adapter, { name: "bert", alias: "champion", version: "2.0.0" });
  const after = await adapter.readChanges(0, 1000);
  const keptFrom = after.changes[0]?.commitTime ?? 0;
  assert.ok(keptFrom < moved.updateTime, "the move is not the oldest kept entry");
  const v2 = { version: "2.0.0", model: byVersion("2.0.0") };
  await expectAt(adapter, "champion", moved.updateTime, v2, "the move's time");
  await expectAt(
    adapter,
    "champion",
    moved.updateTime - 1,
    champion10,
    "just before the move (its aliasBefore)",
  );
  await expectAt(adapter, "champion", keptFrom, champion10, "the oldest kept entry (the move's aliasBefore)");
  await expectAt(adapter, "champion", set.updateTime, "historyPruned", "before the oldest kept entry");
}
