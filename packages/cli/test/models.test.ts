// `modelreg models ...` in process against a real registry on a socket (SQLite file).
import { createRegistryClient } from "@modelreg/registry-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedAddress, modelreg, startSqliteRegistry, tempDir } from "./cli-support";

const tmp = tempDir("modelreg-cli-models-");
let registry: Awaited<ReturnType<typeof startSqliteRegistry>>;
let env: Record<string, string>;

beforeAll(async () => {
  registry = await startSqliteRegistry(tmp.dir);
  env = { MODELREG_REGISTRY: registry.address };
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  tmp.remove();
});

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe("models", () => {
  it("creates with --json and finds the same model by get, lookup and a filtered list", async () => {
    const created = await modelreg(
      [
        "models",
        "create",
        "bert",
        "1.0.0",
        "--framework",
        "onnx",
        "--tag",
        "production",
        "--tag",
        "nlp",
        "--metadata",
        "eval.f1=0.91",
        "--artifact-uri",
        "s3://models/bert/1.0.0",
        "--run-uri",
        "mlflow://runs/7",
        "--dataset-uri",
        "s3://data/a",
        "--dataset-uri",
        "s3://data/b",
        "--json",
      ],
      env,
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const model = json(created.stdout);
    expect(model).toMatchObject({
      name: "bert",
      version: "1.0.0",
      framework: "onnx",
      tags: ["nlp", "production"],
      metadata: { "eval.f1": "0.91" },
      artifactUri: "s3://models/bert/1.0.0",
      lineage: { runUri: "mlflow://runs/7", datasetUris: ["s3://data/a", "s3://data/b"] },
    });
    await modelreg(
      ["models", "create", "bert", "2.0.0", "--framework", "pytorch", "--tag", "production"],
      env,
    );
    await modelreg(["models", "create", "gpt", "1.0.0", "--framework", "onnx"], env);

    const got = await modelreg(["models", "get", String(model.id), "--json"], env);
    expect(json(got.stdout)).toEqual(model);
    const looked = await modelreg(["models", "lookup", "bert", "1.0.0", "--json"], env);
    expect(json(looked.stdout)).toEqual(model);
    const byFlag = await modelreg(["models", "lookup", "bert", "--version", "1.0.0", "--json"], env);
    expect(json(byFlag.stdout)).toEqual(model);
    const listed = await modelreg(
      ["models", "list", "--filter", 'tags:production AND framework = "onnx"', "--json"],
      env,
    );
    expect(listed.code).toBe(0);
    expect(json(listed.stdout)).toEqual({ models: [model] });
  });

  it("prints a readable table: a header row and one row per model, no borders", async () => {
    const run = await modelreg(["models", "list", "--order-by", "name, version"], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+VERSION\s+FRAMEWORK\s+TAGS\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(1, 4))).toEqual([
      ["bert", "1.0.0", "onnx"],
      ["bert", "2.0.0", "pytorch"],
      ["gpt", "1.0.0", "onnx"],
    ]);
    expect(run.stdout).not.toMatch(/[│┌─]/);
  });

  it("streams --ndjson one model per line, and --limit says there were more", async () => {
    const all = await modelreg(["models", "list", "--ndjson", "--page-size", "1"], env);
    const lines = all.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => json(l).name).sort()).toEqual(["bert", "bert", "gpt"]);
    const limited = await modelreg(["models", "list", "--limit", "2"], env);
    expect(limited.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(limited.stderr).toMatch(/first 2 models shown/);
  });

  it("shows one model as field lines, and resolves name@alias", async () => {
    expect((await modelreg(["aliases", "set", "gpt", "champion", "1.0.0"], env)).code).toBe(0);
    const run = await modelreg(["models", "lookup", "gpt@champion"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^name\s+gpt$/m);
    expect(run.stdout).toMatch(/^version\s+1\.0\.0$/m);
    expect(run.stdout).toMatch(/^framework\s+onnx$/m);
  });

  it("updates, tags, untags, sets metadata and deletes", async () => {
    const created = json((await modelreg(["models", "create", "t5", "1.0.0", "--json"], env)).stdout);
    const id = String(created.id);
    const updated = await modelreg(
      ["models", "update", id, "--description", "small", "--code-revision", "abc123", "--json"],
      env,
    );
    expect(json(updated.stdout)).toMatchObject({ description: "small", lineage: { codeRevision: "abc123" } });
    const tagged = await modelreg(["models", "tag", id, "a", "b", "--json"], env);
    expect(json(tagged.stdout).tags).toEqual(["a", "b"]);
    const untagged = await modelreg(["models", "untag", id, "a", "--json"], env);
    expect(json(untagged.stdout).tags).toEqual(["b"]);
    await modelreg(["models", "set-metadata", id, "k1=v1", "k2=v2"], env);
    const meta = await modelreg(["models", "set-metadata", id, "k3=v3", "--remove", "k1", "--json"], env);
    expect(json(meta.stdout).metadata).toEqual({ k2: "v2", k3: "v3" });
    const stale = await modelreg(["models", "delete", id, "--etag", String(created.etag)], env);
    expect(stale.code).toBe(3);
    expect((await modelreg(["models", "delete", id], env)).code).toBe(0);
    expect((await modelreg(["models", "get", id], env)).code).toBe(2);
  });
});

describe("models: errors and exit codes", () => {
  it("2 for an unknown id, one line on stderr; the JSON error body with --json", async () => {
    const run = await modelreg(["models", "get", "no-such-id"], env);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^modelreg: .*NOT_FOUND.*\n$/);
    expect(run.stderr.split("\n")).toHaveLength(2);
    const asJson = await modelreg(["models", "get", "no-such-id", "--json"], env);
    expect(asJson.code).toBe(2);
    expect(json(asJson.stderr)).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
  });

  it("3 for a duplicate create", async () => {
    const run = await modelreg(["models", "create", "bert", "1.0.0"], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/ALREADY_EXISTS/);
  });

  it("5 for a filter the registry refuses, naming what is wrong", async () => {
    const run = await modelreg(["models", "list", "--filter", "tags:: AND"], env);
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/^modelreg: .*INVALID_ARGUMENT/);
  });

  it("1 for an unknown option, a missing argument, a bad number; nothing sent", async () => {
    const unknown = await modelreg(["models", "list", "--bogus"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^modelreg: unknown option '--bogus'/);
    const missing = await modelreg(["models", "get"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing required argument 'id'/);
    const bad = await modelreg(["models", "list", "--page-size", "ten"], env);
    expect(bad.code).toBe(1);
    const url = await modelreg(["models", "list", "--registry", "http://localhost:8080"], env);
    expect(url.code).toBe(1);
    expect(url.stderr).toMatch(/--registry takes the registry's gRPC host:port, not a URL/);
    const pair = await modelreg(["models", "create", "x", "1", "--metadata", "novalue"], env);
    expect(pair.code).toBe(1);
    expect(pair.stderr).toMatch(/--metadata expects key=value/);
  });

  it("4, fast, naming the address, when the registry is down", async () => {
    const address = await closedAddress();
    const started = Date.now();
    const run = await modelreg(["models", "list", "--registry", address]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`cannot reach the registry at ${address}`);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("models list: many models", () => {
  it("--all --ndjson prints every one of 2,500 models once; the default stops at 100 and says so", async () => {
    const client = createRegistryClient({ target: registry.address, insecure: true });
    try {
      const items = Array.from({ length: 2500 }, (_, i) => ({
        model: { name: "bulk", version: `0.0.${i}` },
      }));
      const summary = await client.importModels(items);
      expect(summary.createdCount).toBe(2500);
    } finally {
      client.close();
    }
    const filter = ["--filter", 'name = "bulk"'];
    const all = await modelreg(["models", "list", ...filter, "--all", "--ndjson"], env);
    expect(all.code).toBe(0);
    const versions = all.stdout
      .trimEnd()
      .split("\n")
      .map((l) => json(l).version);
    expect(new Set(versions).size).toBe(2500);
    expect(all.stderr).toBe("");
    const first = await modelreg(["models", "list", ...filter, "--json"], env);
    expect((json(first.stdout).models as unknown[]).length).toBe(100);
    expect(first.stderr).toMatch(/first 100 models shown/);
  }, 60_000);
});
