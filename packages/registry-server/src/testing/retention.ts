import assert from "node:assert/strict";
import type { ModelRecord, StorageAdapter } from "../storage/adapter";
import { insertVersions, setOk } from "./alias-fixtures";
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
    assert.deepEqual(await adapter.replace(next, model.revision), { status: "ok" }, `write ${i}`);
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
    "retainChanges 5 and retainHistory 5: old entries are pruned, the latest 5 kept, an older read time is historyPruned",
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
      const resolved = await adapter.resolveAlias("bert", "champion", page.changes[0]?.commitTime ?? 0);
      assert.deepEqual(
        resolved,
        { status: "historyPruned", prunedThrough: page.prunedThrough },
        "the alias's entry was pruned, so where it pointed then is unknown",
      );
      const now = await adapter.resolveAlias("bert", "champion");
      assert.equal(now.status, "found", "without a read time the alias still resolves");
    },
  );
}
