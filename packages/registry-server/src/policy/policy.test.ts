import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Principal } from "../context";
import { emptyLineage, type ModelRecord } from "../storage/adapter";
import { AliasPolicyChecker } from "./check";
import { loadAliasPolicy } from "./load";
import type { AliasPolicy } from "./policy";

const target = (metadata: Record<string, string> = {}, extra: Partial<ModelRecord> = {}): ModelRecord => ({
  id: "m1",
  name: "bert",
  version: "1.1.0",
  framework: "",
  description: "",
  tags: [],
  metadata,
  artifactUri: "",
  artifactDigest: "",
  lineage: emptyLineage,
  revision: 1,
  createTime: 0,
  updateTime: 0,
  ...extra,
});
const admin: Principal = { subject: "ops", roles: ["admin"] };
const writer: Principal = { subject: "ci-bot", roles: ["writer"] };

/** The refusal of moving bert@production to `record`; `caller` null: no principal (auth off). */
async function moveRefusal(policy: AliasPolicy, record: ModelRecord, caller: Principal | null = admin) {
  const principal = caller ?? undefined;
  const check = new AliasPolicyChecker(policy).forSet(record.name, "production", principal);
  if (!check) throw new Error("production is not protected");
  return check(record, undefined);
}

const production = (entry: AliasPolicy["protectedAliases"][string]): AliasPolicy => ({
  protectedAliases: { production: entry },
});

describe("the promotion policy's checks", () => {
  it("compares a bare value exactly, and >= as numbers", async () => {
    const policy = production({ metadata: { "eval.passed": "true", "eval.auc": ">= 0.90" } });
    expect(await moveRefusal(policy, target({ "eval.passed": "true", "eval.auc": "0.9" }))).toBeUndefined();
    expect(await moveRefusal(policy, target({ "eval.passed": "true", "eval.auc": "1e0" }))).toBeUndefined();
    const refusal = await moveRefusal(policy, target({ "eval.passed": "True", "eval.auc": "0.899" }));
    expect(refusal).toMatchObject({ code: "FAILED_PRECONDITION", reason: "PROMOTION_REQUIREMENTS_UNMET" });
    expect(refusal?.violations).toEqual([
      {
        type: "METADATA",
        subject: "metadata.eval.passed",
        description: 'metadata needs eval.passed = "true"; it is "True"',
      },
      {
        type: "METADATA",
        subject: "metadata.eval.auc",
        description: 'metadata needs eval.auc >= 0.90; it is "0.899"',
      },
    ]);
  });

  it("says when a numeric requirement meets a value that is not a number, or no value", async () => {
    const refusal = await moveRefusal(
      production({ metadata: { loss: "< 0.1", auc: "> 0.5" } }),
      target({ loss: "n/a" }),
    );
    expect(refusal?.violations.map((v) => v.description)).toEqual([
      'metadata needs loss < 0.1; it is "n/a", which is not a number',
      'metadata "auc" is missing; the policy needs auc > 0.5',
    ]);
  });

  it("checks != and <=, the digest and the tags, each missing item a violation", async () => {
    const policy = production({
      metadata: { stage: "!= draft", latency_ms: "<= 20" },
      artifactDigest: true,
      tags: ["approved", "signed"],
    });
    const refusal = await moveRefusal(
      policy,
      target({ stage: "draft", latency_ms: "20" }, { tags: ["signed"] }),
    );
    expect(refusal?.violations.map((v) => [v.type, v.subject])).toEqual([
      ["METADATA", "metadata.stage"],
      ["ARTIFACT_DIGEST", "artifact_digest"],
      ["TAG", "tags.approved"],
    ]);
    const ready = target(
      { stage: "prod", latency_ms: "12" },
      { tags: ["approved", "signed"], artifactDigest: `sha256:${"a".repeat(64)}` },
    );
    expect(await moveRefusal(policy, ready)).toBeUndefined();
  });

  it("needs the role: built-in roles by their order, others by name; nobody without a principal", async () => {
    const policy = production({ role: "writer" });
    expect(await moveRefusal(policy, target(), admin)).toBeUndefined();
    expect(await moveRefusal(policy, target(), { subject: "r", roles: ["reader"] })).toMatchObject({
      code: "PERMISSION_DENIED",
      reason: "ALIAS_PROTECTED",
      message: "r may not move bert@production: the alias is protected and needs the writer role.",
    });
    const named = production({ role: "release-manager" });
    expect(await moveRefusal(named, target(), admin)).toMatchObject({ code: "PERMISSION_DENIED" });
    expect(
      await moveRefusal(named, target(), { subject: "eve", roles: ["release-manager"] }),
    ).toBeUndefined();
    expect((await moveRefusal(policy, target(), null))?.message).toBe(
      "An unauthenticated caller may not move bert@production: the alias is protected and needs the writer role.",
    );
  });

  it("checks the role before the evidence, so a caller without it learns nothing of the target", async () => {
    const refusal = await moveRefusal(
      production({ role: "admin", metadata: { ok: "true" } }),
      target(),
      writer,
    );
    expect(refusal).toMatchObject({ code: "PERMISSION_DENIED", violations: [] });
  });

  it("runs the custom hook with the target as a Model, its strings becoming violations", async () => {
    const seen: string[] = [];
    const policy = production({
      check: async ({ target: model, principal, alias }) => {
        seen.push(`${principal?.subject} ${alias} ${model.version} ${model.etag}`);
        return model.description === "" ? ["needs a model card (description)"] : undefined;
      },
    });
    expect((await moveRefusal(policy, target()))?.violations).toEqual([
      { type: "CHECK", subject: "check", description: "needs a model card (description)" },
    ]);
    expect(await moveRefusal(policy, target({}, { description: "card" }))).toBeUndefined();
    expect(seen).toEqual(['ops production 1.1.0 "1"', 'ops production 1.1.0 "1"']);
  });

  it("protects only the names listed, exactly or by a prefix ending in *", () => {
    const checker = new AliasPolicyChecker(production({ names: ["bert", "fraud/*"], role: "admin" }));
    expect(checker.forSet("bert", "production", writer)).toBeDefined();
    expect(checker.forSet("fraud/detector", "production", writer)).toBeDefined();
    expect(checker.forSet("bert-large", "production", writer)).toBeUndefined();
    expect(checker.forSet("bert", "staging", writer)).toBeUndefined();
  });

  it("guards deletes with the role alone", async () => {
    const checker = new AliasPolicyChecker(production({ role: "admin", metadata: { ok: "true" } }));
    expect(await checker.forDelete("bert", "production", admin)?.()).toBeUndefined();
    expect(await checker.forDelete("bert", "production", writer)?.()).toMatchObject({
      code: "PERMISSION_DENIED",
      message: "ci-bot may not delete bert@production: the alias is protected and needs the admin role.",
    });
    expect(
      new AliasPolicyChecker(production({ metadata: { ok: "true" } })).forDelete(
        "bert",
        "production",
        writer,
      ),
    ).toBeUndefined();
  });
});

describe("a policy that is not valid", () => {
  it.each<[unknown, string]>([
    [
      { protectedAliases: { production: { metadata: { auc: ">= high" } } } },
      'aliasPolicy.protectedAliases.production.metadata["auc"]: ">= high" compares with >=, which needs a number after it',
    ],
    [
      { protectedAliases: { latest: {} } },
      "aliasPolicy.protectedAliases.latest: is not an alias that can be set",
    ],
    [
      { protectedAliases: { Prod: {} } },
      "aliasPolicy.protectedAliases.Prod: is not an alias that can be set",
    ],
    [
      { protectedAliases: { production: { roles: ["admin"] } } },
      'aliasPolicy.protectedAliases.production: unknown setting "roles"',
    ],
    [
      { protectedAliases: { production: { role: 3 } } },
      "aliasPolicy.protectedAliases.production.role: must be a role name",
    ],
    [
      { protectedAliases: { production: { tags: "approved" } } },
      "aliasPolicy.protectedAliases.production.tags: must be a list of tags",
    ],
    [
      { protectedAliases: { production: { artifactDigest: "yes" } } },
      "aliasPolicy.protectedAliases.production.artifactDigest: must be true or false",
    ],
    [
      { protectedAliases: { production: { metadata: { auc: 0.9 } } } },
      'aliasPolicy.protectedAliases.production.metadata["auc"]: must be a string',
    ],
    [
      { protectedAliases: { production: { names: ["bert", "bert "] } } },
      'aliasPolicy.protectedAliases.production.names[1]: "bert " is not a model name or a name prefix ending in *',
    ],
    [
      { protectedAliases: { production: { names: ["fraud/**"] } } },
      'aliasPolicy.protectedAliases.production.names[0]: "fraud/**" is not a model name',
    ],
    [
      { protectedAliases: { production: { names: ["*"] } } },
      'aliasPolicy.protectedAliases.production.names[0]: "*" is not a model name',
    ],
    [
      { protectedAliases: { production: { names: ["-bert*"] } } },
      'aliasPolicy.protectedAliases.production.names[0]: "-bert*" is not a model name',
    ],
    [
      { protectedAliases: { production: { names: "bert" } } },
      "aliasPolicy.protectedAliases.production.names: must be a list of model names",
    ],
    [
      { protectedAliases: { production: { names: [7] } } },
      "aliasPolicy.protectedAliases.production.names[0]: must be a model name",
    ],
    [
      { protectedAliases: { Production: {} } },
      "aliasPolicy.protectedAliases.Production: is not an alias that can be set",
    ],
    [{ aliases: {} }, 'aliasPolicy: unknown setting "aliases"'],
    [{ protectedAliases: [] }, "aliasPolicy.protectedAliases: must map alias names to their requirements"],
  ])("is refused with a TypeError naming the entry: %j", (policy, message) => {
    expect(() => new AliasPolicyChecker(policy as AliasPolicy, "aliasPolicy")).toThrow(TypeError);
    expect(() => new AliasPolicyChecker(policy as AliasPolicy, "aliasPolicy")).toThrow(message);
  });
});

describe("loadAliasPolicy", () => {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-policy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("reads YAML and JSON files into the same policy", async () => {
    const yaml = file(
      "policy.yaml",
      'protectedAliases:\n  production:\n    role: admin\n    metadata:\n      eval.passed: "true"\n      eval.auc: ">= 0.90"\n    artifactDigest: true\n    names: ["bert*"]\n',
    );
    const expected = {
      protectedAliases: {
        production: {
          role: "admin",
          metadata: { "eval.passed": "true", "eval.auc": ">= 0.90" },
          artifactDigest: true,
          names: ["bert*"],
        },
      },
    };
    expect(await loadAliasPolicy(yaml)).toEqual(expected);
    expect(await loadAliasPolicy(file("policy.json", JSON.stringify(expected)))).toEqual(expected);
  });

  it("names the file and the entry when the policy is wrong", async () => {
    const yaml = file(
      "bad.yml",
      "protectedAliases:\n  production:\n    metadata:\n      eval.passed: true\n",
    );
    await expect(loadAliasPolicy(yaml)).rejects.toThrow(
      `${yaml}.protectedAliases.production.metadata["eval.passed"]: must be a string, such as "true" or ">= 0.90"`,
    );
    const json = file("bad.json", "{ protectedAliases: {} }");
    await expect(loadAliasPolicy(json)).rejects.toThrow(`${json}: not valid JSON`);
    const typo = file("typo.yaml", 'protectedAliases:\n  production:\n    names: ["fraud/*", "bert "]\n');
    await expect(loadAliasPolicy(typo)).rejects.toThrow(
      `${typo}.protectedAliases.production.names[1]: "bert " is not a model name or a name prefix ending in *`,
    );
    await expect(loadAliasPolicy(file("policy.toml", ""))).rejects.toThrow(
      "must end in .json, .yaml or .yml",
    );
    await expect(loadAliasPolicy(join(dir, "missing.json"))).rejects.toThrow("ENOENT");
  });
});
