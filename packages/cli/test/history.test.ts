// `modelreg history` with authentication on: actors from bearer tokens, a refused promotion's
// missing evidence on stderr, and tokens that are sent but never printed.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTokenAuth, hashToken } from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelreg, startSqliteRegistry, tempDir } from "./cli-support";

const tmp = tempDir("modelreg-cli-history-");
const anaToken = "ana-3243f6a8885a308d313198a2e0370734";
const bobToken = "bob-a4093822299f31d0082efa98ec4e6c89";
let registry: Awaited<ReturnType<typeof startSqliteRegistry>>;
let auth: Awaited<ReturnType<typeof createTokenAuth>>;
let address: string;
const as = (token: string) => ({ MODELREG_REGISTRY: address, MODELREG_TOKEN: token });

beforeAll(async () => {
  const file = join(tmp.dir, "auth.json");
  writeFileSync(
    file,
    JSON.stringify({
      tokens: [
        { sha256: hashToken(anaToken), subject: "ana", roles: ["admin"] },
        { sha256: hashToken(bobToken), subject: "bob", roles: ["writer"] },
      ],
    }),
  );
  auth = await createTokenAuth({ file, watch: false });
  registry = await startSqliteRegistry(tmp.dir, {
    authorize: auth.authorize,
    aliasPolicy: { protectedAliases: { production: { metadata: { "eval.passed": "true" } } } },
  });
  address = registry.address;
  await modelreg(["models", "create", "bert", "1.0.0"], as(anaToken));
  await modelreg(["models", "create", "bert", "2.0.0", "--metadata", "eval.passed=true"], as(bobToken));
  await modelreg(["aliases", "set", "bert", "champion", "2.0.0"], as(bobToken));
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  auth?.close();
  tmp.remove();
});

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe("history and tokens", () => {
  it("sends the token (6 without one) and never prints it", async () => {
    const without = await modelreg(["models", "list"], { MODELREG_REGISTRY: address });
    expect(without.code).toBe(6);
    expect(without.stderr).toMatch(/UNAUTHENTICATED/);
    const wrong = await modelreg(["models", "list", "--token", "not-the-right-one", "--debug"], as(anaToken));
    expect(wrong.code).toBe(6);
    expect(wrong.stderr + wrong.stdout).not.toContain("not-the-right-one");
    const bad = await modelreg(["models", "list", "--token", "bad token with spaces"], as(anaToken));
    expect(bad.code).toBe(1);
    expect(bad.stderr).not.toContain("spaces");
    const ok = await modelreg(["models", "list", "--json", "--debug"], as(anaToken));
    expect(ok.code).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(anaToken);
  });

  it("lists changes newest first with their actors, narrowed by --actor and --type", async () => {
    const all = await modelreg(["history"], as(anaToken));
    expect(all.code).toBe(0);
    const rows = all.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^REVISION\s+TIME\s+ACTOR\s+TYPE\s+NAME\s+VERSION\s+DETAIL$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(2, 6))).toEqual([
      ["bob", "ALIAS_SET", "bert", "2.0.0"],
      ["bob", "CREATED", "bert", "2.0.0"],
      ["ana", "CREATED", "bert", "1.0.0"],
    ]);
    const bob = await modelreg(["history", "--actor", "bob", "--type", "CREATED", "--json"], as(anaToken));
    const entries = json(bob.stdout).entries as Record<string, unknown>[];
    expect(entries.map((e) => [e.actor, e.type, (e.after as { version: string }).version])).toEqual([
      ["bob", "MODEL_EVENT_TYPE_CREATED", "2.0.0"],
    ]);
  });

  it("a refused promotion: exit 3, the missing evidence on the one stderr line, then in the history", async () => {
    const refused = await modelreg(["aliases", "set", "bert", "production", "1.0.0"], as(anaToken));
    expect(refused.code).toBe(3);
    expect(refused.stderr.split("\n")).toHaveLength(2);
    expect(refused.stderr).toMatch(
      /^modelreg: .*eval\.passed.*\(FAILED_PRECONDITION, PROMOTION_REQUIREMENTS_UNMET\)\n$/,
    );
    const history = await modelreg(["history", "--refused", "--ndjson"], as(anaToken));
    const lines = history.stdout.trimEnd().split("\n").map(json);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ actor: "ana", aliasAfter: { alias: "production", version: "1.0.0" } });
    expect((await modelreg(["history", "--type", "bogus"], as(anaToken))).code).toBe(1);
  });
});
