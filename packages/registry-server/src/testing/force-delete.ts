import assert from "node:assert/strict";
import type { AliasRecord } from "../storage/adapter";
import {
  assertAlias,
  assertNoEntrySince,
  insertVersions,
  latestRevision,
  maybeAlias,
  plainAlias,
  setOk,
  version,
} from "./alias-fixtures";
import { assertRecord, plain, withoutRevision } from "./assertions";
import type { TestFn } from "./harness";

/** Registers the tests of deleting a model aliases point at (rule 9). */
export function defineForceDeleteTests(test: TestFn): void {
  defineAliasedTests(test);
  defineForcedTests(test);
  defineCheckedTests(test);
}

function defineAliasedTests(test: TestFn): void {
  test("delete of a model aliases point at is aliased, naming every alias of it (by alias), and changes nothing", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const target = version(models, "1.0.0");
    const staging = await setOk(adapter, { name: "bert", alias: "staging", version: "1.0.0" });
    const champion = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const other = await setOk(adapter, { name: "bert", alias: "other", version: "1.1.0" });
    const before = await latestRevision(adapter);
    for (const [what, result] of [
      ["without expectedRevision", await adapter.delete(target.id)],
      ["with the current revision", await adapter.delete(target.id, 1)],
      ["with force: false", await adapter.delete(target.id, undefined, { force: false })],
    ] as const) {
      assert.equal(result.status, "aliased", `${what}: ${JSON.stringify(result)}`);
      if (result.status !== "aliased") continue;
      assert.deepEqual(
        result.aliases.map((a: AliasRecord) => plainAlias(a)),
        [plainAlias(champion), plainAlias(staging)],
        `${what}: the aliases pointing at it, ordered by alias (not bert@other, which points elsewhere)`,
      );
    }
    assertRecord(await adapter.get(target.id), target, "the model is still there");
    assertAlias(await adapter.getAlias("bert", "champion"), champion, "champion is still there");
    assertAlias(await adapter.getAlias("bert", "other"), other, "other is untouched");
    await assertNoEntrySince(adapter, before, "aliased");
  });
}

function defineForcedTests(test: TestFn): void {
  test("force deletes the model's aliases in the same step: one alias_deleted entry per alias, then the deleted entry", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const target = version(models, "1.0.0");
    const aliases = [
      await setOk(adapter, { name: "bert", alias: "staging", version: "1.0.0" }),
      await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" }),
    ];
    const other = await setOk(adapter, { name: "bert", alias: "other", version: "1.1.0" });
    const before = await latestRevision(adapter);
    assert.deepEqual(withoutRevision(await adapter.delete(target.id, 1, { force: true, actor: "admin" })), {
      status: "ok",
    });
    const { changes } = await adapter.readChanges(before, 10);
    assert.deepEqual(
      changes.map((c) => c.revision),
      [before + 1, before + 2, before + 3],
      "three consecutive entries",
    );
    assert.deepEqual(
      changes.map((c) => c.type),
      ["alias_deleted", "alias_deleted", "deleted"],
      "aliases first, then the model",
    );
    const deletedAliases = changes
      .slice(0, 2)
      .map((c) => maybeAlias(c.alias))
      .sort((a, b) => ((a?.alias ?? "") < (b?.alias ?? "") ? -1 : 1));
    assert.deepEqual(deletedAliases, [
      plainAlias(aliases[1] as AliasRecord),
      plainAlias(aliases[0] as AliasRecord),
    ]);
    for (const change of changes) {
      assert.deepEqual(
        plain(change.model),
        plain(target),
        `entry ${change.revision}: model is the deleted model`,
      );
      assert.equal(change.actor, "admin", `entry ${change.revision}: the actor`);
      assert.equal(change.refusal, undefined);
    }
    assert.equal(await adapter.get(target.id), undefined, "the model is gone");
    assert.equal(await adapter.getAlias("bert", "champion"), undefined, "champion is gone");
    assert.equal(await adapter.getAlias("bert", "staging"), undefined, "staging is gone");
    assert.deepEqual(await adapter.resolveAlias("bert", "champion"), { status: "notFound" });
    assert.deepEqual(
      (await adapter.listAliases({ name: "bert", limit: 10 })).map(plainAlias),
      [plainAlias(other)],
      "only bert@other is left",
    );
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.1.0", expectedVersion: "" });
  });

  test("force on a model without aliases deletes it as usual, with one deleted entry; force still checks the revision", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0"]);
    const target = version(models, "1.0.0");
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const before = await latestRevision(adapter);
    assert.deepEqual(await adapter.delete(target.id, 7, { force: true }), {
      status: "conflict",
      currentRevision: 1,
    });
    await assertNoEntrySince(adapter, before, "a forced delete with a stale revision");
    assert.ok(await adapter.getAlias("bert", "champion"), "the alias stays after the conflict");
    const plainModel = await insertVersions(adapter, "gpt", ["1.0.0"]);
    const afterInsert = await latestRevision(adapter);
    assert.deepEqual(
      withoutRevision(await adapter.delete(version(plainModel, "1.0.0").id, undefined, { force: true })),
      {
        status: "ok",
      },
    );
    const { changes } = await adapter.readChanges(afterInsert, 10);
    assert.deepEqual(
      changes.map((c) => c.type),
      ["deleted"],
    );
  });
}

const protectedRefusal = {
  code: "PERMISSION_DENIED",
  message: "bert@production is protected: deleting it needs the admin role.",
  reason: "ALIAS_PROTECTED",
  violations: [],
} as const;

function defineCheckedTests(test: TestFn): void {
  test("a forced delete asks checkAliases with the aliases it would delete; a refusal is one recorded alias_deleted entry and nothing is deleted", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0"]);
    const target = version(models, "1.0.0");
    const staging = await setOk(adapter, { name: "bert", alias: "staging", version: "1.0.0" });
    const production = await setOk(adapter, { name: "bert", alias: "production", version: "1.0.0" });
    const before = await latestRevision(adapter);
    const asked: string[][] = [];
    const result = await adapter.delete(target.id, undefined, {
      force: true,
      actor: "ops",
      checkAliases: (aliases) => {
        asked.push(aliases.map((a) => a.alias).sort());
        const named = aliases.find((a) => a.alias === "production");
        return named && { alias: named, refusal: protectedRefusal };
      },
    });
    assert.deepEqual(asked, [["production", "staging"]], "checkAliases saw every alias of the model, once");
    assert.equal(result.status, "refused", JSON.stringify(result));
    if (result.status !== "refused") return;
    assert.deepEqual({ ...result.refusal }, { ...protectedRefusal });
    assert.equal(result.revision, before + 1, "the refusal takes the next revision");
    const { changes } = await adapter.readChanges(before, 10);
    assert.equal(changes.length, 1, "one entry: the refusal");
    const [entry] = changes;
    assert.equal(entry?.type, "alias_deleted");
    assert.equal(entry?.actor, "ops");
    assert.equal(entry?.alias?.alias, "production", "the entry names the refused alias");
    assert.deepEqual({ ...entry?.refusal }, { ...protectedRefusal });
    assertRecord(await adapter.get(target.id), target, "the model is still there");
    assertAlias(await adapter.getAlias("bert", "production"), production, "production is still there");
    assertAlias(await adapter.getAlias("bert", "staging"), staging, "staging is still there");
    // Allowed: the same delete goes through.
    const allowed = await adapter.delete(target.id, undefined, {
      force: true,
      checkAliases: () => undefined,
    });
    assert.deepEqual(withoutRevision(allowed), { status: "ok" });
    assert.equal(await adapter.getAlias("bert", "production"), undefined);
  });
}
