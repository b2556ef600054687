import assert from "node:assert/strict";
import type { AliasRecord } from "../storage/adapter";
import {
  assertAlias,
  assertNoEntrySince,
  insertVersions,
  latestRevision,
  maybeAlias,
  onlyEntrySince,
  plainAlias,
  plainChange,
  setOk,
  version,
} from "./alias-fixtures";
import { assertRecord, plain } from "./assertions";
import type { TestFn } from "./harness";

/** Registers the tests of setAlias, getAlias, deleteAlias and resolveAlias (rule 9), without policy checks. */
export function defineAliasTests(test: TestFn): void {
  defineSetTests(test);
  defineOutcomeTests(test);
  defineCompareAndSetTests(test);
  defineRequestIdTests(test);
  defineDeleteAliasTests(test);
}

function defineSetTests(test: TestFn): void {
  test("setAlias creates an alias: set, pointing at the version's id, revision = its history entry's, updatedBy = the actor", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const target = version(models, "1.0.0");
    const before = await latestRevision(adapter);
    const result = await adapter.setAlias(
      { name: "bert", alias: "champion", version: "1.0.0" },
      { actor: "alice" },
    );
    assert.equal(result.status, "set", JSON.stringify(result));
    if (result.status !== "set") return;
    assertRecord(result.target, target, "setAlias's target");
    const entry = await onlyEntrySince(adapter, before, "setAlias");
    const expected: AliasRecord = {
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      modelId: target.id,
      revision: entry.revision,
      updateTime: entry.commitTime,
      updatedBy: "alice",
    };
    assertAlias(result.alias, expected, "setAlias's alias");
    assertAlias(await adapter.getAlias("bert", "champion"), expected, "getAlias");
    assert.deepEqual(
      plainChange(entry),
      {
        ...plainChange(entry),
        type: "alias_set",
        model: plain(target),
        actor: "alice",
        requestId: "",
        alias: expected,
      },
      "the entry: alias_set, model = the target, alias = the alias after, no aliasBefore, no refusal",
    );
    assert.equal(entry.aliasBefore, undefined, "a new alias has no aliasBefore");
    assert.equal(entry.refusal, undefined, "a move made has no refusal");
  });

  test("moving an alias: the entry has aliasBefore = the alias as it was, getAlias and resolveAlias show the new target", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const first = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const before = await latestRevision(adapter);
    const second = await setOk(
      adapter,
      { name: "bert", alias: "champion", version: "1.1.0" },
      { actor: "bob" },
    );
    const entry = await onlyEntrySince(adapter, before, "the move");
    assert.equal(entry.type, "alias_set");
    assert.deepEqual(
      maybeAlias(entry.aliasBefore),
      plainAlias(first),
      "aliasBefore is the alias before the move",
    );
    assert.deepEqual(maybeAlias(entry.alias), plainAlias(second), "alias is the alias after the move");
    assert.equal(second.modelId, version(models, "1.1.0").id);
    assert.equal(second.updatedBy, "bob");
    assertAlias(await adapter.getAlias("bert", "champion"), second, "getAlias after the move");
    const resolved = await adapter.resolveAlias("bert", "champion");
    assert.equal(resolved.status, "found", JSON.stringify(resolved));
    if (resolved.status === "found") {
      assertAlias(resolved.alias, second, "resolveAlias's alias");
      assertRecord(resolved.model, version(models, "1.1.0"), "resolveAlias's model");
    }
  });
}

function defineOutcomeTests(test: TestFn): void {
  test("aliases belong to a name: the same alias on two names is two aliases; unknown ones are undefined / notFound", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0"]);
    await insertVersions(adapter, "gpt", ["1.0.0", "2.0.0"]);
    const bert = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const gpt = await setOk(adapter, { name: "gpt", alias: "champion", version: "2.0.0" });
    assertAlias(await adapter.getAlias("bert", "champion"), bert, "bert@champion");
    assertAlias(await adapter.getAlias("gpt", "champion"), gpt, "gpt@champion");
    assert.equal(await adapter.getAlias("bert", "staging"), undefined, "unknown alias");
    assert.equal(await adapter.getAlias("nobody", "champion"), undefined, "unknown name");
    assert.deepEqual(
      await adapter.resolveAlias("bert", "staging"),
      { status: "notFound" },
      "resolve unknown alias",
    );
    assert.deepEqual(
      await adapter.resolveAlias("nobody", "champion"),
      { status: "notFound" },
      "resolve unknown name",
    );
  });

  test("setAlias to a version the name does not have is versionNotFound and appends nothing", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0"]);
    await insertVersions(adapter, "gpt", ["2.0.0"]);
    const before = await latestRevision(adapter);
    for (const v of ["2.0.0", "9.9.9"]) {
      assert.deepEqual(
        await adapter.setAlias({ name: "bert", alias: "champion", version: v }),
        { status: "versionNotFound" },
        `bert has no ${v} (gpt has 2.0.0)`,
      );
    }
    assert.deepEqual(await adapter.setAlias({ name: "nobody", alias: "champion", version: "1.0.0" }), {
      status: "versionNotFound",
    });
    assert.equal(await adapter.getAlias("bert", "champion"), undefined, "no alias was created");
    await assertNoEntrySince(adapter, before, "versionNotFound");
  });

  test("setting an alias to the version it points at is unchanged (alias and target returned) and appends nothing", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0"]);
    const alias = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const before = await latestRevision(adapter);
    for (const expectedVersion of [undefined, "1.0.0"]) {
      const result = await adapter.setAlias(
        { name: "bert", alias: "champion", version: "1.0.0", expectedVersion },
        { actor: "someone-else" },
      );
      assert.equal(
        result.status,
        "unchanged",
        `expectedVersion ${expectedVersion}: ${JSON.stringify(result)}`,
      );
      if (result.status !== "unchanged") continue;
      assertAlias(result.alias, alias, "unchanged returns the alias as it is");
      assertRecord(result.target, version(models, "1.0.0"), "unchanged returns the target");
    }
    assertAlias(await adapter.getAlias("bert", "champion"), alias, "not touched (updatedBy, revision)");
    await assertNoEntrySince(adapter, before, "unchanged");
  });
}

function defineCompareAndSetTests(test: TestFn): void {
  test("compare-and-set: an expectedVersion the alias points at moves it", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const moved = await setOk(adapter, {
      name: "bert",
      alias: "champion",
      version: "1.1.0",
      expectedVersion: "1.0.0",
    });
    assert.equal(moved.version, "1.1.0");
    assert.equal((await adapter.getAlias("bert", "champion"))?.version, "1.1.0");
  });

  test("compare-and-set: an expectedVersion it does not point at is aliasChanged with the current alias; nothing changes", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0", "1.1.0", "2.0.0"]);
    const current = await setOk(adapter, { name: "bert", alias: "champion", version: "1.1.0" });
    const before = await latestRevision(adapter);
    const result = await adapter.setAlias({
      name: "bert",
      alias: "champion",
      version: "2.0.0",
      expectedVersion: "1.0.0",
    });
    assert.equal(result.status, "aliasChanged", JSON.stringify(result));
    if (result.status === "aliasChanged")
      assertAlias(result.current, current, "aliasChanged names the current alias");
    assertAlias(await adapter.getAlias("bert", "champion"), current, "the alias did not move");
    await assertNoEntrySince(adapter, before, "aliasChanged");
  });

  test('compare-and-set: expectedVersion "" creates an alias that does not exist, and is aliasChanged for one that does', async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    const created = await setOk(adapter, {
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      expectedVersion: "",
    });
    const before = await latestRevision(adapter);
    for (const v of ["1.1.0", "1.0.0"]) {
      const result = await adapter.setAlias({
        name: "bert",
        alias: "champion",
        version: v,
        expectedVersion: "",
      });
      assert.equal(
        result.status,
        "aliasChanged",
        `"" on an existing alias, to ${v}: ${JSON.stringify(result)}`,
      );
      if (result.status === "aliasChanged") assertAlias(result.current, created, "the current alias");
    }
    assertAlias(await adapter.getAlias("bert", "champion"), created, "not moved");
    await assertNoEntrySince(adapter, before, 'expectedVersion "" on an existing alias');
  });

  test("compare-and-set: a version expected of an alias that does not exist is aliasChanged with no current alias", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0"]);
    const result = await adapter.setAlias({
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      expectedVersion: "1.0.0",
    });
    assert.equal(result.status, "aliasChanged", JSON.stringify(result));
    if (result.status === "aliasChanged") assert.equal(result.current, undefined, "no current alias");
    assert.equal(await adapter.getAlias("bert", "champion"), undefined, "not created");
    assert.equal(await latestRevision(adapter), 1, "only the insert's entry");
  });
}

function defineRequestIdTests(test: TestFn): void {
  test("a setAlias with a used request id is requestIdUsed with the alias as that move left it, and moves nothing", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0", "1.1.0", "2.0.0"]);
    const before = await latestRevision(adapter);
    const first = await setOk(adapter, {
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      requestId: "req-1",
    });
    const entry = await onlyEntrySince(adapter, before, "the move with a request id");
    assert.equal(entry.requestId, "req-1", "the entry records the request id");
    const later = await setOk(adapter, { name: "bert", alias: "champion", version: "1.1.0" });
    const afterMoves = await latestRevision(adapter);
    const replay = await adapter.setAlias({
      name: "bert",
      alias: "champion",
      version: "2.0.0",
      requestId: "req-1",
    });
    assert.equal(replay.status, "requestIdUsed", JSON.stringify(replay));
    if (replay.status === "requestIdUsed")
      assertAlias(replay.alias, first, "the alias as the first move left it");
    const exactReplay = await adapter.setAlias({
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      requestId: "req-1",
    });
    assert.equal(exactReplay.status, "requestIdUsed", `an exact retry: ${JSON.stringify(exactReplay)}`);
    assertAlias(await adapter.getAlias("bert", "champion"), later, "the replays moved nothing");
    await assertNoEntrySince(adapter, afterMoves, "request id replays");
    const other = await adapter.setAlias({
      name: "bert",
      alias: "staging",
      version: "2.0.0",
      requestId: "req-2",
    });
    assert.equal(other.status, "set", `another request id moves: ${JSON.stringify(other)}`);
  });
}

function defineDeleteAliasTests(test: TestFn): void {
  test("deleteAlias deletes: the last state returned, getAlias undefined, one alias_deleted entry (model = its target)", async (adapter) => {
    const models = await insertVersions(adapter, "bert", ["1.0.0"]);
    const alias = await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const before = await latestRevision(adapter);
    const result = await adapter.deleteAlias({ name: "bert", alias: "champion" }, { actor: "carol" });
    assert.equal(result.status, "deleted", JSON.stringify(result));
    if (result.status === "deleted") assertAlias(result.alias, alias, "the deleted alias's last state");
    assert.equal(await adapter.getAlias("bert", "champion"), undefined, "gone");
    assert.deepEqual(await adapter.resolveAlias("bert", "champion"), { status: "notFound" });
    const entry = await onlyEntrySince(adapter, before, "deleteAlias");
    assert.deepEqual(
      plainChange(entry),
      {
        ...plainChange(entry),
        type: "alias_deleted",
        model: plain(version(models, "1.0.0")),
        actor: "carol",
        requestId: "",
        alias: plainAlias(alias),
        aliasBefore: plainAlias(alias),
      },
      "alias_deleted: model = the target, alias and aliasBefore = the alias's last state, no refusal",
    );
    assert.equal(entry.refusal, undefined);
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0", expectedVersion: "" });
  });

  test("deleteAlias of an unknown alias is notFound; with an expectedVersion it does not point at, aliasChanged", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0", "1.1.0"]);
    assert.deepEqual(await adapter.deleteAlias({ name: "bert", alias: "champion" }), { status: "notFound" });
    const alias = await setOk(adapter, { name: "bert", alias: "champion", version: "1.1.0" });
    const before = await latestRevision(adapter);
    const result = await adapter.deleteAlias({ name: "bert", alias: "champion", expectedVersion: "1.0.0" });
    assert.equal(result.status, "aliasChanged", JSON.stringify(result));
    if (result.status === "aliasChanged") assertAlias(result.current, alias, "the current alias");
    assertAlias(await adapter.getAlias("bert", "champion"), alias, "still there");
    await assertNoEntrySince(adapter, before, "deleteAlias notFound / aliasChanged");
    const deleted = await adapter.deleteAlias({ name: "bert", alias: "champion", expectedVersion: "1.1.0" });
    assert.equal(deleted.status, "deleted", `with the right expectedVersion: ${JSON.stringify(deleted)}`);
    assert.deepEqual(
      await adapter.deleteAlias({ name: "bert", alias: "champion" }),
      { status: "notFound" },
      "twice",
    );
  });
}
