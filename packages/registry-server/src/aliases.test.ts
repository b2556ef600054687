// Aliases over a real gRPC server on a real socket, with memory and SQLite
// storage: issue 15's acceptance flow with authentication on, then every
// alias RPC's answers and errors, LookupModel by alias and read time, and
// DeleteModel of an aliased model.
import {
  Code,
  type HistoryEntry,
  type Model,
  type ModelAlias,
  ModelEventType,
  type Timestamp,
} from "@modelreg/proto";
import { afterAll, describe, expect, it } from "vitest";
import { as, expectError, storageFactories, subjects, useRegistry } from "./test-support/alias-registry";

const { adapters, cleanup } = storageFactories();
afterAll(cleanup);

/** A timestamp `deltaMicros` after `t`. */
function shift(t: Timestamp | undefined, deltaMicros: number): Timestamp {
  if (!t) throw new Error("no timestamp");
  const micros = Number(t.seconds) * 1_000_000 + t.nanos / 1000 + deltaMicros;
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}

describe.each(adapters)("issue 15's acceptance flow, auth on, %s storage", (_name, createStorage) => {
  const suite = useRegistry(createStorage, { auth: true });

  it("promotes with compare-and-set, travels in time, keeps aliased versions, and audits and streams every move", async () => {
    const { client } = suite.registry;
    const writer = as("writer");
    const watch = client.watch({}, as("reader"));
    await watch.waitFor(1);
    const create = async (version: string) =>
      (await client.call<{ model: Model }>("CreateModel", { model: { name: "bert", version } }, writer))
        .model;
    const v100 = await create("1.0.0");
    const v110 = await create("1.1.0");
    const set = (version: string, expectedVersion?: string) =>
      client.call<{ alias: ModelAlias }>(
        "SetModelAlias",
        { name: "bert", alias: "champion", version, expectedVersion },
        writer,
      );

    const first = (await set("1.0.0", "")).alias;
    expect(first).toMatchObject({
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      modelId: v100.id,
      updatedBy: subjects.writer,
    });
    const second = (await set("1.1.0", "1.0.0")).alias;
    expect(second).toMatchObject({ version: "1.1.0", modelId: v110.id, updatedBy: subjects.writer });
    expect(second.etag).not.toBe(first.etag);

    const lost = await expectError(set("1.1.0", "1.0.0"), Code.ABORTED, "ALIAS_CHANGED");
    expect(lost.message).toBe(
      'bert@champion points at version "1.1.0", not "1.0.0" (expected_version); read it again and retry.',
    );

    const lookup = (request: object) =>
      client
        .call<{ model: Model }>("LookupModel", { name: "bert", ...request }, as("reader"))
        .then((r) => r.model);
    expect((await lookup({ alias: "champion" })).id).toBe(v110.id);
    // At the first move's commit time exactly, and between the two moves.
    expect((await lookup({ alias: "champion", readTime: first.updateTime })).version).toBe("1.0.0");
    expect((await lookup({ alias: "champion", readTime: shift(second.updateTime, -1) })).version).toBe(
      "1.0.0",
    );
    expect((await lookup({ alias: "champion", readTime: second.updateTime })).version).toBe("1.1.0");

    const kept = await expectError(
      client.call("DeleteModel", { id: v110.id }, as("admin")),
      Code.FAILED_PRECONDITION,
      "MODEL_HAS_ALIASES",
    );
    expect(kept.message).toContain("bert@champion");

    const { entries } = await client.call<{ entries: HistoryEntry[] }>(
      "ListModelHistory",
      { name: "bert", alias: "champion" },
      as("reader"),
    );
    expect(entries.map((e) => [e.type, e.actor, e.aliasBefore?.version, e.aliasAfter?.version])).toEqual([
      [ModelEventType.ALIAS_SET, subjects.writer, "1.0.0", "1.1.0"],
      [ModelEventType.ALIAS_SET, subjects.writer, undefined, "1.0.0"],
    ]);
    expect(entries[0]?.after?.id).toBe(v110.id);

    await watch.waitFor(5);
    const events = watch.received.flatMap((r) => (r.event ? [r.event] : []));
    expect(events.map((e) => [e.type, e.model?.version, e.alias?.alias, e.alias?.version])).toEqual([
      [ModelEventType.CREATED, "1.0.0", undefined, undefined],
      [ModelEventType.CREATED, "1.1.0", undefined, undefined],
      [ModelEventType.ALIAS_SET, "1.0.0", "champion", "1.0.0"],
      [ModelEventType.ALIAS_SET, "1.1.0", "champion", "1.1.0"],
    ]);
    watch.cancel();
  });

  it("needs the writer role to move or delete an alias, the reader role to read them", async () => {
    const { client } = suite.registry;
    const move = { name: "bert", alias: "reader-try", version: "1.0.0" };
    const denied = await expectError(
      client.call("SetModelAlias", move, as("reader")),
      Code.PERMISSION_DENIED,
    );
    expect(denied.message).toBe(
      "dashboard may not call SetModelAlias: that needs the writer role, and it has reader.",
    );
    await expectError(
      client.call("DeleteModelAlias", { name: "bert", alias: "champion" }, as("reader")),
      Code.PERMISSION_DENIED,
    );
    await expectError(client.call("ListModelAliases", {}), Code.UNAUTHENTICATED);
    expect(
      (await client.call<{ aliases: ModelAlias[] }>("ListModelAliases", {}, as("reader"))).aliases,
    ).toHaveLength(1);
  });
});

describe.each(adapters)("alias RPCs over gRPC, %s storage", (_name, createStorage) => {
  const suite = useRegistry(createStorage);
  const { call } = suite;

  const create = async (name: string, version: string, extra: Partial<Model> = {}) =>
    (await call<{ model: Model }>("CreateModel", { model: { name, version, ...extra } })).model;
  const setAlias = async (request: Record<string, unknown>) =>
    (await call<{ alias: ModelAlias }>("SetModelAlias", request)).alias;
  const lookup = async (request: Record<string, unknown>) =>
    (await call<{ model: Model }>("LookupModel", request)).model;

  it("records anonymous as who set an alias when auth is off, and keeps the etag of a move that changes nothing", async () => {
    await create("gpt", "1");
    const alias = await setAlias({ name: "gpt", alias: "stable", version: "1" });
    expect(alias.updatedBy).toBe("anonymous");
    expect(alias.etag).toMatch(/^"\d+"$/);
    const again = await setAlias({ name: "gpt", alias: "stable", version: "1", expectedVersion: "1" });
    expect(again).toEqual(alias);
    expect(await call("GetModelAlias", { name: "gpt", alias: "stable" })).toEqual({ alias });
  });

  it("refuses bad names, the reserved latest, and versions that do not exist", async () => {
    const bad = await expectError(
      setAlias({ name: "gpt", alias: "Prod", version: "1" }),
      Code.INVALID_ARGUMENT,
    );
    expect(bad.violations).toEqual([
      {
        field: "alias",
        description:
          "must be 1-63 lower-case ASCII letters, digits, - and _, starting with a letter, such as champion",
      },
    ]);
    const latest = await expectError(
      setAlias({ name: "gpt", alias: "latest", version: "1" }),
      Code.INVALID_ARGUMENT,
    );
    expect(latest.violations[0]?.description).toContain('"latest" is reserved');
    await expectError(call("DeleteModelAlias", { name: "gpt", alias: "latest" }), Code.INVALID_ARGUMENT);
    await expectError(
      setAlias({ name: "gpt", alias: `a${"b".repeat(63)}`, version: "1" }),
      Code.INVALID_ARGUMENT,
    );
    const missing = await expectError(
      setAlias({ name: "gpt", alias: "next", version: "9" }),
      Code.NOT_FOUND,
      "MODEL_NOT_FOUND",
    );
    expect(missing.message).toBe(
      'No model named "gpt" with version "9"; register it before pointing gpt@next at it.',
    );
  });

  it("answers a compare-and-set on a missing alias, or an existing one with expected_version empty, with ABORTED", async () => {
    await create("cas", "1");
    await create("cas", "2");
    const absent = await expectError(
      setAlias({ name: "cas", alias: "prod", version: "1", expectedVersion: "1" }),
      Code.ABORTED,
      "ALIAS_CHANGED",
    );
    expect(absent.message).toContain("cas@prod does not exist");
    await setAlias({ name: "cas", alias: "prod", version: "1", expectedVersion: "" });
    const exists = await expectError(
      setAlias({ name: "cas", alias: "prod", version: "2", expectedVersion: "" }),
      Code.ABORTED,
      "ALIAS_CHANGED",
    );
    expect(exists.message).toContain('cas@prod already exists (it points at version "1")');
  });

  it("lets exactly one of many racing moves with the same expectation win", async () => {
    await create("race", "0");
    for (let v = 1; v <= 10; v++) await create("race", String(v));
    await setAlias({ name: "race", alias: "champion", version: "0" });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        setAlias({ name: "race", alias: "champion", version: String(i + 1), expectedVersion: "0" }),
      ),
    );
    const won = outcomes.filter((o) => o.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const o of outcomes)
      if (o.status === "rejected") expect(o.reason).toMatchObject({ code: Code.ABORTED });
    const winner = (won[0] as PromiseFulfilledResult<ModelAlias>).value;
    expect((await lookup({ name: "race", alias: "champion" })).version).toBe(winner.version);
  });

  it("replays a move retried with its request_id, and refuses the request_id for another move", async () => {
    await create("idem", "1");
    await create("idem", "2");
    const request = { name: "idem", alias: "prod", version: "1", expectedVersion: "", requestId: "move-1" };
    const first = await setAlias(request);
    // The retry's compare-and-set would fail; the request id answers it as the first time.
    expect(await setAlias(request)).toEqual(first);
    const reused = await expectError(
      setAlias({ name: "idem", alias: "prod", version: "2", requestId: "move-1" }),
      Code.ALREADY_EXISTS,
      "REQUEST_ID_REUSED",
    );
    expect(reused.message).toContain('request_id "move-1" was already used');
  });

  it("gets, lists a page at a time, and deletes aliases", async () => {
    await create("list-a", "1");
    await create("list-b", "1");
    for (const alias of ["x", "y", "z"]) await setAlias({ name: "list-a", alias, version: "1" });
    await setAlias({ name: "list-b", alias: "w", version: "1" });
    const page1 = await call<{ aliases: ModelAlias[]; nextPageToken: string }>("ListModelAliases", {
      name: "list-a",
      pageSize: 2,
    });
    expect(page1.aliases.map((a) => a.alias)).toEqual(["x", "y"]);
    const page2 = await call<{ aliases: ModelAlias[]; nextPageToken: string }>("ListModelAliases", {
      name: "list-a",
      pageSize: 2,
      pageToken: page1.nextPageToken,
    });
    expect([page2.aliases.map((a) => a.alias), page2.nextPageToken]).toEqual([["z"], ""]);
    const other = await expectError(
      call("ListModelAliases", { name: "list-b", pageToken: page1.nextPageToken }),
      Code.INVALID_ARGUMENT,
    );
    expect(other.violations[0]?.field).toBe("page_token");
    await expectError(call("ListModelAliases", { pageSize: -1 }), Code.INVALID_ARGUMENT);
    const all = await call<{ aliases: ModelAlias[] }>("ListModelAliases", {});
    const names = all.aliases.map((a) => `${a.name}@${a.alias}`);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["list-a@x", "list-b@w"]));

    const changed = await expectError(
      call("DeleteModelAlias", { name: "list-a", alias: "x", expectedVersion: "2" }),
      Code.ABORTED,
      "ALIAS_CHANGED",
    );
    expect(changed.message).toContain('list-a@x points at version "1", not "2"');
    expect(await call("DeleteModelAlias", { name: "list-a", alias: "x", expectedVersion: "1" })).toEqual({});
    const gone = await expectError(
      call("GetModelAlias", { name: "list-a", alias: "x" }),
      Code.NOT_FOUND,
      "ALIAS_NOT_FOUND",
    );
    expect(gone.message).toBe("Alias list-a@x does not exist.");
    await expectError(
      call("DeleteModelAlias", { name: "list-a", alias: "x" }),
      Code.NOT_FOUND,
      "ALIAS_NOT_FOUND",
    );
    await expectError(lookup({ name: "list-a", alias: "x" }), Code.NOT_FOUND, "ALIAS_NOT_FOUND");
  });

  it("looks up by version or alias, never both, and read_time only with an alias", async () => {
    const model = await create("look", "1");
    await setAlias({ name: "look", alias: "prod", version: "1" });
    expect(await lookup({ name: "look", alias: "prod" })).toEqual(model);
    const both = await expectError(
      lookup({ name: "look", version: "1", alias: "prod" }),
      Code.INVALID_ARGUMENT,
    );
    expect(both.violations).toEqual([
      { field: "alias", description: "give either version or alias, not both" },
    ]);
    const neither = await expectError(lookup({ name: "look" }), Code.INVALID_ARGUMENT);
    expect(neither.violations).toEqual([
      { field: "version", description: "is required, unless alias is given" },
    ]);
    const readTime = { seconds: 1n, nanos: 0 };
    const timed = await expectError(lookup({ name: "look", version: "1", readTime }), Code.INVALID_ARGUMENT);
    expect(timed.violations).toEqual([{ field: "read_time", description: "is only allowed with alias" }]);
  });

  it("refuses a read_time that is no valid Timestamp or lies outside the times storage compares", async () => {
    await create("ranged", "1");
    await setAlias({ name: "ranged", alias: "prod", version: "1" });
    const at = (seconds: bigint, nanos = 0) =>
      lookup({ name: "ranged", alias: "prod", readTime: { seconds, nanos } });
    const invalid = async (seconds: bigint, nanos: number, description: string) => {
      const error = await expectError(at(seconds, nanos), Code.INVALID_ARGUMENT);
      expect(error.violations).toEqual([{ field: "read_time", description }]);
    };
    const timestamp =
      "must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z (a valid Timestamp)";
    const compared =
      "is outside the times this server can compare, 1684-07-28T00:12:25.259009Z to 2255-06-05T23:47:34.740991Z";
    // 1e15 seconds reached PostgreSQL as "1e+21" microseconds and failed INTERNAL.
    await invalid(10n ** 15n, 0, timestamp);
    await invalid(253_402_300_800n, 0, timestamp);
    await invalid(-62_135_596_801n, 0, timestamp);
    await invalid(1n, 1_000_000_000, "nanos must be from 0 to 999,999,999");
    await invalid(253_402_300_799n, 999_999_999, compared);
    await invalid(9_007_199_254n, 740_992_000, compared);
    await invalid(-9_007_199_255n, 259_008_999, compared);
    // The last instants that can be compared are answered.
    expect((await at(9_007_199_254n, 740_991_999)).version).toBe("1");
    await expectError(at(-9_007_199_255n, 259_009_000), Code.NOT_FOUND, "ALIAS_NOT_FOUND");
  });

  it("says the alias did not exist at a read_time before it was first set", async () => {
    const model = await create("early", "1");
    const alias = await setAlias({ name: "early", alias: "prod", version: "1" });
    const before = shift(alias.updateTime, -1);
    const error = await expectError(
      lookup({ name: "early", alias: "prod", readTime: before }),
      Code.NOT_FOUND,
      "ALIAS_NOT_FOUND",
    );
    expect(error.message).toMatch(
      /^early@prod did not exist at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z\.$/,
    );
    expect(await lookup({ name: "early", alias: "prod", readTime: alias.updateTime })).toEqual(model);
  });

  it("returns the model as it was at the read time, not as it is now", async () => {
    await create("then", "1", { description: "before" });
    const alias = await setAlias({ name: "then", alias: "prod", version: "1" });
    const model = await lookup({ name: "then", version: "1" });
    await call("UpdateModel", {
      model: { id: model.id, description: "after" },
      updateMask: { paths: ["description"] },
    });
    expect((await lookup({ name: "then", alias: "prod", readTime: alias.updateTime })).description).toBe(
      "before",
    );
    expect((await lookup({ name: "then", alias: "prod" })).description).toBe("after");
  });

  it("resolves latest to the newest version by create time, then and now", async () => {
    await expectError(lookup({ name: "fresh", alias: "latest" }), Code.NOT_FOUND, "MODEL_NOT_FOUND");
    const v1 = await create("fresh", "1");
    // Create times are milliseconds: v2's is a later one.
    await new Promise((r) => setTimeout(r, 3));
    const v2 = await create("fresh", "2");
    expect((await lookup({ name: "fresh", alias: "latest" })).id).toBe(v2.id);
    expect((await lookup({ name: "fresh", alias: "latest", readTime: v1.createTime })).id).toBe(v1.id);
    await call("DeleteModel", { id: v2.id });
    expect((await lookup({ name: "fresh", alias: "latest" })).id).toBe(v1.id);
    // v2 existed then, though it is gone now.
    expect((await lookup({ name: "fresh", alias: "latest", readTime: v2.createTime })).id).toBe(v2.id);
    const before = await expectError(
      lookup({ name: "fresh", alias: "latest", readTime: shift(v1.createTime, -1) }),
      Code.NOT_FOUND,
    );
    expect(before.message).toMatch(/^fresh@latest did not exist at /);
  });

  it("resolves latest at a read_time equal to a version's create time, though its created entry commits later", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `imported-${i}`);
    const summary = await suite.registry.client.importModels(
      names.map((name) => ({ model: { name, version: "1" } })),
    );
    expect(summary.createdCount).toBe(20);
    const micros = (t: Timestamp | undefined) => Number(t?.seconds) * 1_000_000 + (t?.nanos ?? 0) / 1000;
    let late = 0;
    for (const name of names) {
      const model = await lookup({ name, version: "1" });
      const { entries } = await call<{ entries: HistoryEntry[] }>("ListModelHistory", { name });
      if (micros(entries[0]?.commitTime) > micros(model.createTime)) late++;
      expect(await lookup({ name, alias: "latest", readTime: model.createTime })).toEqual(model);
      await expectError(
        lookup({ name, alias: "latest", readTime: shift(model.createTime, -1) }),
        Code.NOT_FOUND,
        "MODEL_NOT_FOUND",
      );
    }
    // One batch's entries commit at least a microsecond apart: most commit after their create time.
    expect(late).toBeGreaterThan(0);
  });

  it("resolves latest among versions imported in one batch (one create time) to the one created last", async () => {
    // A batch stamps create times in milliseconds, so its last versions often share one; ids are random,
    // so breaking that tie by id picked another version.
    const versions = Array.from({ length: 200 }, (_, i) => `${i + 1}`);
    let tied = 0;
    for (let round = 0; round < 5; round++) {
      const name = `batched-${round}`;
      const summary = await suite.registry.client.importModels(
        versions.map((version) => ({ model: { name, version } })),
      );
      expect(summary.createdCount).toBe(200);
      const last = await lookup({ name, version: "200" });
      const previous = await lookup({ name, version: "199" });
      const time = (t: Timestamp | undefined) => `${t?.seconds}.${t?.nanos}`;
      if (time(previous.createTime) === time(last.createTime)) tied++;
      expect((await lookup({ name, alias: "latest" })).version).toBe("200");
      expect((await lookup({ name, alias: "latest", readTime: last.createTime })).version).toBe("200");
    }
    expect(tied).toBeGreaterThan(0);
  });

  it("deletes an aliased model only with force, deleting its aliases in the same step, each in the history", async () => {
    const model = await create("forced", "1");
    await setAlias({ name: "forced", alias: "a", version: "1" });
    await setAlias({ name: "forced", alias: "b", version: "1" });
    const refused = await expectError(
      call("DeleteModel", { id: model.id }),
      Code.FAILED_PRECONDITION,
      "MODEL_HAS_ALIASES",
    );
    expect(refused.message).toBe(
      `Model "${model.id}" is what aliases forced@a, forced@b point at; move or delete them first, or delete with force = true to delete them too.`,
    );
    expect(await call("DeleteModel", { id: model.id, force: true })).toEqual({});
    await expectError(call("GetModelAlias", { name: "forced", alias: "a" }), Code.NOT_FOUND);
    const { entries } = await call<{ entries: HistoryEntry[] }>("ListModelHistory", {
      name: "forced",
      pageSize: 3,
    });
    expect(entries.map((e) => [e.type, e.aliasBefore?.alias ?? ""])).toEqual([
      [ModelEventType.DELETED, ""],
      [ModelEventType.ALIAS_DELETED, expect.any(String)],
      [ModelEventType.ALIAS_DELETED, expect.any(String)],
    ]);
    expect(
      entries
        .slice(1)
        .map((e) => e.aliasBefore?.alias)
        .sort(),
    ).toEqual(["a", "b"]);
    expect(entries[0]?.before?.id).toBe(model.id);
  });
});
