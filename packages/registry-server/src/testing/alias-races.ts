import assert from "node:assert/strict";
import type { SetAliasRequest, SetAliasResult, StorageAdapter } from "../storage/adapter";
import { assertConsistentAliasEntries } from "./alias-checks";
import { allChanges, insertVersions, latestRevision, maybeAlias, setOk, version } from "./alias-fixtures";
import type { TestFn } from "./harness";

const RACERS = 50;
const VERSIONS = Array.from({ length: RACERS + 1 }, (_, i) => `1.${i}.0`);

/**
 * Runs `RACERS` concurrent setAlias calls, the i-th to version 1.(i+1).0,
 * each with `expectedVersion`, and asserts exactly one is `set`, every other
 * `aliasChanged` naming the winner, and exactly one entry appended.
 */
async function raceMoves(
  adapter: StorageAdapter,
  expectedVersion: string,
  check?: SetAliasRequest["check"],
): Promise<void> {
  const before = await latestRevision(adapter);
  const results: SetAliasResult[] = await Promise.all(
    VERSIONS.slice(1).map((v) =>
      adapter.setAlias({ name: "bert", alias: "champion", version: v, expectedVersion, check }),
    ),
  );
  const statuses = results.map((r) => r.status);
  const winners = results.flatMap((r) => (r.status === "set" ? [r] : []));
  assert.equal(winners.length, 1, `exactly one of ${RACERS} is set; statuses: ${JSON.stringify(statuses)}`);
  const winner = winners[0]?.alias;
  assert.equal(
    statuses.filter((s) => s === "aliasChanged").length,
    RACERS - 1,
    `the other ${RACERS - 1} are aliasChanged; statuses: ${JSON.stringify(statuses)}`,
  );
  for (const r of results) {
    if (r.status === "aliasChanged")
      assert.equal(r.current?.version, winner?.version, "a loser names the winner");
  }
  assert.equal(
    (await adapter.getAlias("bert", "champion"))?.version,
    winner?.version,
    "the alias is the winner's",
  );
  const { changes } = await adapter.readChanges(before, 100);
  assert.deepEqual(
    changes.map((c) => [c.type, c.alias?.version, c.refusal === undefined]),
    [["alias_set", winner?.version, true]],
    "exactly one new history entry: the winner's move",
  );
}

/** Registers the race tests: concurrent compare-and-set moves, and deletes racing moves. */
export function defineAliasRaceTests(test: TestFn): void {
  defineCompareAndSetRaceTests(test);
  defineOtherRaceTests(test);
}

function defineCompareAndSetRaceTests(test: TestFn): void {
  test(`of ${RACERS} concurrent moves with the same expectedVersion exactly one is set, ${RACERS - 1} aliasChanged, one entry`, async (adapter) => {
    await insertVersions(adapter, "bert", VERSIONS);
    await setOk(adapter, { name: "bert", alias: "champion", version: VERSIONS[0] as string });
    await raceMoves(adapter, VERSIONS[0] as string);
  });

  test(`of ${RACERS} concurrent creates with expectedVersion "" exactly one is set`, async (adapter) => {
    await insertVersions(adapter, "bert", VERSIONS);
    await raceMoves(adapter, "");
  });

  test(`of ${RACERS} concurrent moves whose check awaits (the policy's hook) exactly one is set`, async (adapter) => {
    await insertVersions(adapter, "bert", VERSIONS);
    await setOk(adapter, { name: "bert", alias: "champion", version: VERSIONS[0] as string });
    const check = async () => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return undefined;
    };
    await raceMoves(adapter, VERSIONS[0] as string, check);
  });
}

function defineOtherRaceTests(test: TestFn): void {
  test("20 concurrent unconditional moves all set; each entry's aliasBefore is the previous move's alias, the last is current", async (adapter) => {
    await insertVersions(adapter, "bert", VERSIONS.slice(0, 21));
    await setOk(adapter, { name: "bert", alias: "champion", version: VERSIONS[0] as string });
    const results = await Promise.all(
      VERSIONS.slice(1, 21).map((v) => adapter.setAlias({ name: "bert", alias: "champion", version: v })),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(20).fill("set"),
      "every move to a new version is set",
    );
    const changes = await allChanges(adapter);
    assertConsistentAliasEntries(changes);
    const last = changes.filter((c) => c.type === "alias_set").at(-1);
    assert.deepEqual(
      maybeAlias(await adapter.getAlias("bert", "champion")),
      maybeAlias(last?.alias),
      "the last entry's alias is current",
    );
  });

  test("of 20 concurrent deleteAlias calls exactly one is deleted, one alias_deleted entry", async (adapter) => {
    await insertVersions(adapter, "bert", ["1.0.0"]);
    await setOk(adapter, { name: "bert", alias: "champion", version: "1.0.0" });
    const before = await latestRevision(adapter);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        adapter.deleteAlias({ name: "bert", alias: "champion", expectedVersion: "1.0.0" }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(
      statuses,
      ["deleted", ...Array(19).fill("notFound")],
      "one deleted, the others notFound",
    );
    const { changes } = await adapter.readChanges(before, 100);
    assert.deepEqual(
      changes.map((c) => c.type),
      ["alias_deleted"],
      "exactly one entry",
    );
  });

  test("a version being aliased and deleted at once: either the move or the delete wins, never both (no alias to a deleted model)", async (adapter) => {
    const models = await insertVersions(adapter, "bert", VERSIONS.slice(0, 21));
    for (const v of VERSIONS.slice(1, 21)) {
      const target = version(models, v);
      const [moved, deleted] = await Promise.all([
        adapter.setAlias({ name: "bert", alias: "champion", version: v }),
        adapter.delete(target.id),
      ]);
      const outcome = `${moved.status}+${deleted.status}`;
      assert.ok(
        outcome === "set+aliased" || outcome === "versionNotFound+ok",
        `setAlias to ${v} racing delete of ${v}: ${outcome}; expected set+aliased or versionNotFound+ok`,
      );
      const alias = await adapter.getAlias("bert", "champion");
      if (alias)
        assert.ok(await adapter.get(alias.modelId), `the alias points at ${alias.version}, which exists`);
    }
    for (const change of await allChanges(adapter)) {
      if (change.type === "alias_set" && !change.refusal) {
        assert.notEqual(
          await adapter.get(change.alias?.modelId ?? ""),
          undefined,
          "every aliased model still exists",
        );
      }
    }
  });
}
