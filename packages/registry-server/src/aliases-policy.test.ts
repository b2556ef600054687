// The promotion policy on a real gRPC server with authentication on:
// issue 15's acceptance (a writer's move PERMISSION_DENIED, an admin's move
// to a version without the evidence FAILED_PRECONDITION listing it, then
// allowed), refusals recorded in the history and never streamed.
import {
  Code,
  type HistoryEntry,
  type Model,
  type ModelAlias,
  ModelEventType,
  type Status,
} from "@modelreg/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../test-support/registry";
import type { Authorize } from "./authorize";
import type { AliasPolicy } from "./policy/policy";
import { createRegistryServer } from "./server";
import { createMemoryStorage } from "./storage/memory";
import {
  as,
  expectError,
  preconditionViolations,
  startRegistry,
  storageFactories,
  subjects,
  useRegistry,
} from "./test-support/alias-registry";

const { adapters, cleanup } = storageFactories();
afterAll(cleanup);

const policy: AliasPolicy = {
  protectedAliases: {
    production: { role: "admin", metadata: { "eval.passed": "true", "eval.auc": ">= 0.90" } },
    staging: {
      names: ["gated*"],
      check: ({ target }) =>
        target.description === "" ? "needs a model card: set the description" : undefined,
    },
  },
};

describe.each(adapters)("gated promotion over gRPC, auth on, %s storage", (_name, createStorage) => {
  const suite = useRegistry(createStorage, { auth: true, aliasPolicy: policy });
  const { call } = suite;
  let model: Model;
  beforeAll(async () => {
    model = (
      await call<{ model: Model }>(
        "CreateModel",
        { model: { name: "gated", version: "2.0.0" } },
        as("writer"),
      )
    ).model;
  });

  const promote = (role: "writer" | "admin", alias = "production") =>
    call<{ alias: ModelAlias }>("SetModelAlias", { name: "gated", alias, version: "2.0.0" }, as(role));

  it("refuses a writer, then an admin until the evidence is there, and records both refusals", async () => {
    const watch = suite.registry.client.watch({ filter: 'name = "gated"' }, as("reader"));
    await watch.waitFor(1);
    const denied = await expectError(promote("writer"), Code.PERMISSION_DENIED, "ALIAS_PROTECTED");
    expect(denied.message).toBe(
      "ci-bot may not move gated@production: the alias is protected and needs the admin role.",
    );

    const unmet = await expectError(
      promote("admin"),
      Code.FAILED_PRECONDITION,
      "PROMOTION_REQUIREMENTS_UNMET",
    );
    expect(preconditionViolations(unmet.details)).toEqual([
      {
        type: "METADATA",
        subject: "metadata.eval.passed",
        description: 'metadata "eval.passed" is missing; the policy needs eval.passed = "true"',
      },
      {
        type: "METADATA",
        subject: "metadata.eval.auc",
        description: 'metadata "eval.auc" is missing; the policy needs eval.auc >= 0.90',
      },
    ]);
    expect(unmet.message).toMatch(/^gated 2\.0\.0 cannot become gated@production: /);

    // "0.9" is below "0.90" as a string, and equal as a number: numbers are compared.
    await call(
      "UpdateModelMetadata",
      { id: model.id, set: { "eval.passed": "true", "eval.auc": "0.899" } },
      as("writer"),
    );
    const low = await expectError(promote("admin"), Code.FAILED_PRECONDITION);
    expect(preconditionViolations(low.details).map((v) => v.description)).toEqual([
      'metadata needs eval.auc >= 0.90; it is "0.899"',
    ]);
    await call("UpdateModelMetadata", { id: model.id, set: { "eval.auc": "0.9" } }, as("writer"));
    const { alias } = await promote("admin");
    expect(alias).toMatchObject({ alias: "production", version: "2.0.0", updatedBy: subjects.admin });

    const { entries } = await call<{ entries: HistoryEntry[] }>(
      "ListModelHistory",
      { name: "gated", alias: "production", filter: "refused = true" },
      as("reader"),
    );
    expect(entries.map((e) => [e.actor, e.refusal?.code])).toEqual([
      [subjects.admin, Code.FAILED_PRECONDITION],
      [subjects.admin, Code.FAILED_PRECONDITION],
      [subjects.writer, Code.PERMISSION_DENIED],
    ]);
    // Every reader sees the recorded refusal: it names the role needed, not the roles the caller holds.
    expect(entries[2]?.refusal?.message).toBe(denied.message);
    const recorded = entries[1]?.refusal as Status;
    expect(recorded.message).toBe(unmet.message);
    expect(preconditionViolations(recorded.details)).toEqual(preconditionViolations(unmet.details));
    expect(entries[0]?.aliasAfter).toMatchObject({ alias: "production", version: "2.0.0" });

    // The watch sees the metadata edits and the one move that was made, never a refusal.
    await watch.waitFor(4);
    await new Promise((r) => setTimeout(r, 100));
    const events = watch.received.flatMap((m) => (m.event ? [m.event.type] : []));
    expect(events).toEqual([ModelEventType.UPDATED, ModelEventType.UPDATED, ModelEventType.ALIAS_SET]);
    watch.cancel();
  });

  it("needs the role to delete a protected alias too", async () => {
    const denied = await expectError(
      call("DeleteModelAlias", { name: "gated", alias: "production" }, as("writer")),
      Code.PERMISSION_DENIED,
      "ALIAS_PROTECTED",
    );
    expect(denied.message).toContain("ci-bot may not delete gated@production");
    expect(await call("DeleteModelAlias", { name: "gated", alias: "production" }, as("admin"))).toEqual({});
  });

  it("needs the role to be told OK for a move that changes nothing or replays another caller's request_id", async () => {
    const evidence = { "eval.passed": "true", "eval.auc": "0.95" };
    await call("CreateModel", { model: { name: "replay", version: "1", metadata: evidence } }, as("writer"));
    const request = { name: "replay", alias: "production", version: "1", requestId: "promote-replay-1" };
    const made = (await call<{ alias: ModelAlias }>("SetModelAlias", request, as("admin"))).alias;
    // Every reader sees the request id in the history.
    const { entries } = await call<{ entries: HistoryEntry[] }>(
      "ListModelHistory",
      { name: "replay", alias: "production" },
      as("reader"),
    );
    expect(entries.map((e) => e.requestId)).toEqual([request.requestId]);

    const denied = "ci-bot may not move replay@production: the alias is protected and needs the admin role.";
    for (const replay of [
      request,
      { ...request, requestId: "" },
      { ...request, requestId: "", expectedVersion: "1" },
    ]) {
      const error = await expectError(
        call("SetModelAlias", replay, as("writer")),
        Code.PERMISSION_DENIED,
        "ALIAS_PROTECTED",
      );
      expect(error.message).toBe(denied);
    }
    // The admin who may move it is answered as before.
    expect((await call<{ alias: ModelAlias }>("SetModelAlias", request, as("admin"))).alias).toEqual(made);
    const same = { ...request, requestId: "" };
    expect((await call<{ alias: ModelAlias }>("SetModelAlias", same, as("admin"))).alias).toEqual(made);
    // Nothing changed, so nothing was recorded.
    const after = await call<{ entries: HistoryEntry[] }>(
      "ListModelHistory",
      { name: "replay", alias: "production" },
      as("reader"),
    );
    expect(after.entries).toHaveLength(1);
  });

  it("runs the custom hook for the names it protects", async () => {
    const refused = await expectError(promote("writer", "staging"), Code.FAILED_PRECONDITION);
    expect(preconditionViolations(refused.details)).toEqual([
      { type: "CHECK", subject: "check", description: "needs a model card: set the description" },
    ]);
    await call(
      "UpdateModel",
      { model: { id: model.id, description: "card" }, updateMask: { paths: ["description"] } },
      as("writer"),
    );
    expect((await promote("writer", "staging")).alias.alias).toBe("staging");
    // Another name is not protected by the staging entry.
    await call("CreateModel", { model: { name: "free", version: "1" } }, as("writer"));
    await call("SetModelAlias", { name: "free", alias: "staging", version: "1" }, as("writer"));
  });
});

describe.each(adapters)("a forced DeleteModel under the policy, %s storage", (_name, createStorage) => {
  // Principals from headers: `x-who` the subject, `x-roles` its roles, comma-separated.
  const authorize: Authorize = ({ metadata }) => ({
    subject: String(metadata.get("x-who")[0] ?? "nobody"),
    roles: String(metadata.get("x-roles")[0] ?? "").split(","),
  });
  const ops = { "x-who": "ops", "x-roles": "admin" };
  const releaser = { "x-who": "rel", "x-roles": "admin,release-manager" };
  const forcePolicy: AliasPolicy = {
    protectedAliases: { production: { role: "release-manager", names: ["forced"] } },
  };
  const suite = useRegistry(createStorage, { authorize, aliasPolicy: forcePolicy });

  it("needs the role of each protected alias it would delete, and records the refusal", async () => {
    const { call } = suite.registry.client;
    const { model } = await call<{ model: Model }>(
      "CreateModel",
      { model: { name: "forced", version: "1" } },
      ops,
    );
    await call("SetModelAlias", { name: "forced", alias: "canary", version: "1" }, ops);
    await call("SetModelAlias", { name: "forced", alias: "production", version: "1" }, releaser);
    const watch = suite.registry.client.watch({ filter: 'name = "forced"' }, ops);
    await watch.waitFor(1);

    // The admin may delete models, yet not the protected alias that a forced delete would remove.
    const denied = await expectError(
      call("DeleteModel", { id: model.id, force: true }, ops),
      Code.PERMISSION_DENIED,
      "ALIAS_PROTECTED",
    );
    expect(denied.message).toBe(
      "ops may not delete forced@production: the alias is protected and needs the release-manager role.",
    );
    // Nothing was deleted: the model and both aliases are there.
    expect((await call<{ model: Model }>("GetModel", { id: model.id }, ops)).model.id).toBe(model.id);
    const { aliases } = await call<{ aliases: ModelAlias[] }>("ListModelAliases", { name: "forced" }, ops);
    expect(aliases.map((a) => a.alias)).toEqual(["canary", "production"]);
    const { entries } = await call<{ entries: HistoryEntry[] }>(
      "ListModelHistory",
      { name: "forced", filter: "refused = true" },
      ops,
    );
    expect(entries.map((e) => [e.type, e.actor, e.aliasBefore?.alias, e.refusal?.message])).toEqual([
      [ModelEventType.ALIAS_DELETED, "ops", "production", denied.message],
    ]);

    // One who holds the role deletes the model and its aliases.
    expect(await call("DeleteModel", { id: model.id, force: true }, releaser)).toEqual({});
    await expectError(call("GetModel", { id: model.id }, ops), Code.NOT_FOUND);
    expect(await call("ListModelAliases", { name: "forced" }, ops)).toMatchObject({ aliases: [] });
    // The watch saw the delete, never the refusal.
    await watch.waitFor(4);
    await new Promise((r) => setTimeout(r, 100));
    const events = watch.received.flatMap((m) => (m.event ? [m.event.type] : []));
    expect(events).toEqual([
      ModelEventType.ALIAS_DELETED,
      ModelEventType.ALIAS_DELETED,
      ModelEventType.DELETED,
    ]);
    watch.cancel();
  });
});

describe("the promotion policy without authentication", () => {
  it("refuses a protected move: there is no principal to hold the role", async () => {
    const storage = createMemoryStorage();
    const registry = await startRegistry(storage, { aliasPolicy: policy });
    try {
      await registry.client.call("CreateModel", { model: { name: "gated", version: "1" } });
      const error = await expectError(
        registry.client.call("SetModelAlias", { name: "gated", alias: "production", version: "1" }),
        Code.PERMISSION_DENIED,
      );
      expect(error.message).toBe(
        "An unauthenticated caller may not move gated@production: the alias is protected and needs the admin role.",
      );
    } finally {
      await registry.close();
      await storage.close();
    }
  });

  it("refuses a forced DeleteModel that would delete a protected alias: there is no principal", async () => {
    const storage = createMemoryStorage();
    const registry = await startRegistry(storage, { aliasPolicy: policy });
    try {
      const { call } = registry.client;
      const { model } = await call<{ model: Model }>("CreateModel", {
        model: { name: "open", version: "1", metadata: { "eval.passed": "true", "eval.auc": "1" } },
      });
      // Unprotected aliases go with a forced delete as before.
      await call("SetModelAlias", { name: "open", alias: "canary", version: "1" });
      const other = await call<{ model: Model }>("CreateModel", { model: { name: "open", version: "2" } });
      await call("SetModelAlias", { name: "open", alias: "canary", version: "2" });
      expect(await call("DeleteModel", { id: other.model.id, force: true })).toEqual({});
      // A protected one cannot be set without a principal, so it was set before the policy.
      await storage.setAlias({ name: "open", alias: "production", version: "1" });
      const error = await expectError(
        call("DeleteModel", { id: model.id, force: true }),
        Code.PERMISSION_DENIED,
        "ALIAS_PROTECTED",
      );
      expect(error.message).toBe(
        "An unauthenticated caller may not delete open@production: the alias is protected and needs the admin role.",
      );
      expect((await call<{ model: Model }>("GetModel", { id: model.id })).model.id).toBe(model.id);
    } finally {
      await registry.close();
      await storage.close();
    }
  });

  it("is refused when the server is created, naming the entry", () => {
    const bad = { protectedAliases: { production: { metadata: { "eval.auc": ">= high" } } } };
    expect(() =>
      createRegistryServer({
        storage: createMemoryStorage(),
        insecure: true,
        logger: silentLogger,
        aliasPolicy: bad,
      }),
    ).toThrow(
      'createRegistryServer: aliasPolicy.protectedAliases.production.metadata["eval.auc"]: ">= high" compares with >=, which needs a number after it',
    );
    // A name no model can have would protect nothing, silently: refused, naming the entry.
    const typo = { protectedAliases: { production: { role: "admin", names: ["fraud/*", "bert "] } } };
    expect(() =>
      createRegistryServer({
        storage: createMemoryStorage(),
        insecure: true,
        logger: silentLogger,
        aliasPolicy: typo,
      }),
    ).toThrow(
      'createRegistryServer: aliasPolicy.protectedAliases.production.names[1]: "bert " is not a model name or a name prefix ending in *',
    );
  });
});
