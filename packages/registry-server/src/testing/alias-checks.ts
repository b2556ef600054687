import assert from "node:assert/strict";
import { Code } from "@modelreg/proto";
import type { AliasRecord, AliasRefusal, ChangeRecord, ModelRecord } from "../storage/adapter";
import { maxCheckRounds } from "../storage/check-rounds";
import {
  allChanges,
  assertAlias,
  assertNoEntrySince,
  insertVersions,
  latestRevision,
  maybeAlias,
  onlyEntrySince,
  plainAlias,
  plainRefusal,
  REFUSAL,
  setOk,
  version,
} from "./alias-fixtures";
import { assertRecord, plain, withoutRevision } from "./assertions";
import type { TestFn } from "./harness";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers the tests of the promotion policy's `check` callback of setAlias and deleteAlias. */
export function defineAliasCheckTests(test: TestFn): void {
  defineCheckCallTests(test);
  defineRefusalTests(test);
  defineDeleteCheckTests(test);
  defineLockedStateTests(test);
  defineKeptChangingTests(test);
}

function defineCheckCallTests(test: TestFn): void {
  test("check is called with the target and the current alias, and only when the alias would change", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const calls: [ModelRecord, AliasRecord | undefined][] = [];
    const check = async (target: ModelRecord, current: AliasRecord | undefined) => {
      calls.push([target, current]);
      return undefined;
    };
    const created = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0", check });
    assert.equal(calls.length, 1, "called once for a new alias");
    assertRecord(calls[0]?.[0], version(models, "1.0.0"), "check's target");
    assert.equal(calls[0]?.[1], undefined, "no current alias yet");
    calls.length = 0;
    const unchanged = await adapter.setAlias({ name: "bert", alias: "champion", version: "1.0.0", check });
    assert.equal(unchanged.status, "unchanged", JSON.stringify(unchanged));
    const lost = await adapter.setAlias({
      name: "bert",
      alias: "champion",
      version: "1.1.0",
      expectedVersion: "",
      check,
    });
    assert.equal(lost.status, "aliasChanged", JSON.stringify(lost));
    const missing = await adapter.setAlias({ name: "bert", alias: "champion", version: "9.9.9", check });
    assert.equal(missing.status, "versionNotFound", JSON.stringify(missing));
    assert.equal(calls.length, 0, "not called for unchanged, aliasChanged or versionNotFound");
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.1.0", check });
    assert.equal(calls.length, 1, "called for a move");
    assertRecord(calls[0]?.[0], version(models, "1.1.0"), "the move's target");
    assertAlias(calls[0]?.[1], created, "the alias as it is before the move");
  });

  test("a check that throws fails setAlias with that error and records nothing", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const alias = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const before = await latestRevision(adapter);
    const boom = new Error("policy hook failed");
    await assert.rejects(
      adapter.setAlias({
        name: "bert",
        alias: "champion",
        version: "1.1.0",
        check: async () => Promise.reject(boom),
      }),
      (error) => error === boom || (error instanceof Error && error.message.includes("policy hook failed")),
      "setAlias rejects with the check's error",
    );
    assertAlias(await adapter.getAlias("bert", "champion"), alias, "not moved");
    await assertNoEntrySince(adapter, before, "a check that threw");
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.1.0" });
  });
}

function defineRefusalTests(test: TestFn): void {
  test("a refused move is recorded (one entry with the refusal, the move asked for, actor, request id) and moves nothing", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const current = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const before = await latestRevision(adapter);
    const request = { name: "bert", alias: "champion", version: "1.1.0", requestId: "req-refused" };
    const result = await adapter.setAlias({ ...request, check: async () => REFUSAL }, { actor: "writer" });
    assert.equal(result.status, "refused", JSON.stringify(result));
    const entry = await onlyEntrySince(adapter, before, "a refused move");
    if (result.status === "refused") {
      assert.deepEqual(plainRefusal(result.refusal), REFUSAL, "the refusal is returned");
      assert.equal(result.revision, entry.revision, "refused.revision is the entry's");
    }
    assert.equal(entry.type, "alias_set", "a refused move is an alias_set entry");
    assert.deepEqual(entry.refusal && plainRefusal(entry.refusal), REFUSAL, "the entry holds the refusal");
    assert.equal(entry.actor, "writer");
    assert.equal(entry.requestId, "req-refused");
    assertRecord(entry.model, version(models, "1.1.0"), "the entry's model is the target asked for");
    const asked = entry.alias && { ...plainAlias(entry.alias), revision: 0, updateTime: 0, updatedBy: "" };
    assert.deepEqual(
      asked,
      {
        name: "bert",
        alias: "champion",
        version: "1.1.0",
        modelId: version(models, "1.1.0").id,
        revision: 0,
        updateTime: 0,
        updatedBy: "",
      },
      "the entry's alias is the move asked for",
    );
    assert.deepEqual(
      maybeAlias(entry.aliasBefore),
      plainAlias(current),
      "aliasBefore: the alias as it stays",
    );
    assertAlias(await adapter.getAlias("bert", "champion"), current, "not moved");
    const resolved = await adapter.resolveAlias("bert", "champion");
    assert.equal(resolved.status === "found" && resolved.model.version, "1.0.0", "resolves as before");
  });

  test("a refused move does not use up its request id: the same request, allowed later, moves the alias", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0"]);
    const request = { name: "bert", alias: "champion", version: "1.0.0", requestId: "req-retry" };
    const refused = await adapter.setAlias({ ...request, check: async () => REFUSAL });
    assert.equal(refused.status, "refused", JSON.stringify(refused));
    const retried = await adapter.setAlias({ ...request, check: async () => undefined });
    assert.equal(retried.status, "set", `the retry after the refusal: ${JSON.stringify(retried)}`);
  });
}

function defineDeleteCheckTests(test: TestFn): void {
  test("deleteAlias's check gets the alias and its target; a refusal is recorded as an alias_deleted entry and deletes nothing", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0"]);
    const alias = await setOk(adapter, { name: "bert", alias: "production", version: "1.0.0" });
    const calls: [AliasRecord, ModelRecord][] = [];
    const refuse = async (current: AliasRecord, target: ModelRecord): Promise<AliasRefusal> => {
      calls.push([current, target]);
      return { ...REFUSAL, code: "PERMISSION_DENIED", reason: "PROMOTION_ROLE_REQUIRED", violations: [] };
    };
    const before = await latestRevision(adapter);
    const result = await adapter.deleteAlias(
      { name: "bert", alias: "production", check: refuse },
      { actor: "writer" },
    );
    assert.equal(result.status, "refused", JSON.stringify(result));
    assert.equal(calls.length, 1, "check called once");
    assertAlias(calls[0]?.[0], alias, "check's current alias");
    assertRecord(calls[0]?.[1], version(models, "1.0.0"), "check's target");
    const entry = await onlyEntrySince(adapter, before, "a refused delete");
    if (result.status === "refused") assert.equal(result.revision, entry.revision);
    assert.equal(entry.type, "alias_deleted");
    assert.equal(entry.refusal?.code, "PERMISSION_DENIED", "the entry holds the refusal");
    assert.equal(entry.actor, "writer");
    assert.deepEqual(maybeAlias(entry.alias), plainAlias(alias), "alias: the alias it would delete");
    assert.deepEqual(entry.model && plain(entry.model), plain(version(models, "1.0.0")), "model: its target");
    assertAlias(await adapter.getAlias("bert", "production"), alias, "still there");
    const allowed = await adapter.deleteAlias({
      name: "bert",
      alias: "production",
      check: async () => undefined,
    });
    assert.equal(allowed.status, "deleted", JSON.stringify(allowed));
  });
}

/** The model as the latest model entry (created/updated) before `entry` left it. */
function modelBefore(changes: readonly ChangeRecord[], entry: ChangeRecord): ModelRecord | undefined {
  const earlier = changes.filter(
    (c) =>
      c.revision < entry.revision &&
      c.model.id === entry.model.id &&
      (c.type === "created" || c.type === "updated"),
  );
  return earlier.at(-1)?.model;
}

/**
 * Asserts each alias_set entry holds the state its move was decided on: its
 * model as the target's latest model entry before it left it, its
 * aliasBefore as the alias's latest committed entry before it left it.
 */
export function assertConsistentAliasEntries(changes: readonly ChangeRecord[]): void {
  const aliases = new Map<string, AliasRecord | undefined>();
  for (const entry of changes) {
    if (entry.type !== "alias_set" && entry.type !== "alias_deleted") continue;
    const key = `${entry.model.name}@${entry.alias?.alias}`;
    if (entry.type === "alias_set") {
      const latest = modelBefore(changes, entry);
      assert.deepEqual(
        plain(entry.model),
        latest && plain(latest),
        `entry ${entry.revision}: the target as its latest entry left it (no write to it came between check and move)`,
      );
      assert.deepEqual(
        maybeAlias(entry.aliasBefore),
        maybeAlias(aliases.get(key)),
        `entry ${entry.revision}: aliasBefore is the alias as the previous move left it`,
      );
    }
    if (entry.refusal) continue;
    aliases.set(key, entry.type === "alias_set" ? entry.alias : undefined);
  }
}

function defineLockedStateTests(test: TestFn): void {
  test("what check saw is what the move commits: writes to the target or the alias made during the check are not lost", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0", "1.2.0"], {
      metadata: { eval: "pass" },
    });
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const target = version(models, "1.1.0");
    let concurrent: Promise<unknown>[] = [];
    let seen: [ModelRecord, AliasRecord | undefined] | undefined;
    const check = async (t: ModelRecord, current: AliasRecord | undefined) => {
      seen = [t, current];
      if (concurrent.length === 0) {
        // Started, not awaited: an adapter that locks makes them wait for the move to commit.
        const failed = {
          ...target,
          metadata: { eval: "fail" },
          revision: 2,
          updateTime: target.updateTime + 1,
        };
        concurrent = [
          adapter.replace(failed, 1),
          adapter.setAlias({ name: "bert", alias: "champion", version: "1.2.0" }),
        ];
        await sleep(50);
      }
      return t.metadata.eval === "pass" ? undefined : REFUSAL;
    };
    const result = await adapter.setAlias({ name: "bert", alias: "champion", version: "1.1.0", check });
    const [replaced, moved] = await Promise.all(concurrent);
    assert.deepEqual(
      withoutRevision(replaced),
      { status: "ok" },
      "the concurrent replace of the target succeeds",
    );
    assert.equal(
      (moved as { status: string }).status,
      "set",
      `the concurrent move: ${JSON.stringify(moved)}`,
    );
    assert.ok(
      result.status === "set" || result.status === "refused",
      `the checked move: ${JSON.stringify(result)}`,
    );
    const changes = await allChanges(adapter);
    const checked = changes.find((c) => c.type === "alias_set" && c.alias?.version === "1.1.0");
    assert.ok(checked, "the checked move's entry (set or refused)");
    assert.ok(seen, "check was called");
    assert.deepEqual(plain(checked.model), plain(seen[0]), "the entry's target is the one check last saw");
    assert.deepEqual(
      maybeAlias(checked.aliasBefore),
      maybeAlias(seen[1]),
      "aliasBefore is the alias check last saw",
    );
    assertConsistentAliasEntries(changes);
  });
}

function defineKeptChangingTests(test: TestFn): void {
  test("a move whose target changes during every check gives up with ABORTED after a bounded number of checks, recording nothing of its own", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0"]);
    let target = version(models, "1.0.0");
    const before = await latestRevision(adapter);
    let checks = 0;
    const check = async () => {
      checks++;
      // Each check sees a target that is stale by the time it answers.
      const next = { ...target, revision: target.revision + 1, updateTime: target.updateTime + 1 };
      assert.deepEqual(withoutRevision(await adapter.replace(next, target.revision)), { status: "ok" });
      target = next;
      return undefined;
    };
    await assert.rejects(
      adapter.setAlias({ name: "bert", alias: "champion", version: "1.0.0", check }),
      (error: { code?: unknown; reason?: unknown }) =>
        error.code === Code.ABORTED && error.reason === "TRANSACTION_CONFLICT",
      "ABORTED with reason TRANSACTION_CONFLICT",
    );
    assert.ok(checks >= 2 && checks <= 10, `checked a bounded number of times (${checks})`);
    const changes = (await adapter.readChanges(before, 100)).changes;
    assert.deepEqual(
      changes.map((c) => c.type),
      Array.from({ length: checks }, () => "updated"),
      "only the concurrent updates were recorded",
    );
    assert.equal(await adapter.getAlias("bert", "champion"), undefined);
  });

  test("a move settled by another writer during its last check answers that (aliasChanged), not ABORTED", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0"]);
    let target = version(models, "1.0.0");
    let checks = 0;
    const check = async () => {
      checks++;
      if (checks < maxCheckRounds) {
        const next = { ...target, revision: target.revision + 1, updateTime: target.updateTime + 1 };
        assert.deepEqual(withoutRevision(await adapter.replace(next, target.revision)), { status: "ok" });
        target = next;
      } else {
        // On the last round the alias is created by someone else: the compare-and-set ("") now fails.
        await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
      }
      return undefined;
    };
    const result = await adapter.setAlias({
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      expectedVersion: "",
      check,
    });
    assert.equal(result.status, "aliasChanged", JSON.stringify(result));
    assert.equal(checks, maxCheckRounds);
  });
}
