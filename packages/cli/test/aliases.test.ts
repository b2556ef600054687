// `modelreg aliases ...` (and what aliases do to models) in process against a real registry (SQLite).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelreg, startSqliteRegistry, tempDir } from "./cli-support";

const tmp = tempDir("modelreg-cli-aliases-");
let registry: Awaited<ReturnType<typeof startSqliteRegistry>>;
let env: Record<string, string>;
const ids: Record<string, string> = {};

beforeAll(async () => {
  registry = await startSqliteRegistry(tmp.dir);
  env = { MODELREG_REGISTRY: registry.address };
  for (const version of ["1.0.0", "1.1.0"]) {
    const run = await modelreg(["models", "create", "bert", version, "--json"], env);
    ids[version] = String(JSON.parse(run.stdout).id);
  }
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  tmp.remove();
});

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe("aliases", () => {
  it("sets, moves with compare-and-set, refuses a stale --expected-version with 3", async () => {
    const set = await modelreg(
      ["aliases", "set", "bert", "champion", "1.0.0", "--expected-version", "", "--json"],
      env,
    );
    expect(set.code).toBe(0);
    expect(json(set.stdout)).toMatchObject({
      name: "bert",
      alias: "champion",
      version: "1.0.0",
      modelId: ids["1.0.0"],
    });
    const stale = await modelreg(
      ["aliases", "set", "bert", "champion", "1.1.0", "--expected-version", "0.9.0"],
      env,
    );
    expect(stale.code).toBe(3);
    expect(stale.stderr).toMatch(/^modelreg: .*ABORTED, ALIAS_CHANGED\)\n$/);
    const moved = await modelreg(
      ["aliases", "set", "bert", "champion", "1.1.0", "--expected-version", "1.0.0"],
      env,
    );
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/^version\s+1\.1\.0$/m);
  });

  it("gets an alias (name alias or name@alias), lists them, and a lookup follows it", async () => {
    await modelreg(["aliases", "set", "bert", "staging", "1.0.0"], env);
    const got = await modelreg(["aliases", "get", "bert@champion", "--json"], env);
    expect(json(got.stdout)).toMatchObject({ alias: "champion", version: "1.1.0" });
    expect(json((await modelreg(["aliases", "get", "bert", "staging", "--json"], env)).stdout).version).toBe(
      "1.0.0",
    );
    const listed = await modelreg(["aliases", "list", "bert"], env);
    const rows = listed.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^NAME\s+ALIAS\s+VERSION\s+MODEL ID\s+UPDATED\s+BY$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 3))).toEqual([
      ["bert", "champion", "1.1.0"],
      ["bert", "staging", "1.0.0"],
    ]);
    const looked = await modelreg(["models", "lookup", "bert", "--alias", "champion", "--json"], env);
    expect(json(looked.stdout).id).toBe(ids["1.1.0"]);
    expect((await modelreg(["aliases", "get", "bert", "nope"], env)).code).toBe(2);
  });

  it("resolves an alias as it was at --read-time", async () => {
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await modelreg(["aliases", "set", "bert", "staging", "1.1.0"], env);
    const then = await modelreg(["models", "lookup", "bert@staging", "--read-time", before, "--json"], env);
    expect(then.code).toBe(0);
    expect(json(then.stdout).version).toBe("1.0.0");
    const bad = await modelreg(["models", "lookup", "bert@staging", "--read-time", "yesterday"], env);
    expect(bad.code).toBe(1);
  });

  it("guards a model an alias points at: delete is 3 without --force", async () => {
    const refused = await modelreg(["models", "delete", String(ids["1.1.0"])], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/champion/);
    const wrong = await modelreg(
      ["aliases", "delete", "bert", "staging", "--expected-version", "1.0.0"],
      env,
    );
    expect(wrong.code).toBe(3);
    expect(
      (await modelreg(["aliases", "delete", "bert", "staging", "--expected-version", "1.1.0"], env)).code,
    ).toBe(0);
    expect((await modelreg(["models", "delete", String(ids["1.1.0"]), "--force"], env)).code).toBe(0);
    expect((await modelreg(["aliases", "get", "bert@champion"], env)).code).toBe(2);
  });
});
