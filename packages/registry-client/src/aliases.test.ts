/**
 * The alias and history methods against a real registry server over a real
 * socket, with memory and SQLite storage: set, compare-and-set, get, list,
 * delete, resolveAlias now and at a read time, the history, a promotion the
 * server's policy refuses, and which of the new calls are retried.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Timestamp } from "@modelreg/proto";
import { createMemoryStorage, type RegistryServer, type StorageAdapter } from "@modelreg/registry-server";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../test-support/registry";
import {
  Code,
  createRegistryClient,
  type ModelAlias,
  ModelEventType,
  preconditionViolations,
  type RegistryClient,
  RegistryError,
} from "./index";
import { startConnected, stopConnected } from "./test-support/connected";
import { rejection } from "./test-support/rejection";

const millisOf = (t: Timestamp | undefined) => Number(t?.seconds ?? 0n) * 1000 + (t?.nanos ?? 0) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const dir = mkdtempSync(join(tmpdir(), "modelreg-client-aliases-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const storages: [string, () => Promise<StorageAdapter>][] = [
  ["memory", async () => createMemoryStorage()],
  ["SQLite", () => createSqliteStorage({ path: join(dir, `${Math.random().toString(36).slice(2)}.db`) })],
];

describe.each(storages)("aliases and history over a real server, %s storage", (_name, createStorage) => {
  let server: RegistryServer;
  let client: RegistryClient;

  beforeAll(async () => {
    ({ server, client } = await startConnected({
      storage: await createStorage(),
      aliasPolicy: {
        protectedAliases: { production: { metadata: { "eval.passed": "true" }, tags: ["qa"] } },
      },
    }));
  });
  afterAll(() => stopConnected({ server, client }));

  const create = (name: string, version: string) => client.createModel({ model: { name, version } });

  it("sets, moves with compare-and-set, gets, lists and deletes an alias", async () => {
    const v1 = await create("bert", "1.0.0");
    const v2 = await create("bert", "1.1.0");
    const set = await client.setModelAlias({ name: "bert", alias: "champion", version: "1.0.0" });
    expect(set).toMatchObject({ name: "bert", alias: "champion", version: "1.0.0", modelId: v1.id });
    expect(set.updatedBy).toBe("anonymous");
    expect(set.etag).toMatch(/^"\d+"$/);
    expect(await client.getModelAlias({ name: "bert", alias: "champion" })).toEqual(set);

    const moved = await client.setModelAlias({
      name: "bert",
      alias: "champion",
      version: "1.1.0",
      expectedVersion: "1.0.0",
    });
    expect(moved).toMatchObject({ version: "1.1.0", modelId: v2.id });
    expect(moved.etag).not.toBe(set.etag);

    // A stale expectation loses: ABORTED, reason ALIAS_CHANGED, naming where it points now.
    const stale = await rejection(
      client.setModelAlias({ name: "bert", alias: "champion", version: "1.0.0", expectedVersion: "1.0.0" }),
    );
    expect([stale.code, stale.reason]).toEqual([Code.ABORTED, "ALIAS_CHANGED"]);
    expect(stale.message).toContain("1.1.0");
    // "" means "must not exist yet".
    const exists = await rejection(
      client.setModelAlias({ name: "bert", alias: "champion", version: "1.0.0", expectedVersion: "" }),
    );
    expect([exists.code, exists.reason]).toEqual([Code.ABORTED, "ALIAS_CHANGED"]);

    await client.setModelAlias({ name: "bert", alias: "canary", version: "1.0.0", expectedVersion: "" });
    const page = await client.listModelAliases({ name: "bert" });
    expect(page.aliases.map((a) => [a.alias, a.version])).toEqual([
      ["canary", "1.0.0"],
      ["champion", "1.1.0"],
    ]);
    expect(page.nextPageToken).toBe("");

    const wrong = await rejection(
      client.deleteModelAlias({ name: "bert", alias: "canary", expectedVersion: "1.1.0" }),
    );
    expect([wrong.code, wrong.reason]).toEqual([Code.ABORTED, "ALIAS_CHANGED"]);
    await client.deleteModelAlias({ name: "bert", alias: "canary", expectedVersion: "1.0.0" });
    const gone = await rejection(client.getModelAlias({ name: "bert", alias: "canary" }));
    expect(gone.code).toBe(Code.NOT_FOUND);
  });

  it("resolveAlias returns the model now, and with readTime the one it pointed at then", async () => {
    await create("t5", "1.0.0");
    const v2 = await create("t5", "2.0.0");
    const first = await client.setModelAlias({ name: "t5", alias: "champion", version: "1.0.0" });
    await sleep(20);
    const second = await client.setModelAlias({ name: "t5", alias: "champion", version: "2.0.0" });
    expect(await client.resolveAlias("t5", "champion")).toEqual(v2);

    const between = new Date((millisOf(first.updateTime) + millisOf(second.updateTime)) / 2);
    const then = await client.resolveAlias("t5", "champion", { readTime: between });
    expect(then.version).toBe("1.0.0");
    const atSecond = await client.resolveAlias("t5", "champion", { readTime: new Date() });
    expect(atSecond.version).toBe("2.0.0");

    const before = await rejection(
      client.resolveAlias("t5", "champion", { readTime: new Date(millisOf(first.updateTime) - 1) }),
    );
    expect(before.code).toBe(Code.NOT_FOUND);
    const unknown = await rejection(client.resolveAlias("t5", "nope"));
    expect(unknown.code).toBe(Code.NOT_FOUND);
    // `latest`: the newest version by create time, never set.
    expect((await client.resolveAlias("t5", "latest")).version).toBe("2.0.0");
    // Call options still apply.
    const cancelled = await rejection(client.resolveAlias("t5", "champion", { signal: AbortSignal.abort() }));
    expect(cancelled.code).toBe(Code.CANCELLED);
  });

  it("lists the history newest first, one page or every page", async () => {
    const model = await create("gpt", "1.0.0");
    await client.addModelTags({ id: model.id, tags: ["nlp"] });
    for (const alias of ["a", "b", "c"]) {
      await client.setModelAlias({ name: "gpt", alias, version: "1.0.0", requestId: `req-${alias}` });
    }
    const page = await client.listModelHistory({ name: "gpt", pageSize: 2 });
    expect(page.entries).toHaveLength(2);
    expect(page.nextPageToken).not.toBe("");

    const all = [];
    for await (const entry of client.listAllModelHistory({ name: "gpt", pageSize: 2 })) all.push(entry);
    expect(all.map((e) => [e.type, e.aliasAfter?.alias ?? "", e.requestId])).toEqual([
      [ModelEventType.ALIAS_SET, "c", "req-c"],
      [ModelEventType.ALIAS_SET, "b", "req-b"],
      [ModelEventType.ALIAS_SET, "a", "req-a"],
      [ModelEventType.UPDATED, "", ""],
      [ModelEventType.CREATED, "", ""],
    ]);
    expect(all.slice(0, 2)).toEqual(page.entries);
    const revisions = all.map((e) => e.revision);
    expect(revisions).toEqual([...revisions].sort((x, y) => (x > y ? -1 : 1)));
    expect(new Set(all.map((e) => e.actor))).toEqual(new Set(["anonymous"]));
    expect(all[3]?.before?.tags).toEqual([]);
    expect(all[3]?.after?.tags).toEqual(["nlp"]);

    const sets = await client.listModelHistory({ name: "gpt", filter: "type = ALIAS_SET", pageSize: 10 });
    expect(sets.entries.map((e) => e.aliasAfter?.alias)).toEqual(["c", "b", "a"]);
    const ofAlias = await client.listModelHistory({ name: "gpt", alias: "b" });
    expect(ofAlias.entries.map((e) => e.revision)).toEqual([all[1]?.revision]);
  });

  it("walks every alias across pages with listAllModelAliases", async () => {
    await create("paged", "1");
    const names = ["a1", "a2", "a3", "a4", "a5"];
    for (const alias of names) await client.setModelAlias({ name: "paged", alias, version: "1" });
    const seen: ModelAlias[] = [];
    for await (const alias of client.listAllModelAliases({ name: "paged", pageSize: 2 })) seen.push(alias);
    expect(seen.map((a) => a.alias)).toEqual(names);
    // Without a name: every name's aliases, ordered by name then alias.
    const everyName: string[] = [];
    for await (const a of client.listAllModelAliases({ pageSize: 3 })) everyName.push(`${a.name}@${a.alias}`);
    expect(everyName).toEqual([...everyName].sort());
    expect(everyName).toEqual(expect.arrayContaining(["bert@champion", "paged@a5", "t5@champion"]));
  });

  it("gives the caller a refused promotion's missing items, and records the refusal", async () => {
    const model = await create("gated", "1.0.0");
    const refused = await rejection(
      client.setModelAlias({ name: "gated", alias: "production", version: "1.0.0" }),
    );
    expect(refused.code).toBe(Code.FAILED_PRECONDITION);
    const missing = preconditionViolations(refused);
    expect(missing.map((v) => [v.type, v.subject])).toEqual(
      expect.arrayContaining([
        ["METADATA", expect.stringContaining("eval.passed")],
        ["TAG", expect.stringContaining("qa")],
      ]),
    );
    expect(missing).toHaveLength(2);
    for (const v of missing) expect(v.description).not.toBe("");
    expect(preconditionViolations(new Error("not a registry error"))).toEqual([]);
    expect(preconditionViolations(await rejection(client.getModel({ id: "nope" })))).toEqual([]);

    const [entry] = (await client.listModelHistory({ name: "gated", filter: "refused = true" })).entries;
    expect(entry?.refusal?.code).toBe(Code.FAILED_PRECONDITION);
    expect(entry?.aliasAfter).toMatchObject({ alias: "production", version: "1.0.0" });

    await client.addModelTags({ id: model.id, tags: ["qa"] });
    await client.updateModelMetadata({ id: model.id, set: { "eval.passed": "true" } });
    const promoted = await client.setModelAlias({ name: "gated", alias: "production", version: "1.0.0" });
    expect(promoted.modelId).toBe(model.id);
  });

  it("deleteModel refuses an aliased model unless forced; the watch sees the alias events", async () => {
    const watch = client.watchModels({ filter: 'name = "doomed"' });
    expect((await watch.next()).value?.event).toBeUndefined();
    const model = await create("doomed", "1.0.0");
    await client.setModelAlias({ name: "doomed", alias: "champion", version: "1.0.0" });
    const guarded = await rejection(client.deleteModel({ id: model.id }));
    expect(guarded.code).toBe(Code.FAILED_PRECONDITION);
    expect(guarded.message).toContain("champion");
    await client.deleteModel({ id: model.id, force: true });
    expect((await rejection(client.getModelAlias({ name: "doomed", alias: "champion" }))).code).toBe(
      Code.NOT_FOUND,
    );

    const events = [];
    for await (const message of watch) {
      if (message.event) events.push(message.event);
      if (events.length === 4) break;
    }
    expect(events.map((e) => [e.type, e.alias?.alias ?? ""])).toEqual([
      [ModelEventType.CREATED, ""],
      [ModelEventType.ALIAS_SET, "champion"],
      [ModelEventType.ALIAS_DELETED, "champion"],
      [ModelEventType.DELETED, ""],
    ]);
  });
});

describe("retries of the alias and history calls", () => {
  it("retries reads on UNAVAILABLE, and setModelAlias only with a requestId", async () => {
    const calls = new Map<string, number>();
    const { server, address } = await startTestRegistry({
      authorize: ({ method }) => {
        calls.set(method, (calls.get(method) ?? 0) + 1);
        throw new RegistryError(Code.UNAVAILABLE, "try later");
      },
    });
    const client = createRegistryClient({
      target: address,
      insecure: true,
      retry: { maxAttempts: 3, initialBackoffMs: 10, budget: { maxTokens: 100 } },
    });
    const count = (method: string) => calls.get(`/modelregistry.v1.ModelService/${method}`) ?? 0;
    try {
      const alias = { name: "bert", alias: "champion" };
      await rejection(client.setModelAlias({ ...alias, version: "1" }));
      expect(count("SetModelAlias")).toBe(1);
      await rejection(client.setModelAlias({ ...alias, version: "1", requestId: "promote-1" }));
      expect(count("SetModelAlias")).toBe(4);
      await rejection(client.deleteModelAlias(alias));
      expect(count("DeleteModelAlias")).toBe(1);
      await rejection(client.getModelAlias(alias));
      await rejection(client.listModelAliases({ name: "bert" }));
      await rejection(client.listModelHistory({ name: "bert" }));
      await rejection(client.resolveAlias("bert", "champion"));
      expect(["GetModelAlias", "ListModelAliases", "ListModelHistory", "LookupModel"].map(count)).toEqual([
        3, 3, 3, 3,
      ]);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });
});
