// `modelreg models export | import | watch` between two real registries (SQLite files, on sockets):
// 10,000 models with their aliases and lineage round-trip, a second import creates nothing, a bad line
// stops the import there, and the real bin pipes export into import and watches a change.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { type Model, ModelEventType } from "@modelreg/proto";
import { createRegistryClient, type RegistryClient } from "@modelreg/registry-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../src/context";
import { runCli } from "../src/main";
import { exportRegistry } from "../src/transfer/export";
import { eventLine } from "../src/transfer/watch";
import { startSqliteRegistry, tempDir } from "./cli-support";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const tmp = tempDir("modelreg-cli-transfer-");
const count = 10_000;
type Registry = Awaited<ReturnType<typeof startSqliteRegistry>>;
let a: Registry;
let b: Registry;
let clientA: RegistryClient;
let clientB: RegistryClient;

/** Runs `modelreg argv` in process with stdin/stdout as given (files) and stderr captured. */
async function run(
  argv: string[],
  streams: { stdin?: NodeJS.ReadableStream; stdout?: NodeJS.WritableStream; ttyStderr?: boolean } = {},
) {
  let stdout = "";
  let stderr = "";
  const out = new PassThrough();
  const err = Object.assign(new PassThrough(), streams.ttyStderr ? { isTTY: true, columns: 100 } : {});
  out.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  err.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stdin = streams.stdin ?? new PassThrough().end();
  const io: CliIo = { stdin, stdout: streams.stdout ?? out, stderr: err, env: {}, cwd: tmp.dir };
  const code = await runCli(argv, io);
  if (streams.stdout) {
    streams.stdout.end();
    await once(streams.stdout, "close");
  }
  return { code, stdout, stderr };
}

const digest = (i: number) => `sha256:${i.toString(16).padStart(64, "0")}`;

/** Model i of the source: every field an export must carry. */
function sourceModel(i: number) {
  return {
    name: `model-${i % 100}`,
    version: `1.${Math.floor(i / 100)}.0`,
    framework: i % 2 ? "onnx" : "pytorch",
    description: `model number ${i}`,
    tags: i % 3 ? ["nlp"] : ["nlp", "production"],
    metadata: { "eval.f1": `0.${i}`, owner: "ana" },
    artifactUri: `s3://models/${i}/model.onnx`,
    artifactDigest: digest(i),
    lineage: { runUri: `mlflow://runs/${i}`, codeRevision: `rev-${i}`, datasetUris: [`s3://data/${i % 7}`] },
  };
}

const key = (m: { name: string; version: string }) => `${m.name}@${m.version}`;

async function allModels(client: RegistryClient): Promise<Map<string, Model>> {
  const models = new Map<string, Model>();
  for await (const m of client.listAllModels({ pageSize: 1000 })) models.set(key(m), m);
  return models;
}

/** What must survive the round trip: everything but ids, etags, times; parents by name@version. */
function comparable(m: Model, byId: Map<string, Model>) {
  const parents = (m.lineage?.parentModelIds ?? []).map((id) =>
    key(byId.get(id) ?? { name: "?", version: id }),
  );
  return {
    name: m.name,
    version: m.version,
    framework: m.framework,
    description: m.description,
    tags: m.tags,
    metadata: m.metadata,
    artifactUri: m.artifactUri,
    artifactDigest: m.artifactDigest,
    lineage: { ...m.lineage, parentModelIds: parents },
  };
}

beforeAll(async () => {
  const [dirA, dirB] = [join(tmp.dir, "a"), join(tmp.dir, "b")];
  for (const dir of [dirA, dirB]) mkdirSync(dir);
  a = await startSqliteRegistry(dirA);
  b = await startSqliteRegistry(dirB);
  clientA = createRegistryClient({ target: a.address, insecure: true });
  clientB = createRegistryClient({ target: b.address, insecure: true });
  const items = Array.from({ length: count }, (_, i) => ({ model: sourceModel(i) }));
  const seeded = await clientA.importModels(items);
  expect(seeded.createdCount).toBe(count);
  // Lineage two generations deep, and aliases.
  const parent = await clientA.lookupModel({ name: "model-1", version: "1.0.0" });
  const child = await clientA.createModel({
    model: { name: "distilled", version: "1.0.0", lineage: { parentModelIds: [parent.id] } },
  });
  await clientA.createModel({
    model: { name: "distilled", version: "2.0.0", lineage: { parentModelIds: [child.id, parent.id] } },
  });
  await clientA.setModelAlias({ name: "model-1", alias: "champion", version: "1.0.0" });
  await clientA.setModelAlias({ name: "model-2", alias: "champion", version: "1.5.0" });
  await clientA.setModelAlias({ name: "distilled", alias: "prod", version: "2.0.0" });
}, 120_000);

afterAll(async () => {
  clientA?.close();
  clientB?.close();
  await a?.stop();
  await b?.stop();
  tmp.remove();
});

const exportFile = () => join(tmp.dir, "a.ndjson");
const total = count + 2;

describe("models export | import", () => {
  it("exports every model and alias as NDJSON: a header, the models, the aliases, an end line", async () => {
    const result = await run(["models", "export", "--registry", a.address], {
      stdout: createWriteStream(exportFile()),
    });
    expect(result.stderr).toBe(`exported ${total} models and 3 aliases\n`);
    expect(result.code).toBe(0);
    const lines = readFileSync(exportFile(), "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(1 + total + 3 + 1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ kind: "modelreg-export", version: 1, filter: "" });
    expect(JSON.parse(lines[1] ?? "")).toMatchObject({ kind: "model", model: { name: "model-0" } });
    const grandchild = lines.map((l) => JSON.parse(l)).find((l) => l.model?.version === "2.0.0");
    expect(grandchild.parents.map(key).sort()).toEqual(["distilled@1.0.0", "model-1@1.0.0"]);
    expect(JSON.parse(lines.at(-2) ?? "")).toMatchObject({ kind: "alias", alias: { name: "model-2" } });
    expect(JSON.parse(lines.at(-1) ?? "")).toEqual({ kind: "end", models: total, aliases: 3 });
  }, 120_000);

  it("exports a filtered set to --output FILE (no partial file left) with a JSON summary", async () => {
    const file = join(tmp.dir, "distilled.ndjson");
    const filter = 'name = "distilled"';
    const result = await run([
      "models",
      "export",
      "--registry",
      a.address,
      "--filter",
      filter,
      "--output",
      file,
      "--json",
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ models: 2, aliases: 1, output: file });
    expect(existsSync(`${file}.partial`)).toBe(false);
    const kinds = readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).kind);
    expect(kinds).toEqual(["modelreg-export", "model", "model", "alias", "end"]);
  }, 60_000);

  it("imports it into another registry: the same models, lineage and aliases", async () => {
    const result = await run(["models", "import", "--registry", b.address], {
      stdin: createReadStream(exportFile()),
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `models: ${total} created, 0 already present, 0 present with different content, 0 failed\n` +
        "aliases: 3 set, 0 already present, 0 failed\n",
    );
    const [source, target] = [await allModels(clientA), await allModels(clientB)];
    expect(target.size).toBe(total);
    const [sourceById, targetById] = [source, target].map(
      (m) => new Map([...m.values()].map((x) => [x.id, x])),
    );
    for (const [k, model] of source) {
      const copy = target.get(k);
      expect(copy, k).toBeDefined();
      expect(comparable(copy as Model, targetById as Map<string, Model>)).toEqual(
        comparable(model, sourceById as Map<string, Model>),
      );
    }
    expect(target.get("distilled@2.0.0")?.lineage?.parentModelIds).toHaveLength(2);
    const aliases = async (c: RegistryClient) => {
      const all = [];
      for await (const x of c.listAllModelAliases({})) all.push(`${x.name}@${x.alias}->${x.version}`);
      return all;
    };
    expect(await aliases(clientB)).toEqual(await aliases(clientA));
    // The source was seeded in one batch (create times shared): latest is still the same version.
    for (let i = 0; i < 100; i++) {
      const latest = (c: RegistryClient) => c.lookupModel({ name: `model-${i}`, alias: "latest" });
      expect((await latest(clientB)).version, `model-${i}`).toBe((await latest(clientA)).version);
    }
  }, 180_000);

  it("imports the same export again through the real bin and a pipe: nothing new, exit 0", async () => {
    const bin = "npx tsx packages/cli/src/bin.ts";
    const child = spawn(
      "sh",
      [
        "-c",
        `${bin} models export --registry ${a.address} | ${bin} models import --registry ${b.address} --json`,
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, "exit");
    expect(stderr).toBe(`exported ${total} models and 3 aliases\n`);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      models: { created: 0, alreadyPresent: total, differs: 0, failed: 0 },
      aliases: { set: 0, alreadyPresent: 3, failed: 0 },
      failures: [],
      replaysSeparated: true,
    });
    expect((await allModels(clientB)).size).toBe(total);
  }, 180_000);

  it("stops at a malformed line: the lines before it are imported, none after, exit 1 naming the line", async () => {
    const model = (name: string) =>
      JSON.stringify({ kind: "model", model: { id: `src-${name}`, name, version: "1", etag: '"1"' } });
    const file = join(tmp.dir, "bad.ndjson");
    const header = JSON.stringify({ kind: "modelreg-export", version: 1 });
    writeFileSync(
      file,
      [header, model("before-1"), model("before-2"), "{not json", model("after")].join("\n"),
    );
    const result = await run(["models", "import", "--registry", b.address, "--input", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("modelreg: line 4: not JSON; the lines before it were imported, none after\n");
    expect(result.stdout).toMatch(
      /^models: 2 created, 0 already present, 0 present with different content, 0 failed\n/,
    );
    await expect(clientB.lookupModel({ name: "before-2", version: "1" })).resolves.toMatchObject({
      name: "before-2",
    });
    await expect(clientB.lookupModel({ name: "after", version: "1" })).rejects.toMatchObject({ code: 5 });
  }, 60_000);

  it("reports items the registry refused and a truncated input: exit 5 with the failed lines", async () => {
    const file = join(tmp.dir, "refused.ndjson");
    const lines = [
      JSON.stringify({ kind: "modelreg-export", version: 1 }),
      JSON.stringify({ kind: "model", model: { id: "x1", name: "ok-model", version: "1", etag: '"1"' } }),
      JSON.stringify({ kind: "model", model: { id: "x2", name: "bad name!", version: "1", etag: '"1"' } }),
      JSON.stringify({ kind: "alias", alias: { name: "ok-model", alias: "champion", version: "9" } }),
      JSON.stringify({ kind: "end", models: 2, aliases: 1 }),
    ];
    writeFileSync(file, `${lines.join("\n")}\n`);
    const result = await run(["models", "import", "--registry", b.address, "--input", file, "--json"]);
    expect(result.code).toBe(5);
    const summary = JSON.parse(result.stdout);
    expect(summary.models).toEqual({ created: 1, alreadyPresent: 0, differs: 0, failed: 1 });
    expect(summary.aliases).toEqual({ set: 0, alreadyPresent: 0, failed: 1 });
    expect(summary.failures).toEqual([
      expect.objectContaining({ line: 3, item: "bad name!@1", code: "INVALID_ARGUMENT" }),
      expect.objectContaining({ line: 4, item: "ok-model@champion -> 9", code: "NOT_FOUND" }),
    ]);
    expect(JSON.parse(result.stderr).error.message).toBe("1 models and 1 aliases could not be imported");

    writeFileSync(file, `${lines.slice(0, 2).join("\n")}\n`);
    const truncated = await run(["models", "import", "--registry", b.address, "--input", file]);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(/line 2: the input ends without its "end" line/);
    expect(truncated.stdout).toMatch(/^models: 0 created, 1 already present, 0 present with different/);
  }, 60_000);
});

describe("models import on a terminal", () => {
  it("shows a progress bar on stderr when it is a terminal, and still prints the summary on stdout", async () => {
    const file = join(tmp.dir, "tty.ndjson");
    const lines = [JSON.stringify({ kind: "modelreg-export", version: 1 })];
    for (let i = 0; i < 250; i++) {
      lines.push(
        JSON.stringify({ kind: "model", model: { id: `t${i}`, name: "tty", version: `${i}`, etag: '"1"' } }),
      );
    }
    lines.push(JSON.stringify({ kind: "end", models: 250, aliases: 0 }));
    writeFileSync(file, `${lines.join("\n")}\n`);
    const result = await run(["models", "import", "--registry", b.address, "--input", file], {
      ttyStderr: true,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/importing \[.*\] 0% \| 0 models, 0 aliases/);
    // A later render than the first: the bar advanced to the whole file.
    expect(result.stderr).toMatch(/importing \[.*\] 100% \| 250 models, 0 aliases/);
    expect(result.stdout).toBe(
      "models: 250 created, 0 already present, 0 present with different content, 0 failed\n" +
        "aliases: 0 set, 0 already present, 0 failed\n",
    );
  }, 60_000);
});

const header = JSON.stringify({ kind: "modelreg-export", version: 1 });

/** An export file of `models` (model lines as given, no aliases), complete with its end line. */
function writeExport(name: string, models: readonly Record<string, unknown>[]): string {
  const file = join(tmp.dir, name);
  const lines = [header, ...models.map((m) => JSON.stringify({ kind: "model", ...m }))];
  lines.push(JSON.stringify({ kind: "end", models: models.length, aliases: 0 }));
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** Line i (1-based) of a lineage chain: version i fine-tuned from version i-1. */
function chainLine(name: string, i: number) {
  const model = { id: `${name}-${i}`, name, version: `${i}`, etag: '"1"' };
  if (i === 1) return { model };
  const parent = { id: `${name}-${i - 1}`, name, version: `${i - 1}` };
  return { model: { ...model, lineage: { parentModelIds: [parent.id] } }, parents: [parent] };
}

describe("models import: lineage, content and files", () => {
  let c: Registry;
  let clientC: RegistryClient;
  const calls = new Map<string, number>();
  const counted = (method: string) => calls.get(method) ?? 0;

  beforeAll(async () => {
    const dir = join(tmp.dir, "c");
    mkdirSync(dir);
    c = await startSqliteRegistry(dir, {
      interceptors: [
        (next) => (call) => {
          calls.set(call.method.name, counted(call.method.name) + 1);
          return next(call);
        },
      ],
    });
    clientC = createRegistryClient({ target: c.address, insecure: true });
  }, 60_000);

  afterAll(async () => {
    clientC?.close();
    await c?.stop();
  });

  /** Imports a chain of `n` versions; the registry calls it took. */
  async function importChain(name: string, n: number) {
    const file = writeExport(
      `${name}.ndjson`,
      Array.from({ length: n }, (_, i) => chainLine(name, i + 1)),
    );
    calls.clear();
    const result = await run(["models", "import", "--registry", c.address, "--input", file, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).models).toEqual({
      created: n,
      alreadyPresent: 0,
      differs: 0,
      failed: 0,
    });
    return { lookups: counted("LookupModel"), imports: counted("ImportModels") };
  }

  it("imports a lineage chain of 1,000 versions with one lookup per parent at most (linear, not quadratic)", async () => {
    const small = await importChain("chain-small", 200);
    const large = await importChain("chain-large", 1000);
    // Each parent's new id is looked up once; one stream per generation (a chain has no other choice).
    expect(small.lookups).toBeLessThanOrEqual(200);
    expect(large.lookups).toBeLessThanOrEqual(1000);
    expect(large.imports).toBeLessThanOrEqual(1000 + 1);
    // Lineage points at the target's own ids, all the way down.
    const v1000 = await clientC.lookupModel({ name: "chain-large", version: "1000" });
    const v999 = await clientC.lookupModel({ name: "chain-large", version: "999" });
    expect(v1000.lineage?.parentModelIds).toEqual([v999.id]);
    expect((await clientC.lookupModel({ name: "chain-large", alias: "latest" })).version).toBe("1000");
  }, 300_000);

  it("imports a child listed before its parent after the parent, and models without id or etag", async () => {
    const parent = { id: "p", name: "ordered", version: "1", etag: '"1"' };
    const child = {
      model: {
        id: "ch",
        name: "ordered-child",
        version: "1",
        etag: '"1"',
        lineage: { parentModelIds: ["p"] },
      },
      parents: [{ id: "p", name: "ordered", version: "1" }],
    };
    const noId = (version: string) => ({ model: { name: "no-id", version, framework: "onnx" } });
    const file = writeExport("order.ndjson", [child, { model: parent }, noId("1"), noId("2"), noId("3")]);
    const first = await run(["models", "import", "--registry", c.address, "--input", file, "--json"]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).models).toEqual({ created: 5, alreadyPresent: 0, differs: 0, failed: 0 });
    const target = await clientC.lookupModel({ name: "ordered", version: "1" });
    const copy = await clientC.lookupModel({ name: "ordered-child", version: "1" });
    expect(copy.lineage?.parentModelIds).toEqual([target.id]);
    // The request ids of lines without id are derived from their content: a re-run creates nothing.
    const again = await run(["models", "import", "--registry", c.address, "--input", file, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).models).toEqual({ created: 0, alreadyPresent: 5, differs: 0, failed: 0 });
  }, 60_000);

  it("reports a name@version the registry holds with other content as different (exit 3), leaving it", async () => {
    await clientC.createModel({ model: { name: "held", version: "1", artifactUri: "s3://other/weights" } });
    await clientC.createModel({ model: { name: "held", version: "2", tags: ["staging"] } });
    const file = writeExport("differs.ndjson", [
      { model: { id: "h1", name: "held", version: "1", etag: '"1"', artifactUri: "s3://mine/weights" } },
      { model: { id: "h2", name: "held", version: "2", etag: '"2"', tags: ["staging"] } },
      { model: { id: "h3", name: "held", version: "3", etag: '"1"' } },
    ]);
    const result = await run(["models", "import", "--registry", c.address, "--input", file]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe(
      "models: 1 created, 1 already present, 1 present with different content, 0 failed\n" +
        "aliases: 0 set, 0 already present, 0 failed\n" +
        "  line 2 held@1: ALREADY_EXISTS: the registry holds another held@1 (artifactUri differ); left unchanged\n",
    );
    expect(result.stderr).toBe(
      "modelreg: 1 models are in the registry with different content (left unchanged)\n",
    );
    expect((await clientC.lookupModel({ name: "held", version: "1" })).artifactUri).toBe(
      "s3://other/weights",
    );
  }, 60_000);

  it("refuses a missing or folder --input and a --output in a missing folder: one line, exit 1, no .partial", async () => {
    const missing = await run(["models", "import", "--registry", c.address, "--input", "nope.ndjson"]);
    expect(missing).toMatchObject({
      code: 1,
      stderr: "modelreg: --input nope.ndjson: cannot read it (ENOENT)\n",
    });
    const folder = await run(["models", "import", "--registry", c.address, "--input", tmp.dir]);
    expect(folder).toMatchObject({
      code: 1,
      stderr: `modelreg: --input ${tmp.dir}: cannot read it (it is a folder)\n`,
    });
    const out = join(tmp.dir, "no", "such", "a.ndjson");
    const exported = await run(["models", "export", "--registry", c.address, "--output", out]);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toBe(`modelreg: --output ${out}: cannot write ${out}.partial (ENOENT)\n`);
    expect(existsSync(join(tmp.dir, "no"))).toBe(false);
    // A read error after the first line (a failing disk, a closed pipe's producer): reported, no crash.
    const failing = new PassThrough();
    failing.write(`${header}\n`);
    setTimeout(() => failing.destroy(Object.assign(new Error("i/o error"), { code: "EIO" })), 50);
    const broken = await run(["models", "import", "--registry", c.address], { stdin: failing });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toBe(
      "modelreg: line 2: cannot read the input (EIO); the lines before it were imported, none after\n",
    );
    const empty = join(tmp.dir, "empty.ndjson");
    writeFileSync(empty, "");
    const nothing = await run(["models", "import", "--registry", c.address, "--input", empty]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/^modelreg: the input is empty: not a modelreg export; /);
  }, 60_000);

  it("keeps name@latest after export and import of 300 versions created in one batch (one create time)", async () => {
    // The source stamps many of them with one millisecond; its latest is the one created last, and so
    // must the target's be (the export lists them in creation order, the target breaks ties the same way).
    const versions = Array.from({ length: 300 }, (_, i) => ({
      model: { name: "latest-kept", version: `${i + 1}` },
    }));
    expect((await clientA.importModels(versions)).createdCount).toBe(300);
    const file = join(tmp.dir, "latest.ndjson");
    const filter = ["--filter", 'name = "latest-kept"', "--output", file];
    expect((await run(["models", "export", "--registry", a.address, ...filter])).code).toBe(0);
    expect((await run(["models", "import", "--registry", c.address, "--input", file])).code).toBe(0);
    const latest = (client: RegistryClient) => client.lookupModel({ name: "latest-kept", alias: "latest" });
    expect((await latest(clientA)).version).toBe("300");
    expect((await latest(clientC)).version).toBe("300");
  }, 60_000);

  it("names every lineage parent in an export whose parent cache is smaller than the registry", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    await exportRegistry(clientA, out, { pageSize: 100, parentCacheLimit: 10 });
    const withParents = text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((l) => l.parents);
    expect(withParents).toHaveLength(2);
    for (const line of withParents) {
      for (const parent of line.parents)
        expect(parent).toEqual({ id: parent.id, name: expect.any(String), version: expect.any(String) });
    }
  }, 60_000);
});

describe("models watch", () => {
  it("prints an event as one readable line: time, revision, type, model, alias, id", () => {
    const line = eventLine({
      revision: 42n,
      event: {
        type: ModelEventType.ALIAS_SET,
        revision: 42n,
        modelId: "id-1",
        commitTime: { seconds: 1_796_000_000n, nanos: 0 },
        model: { name: "bert", version: "1.0.0" } as Model,
        alias: { name: "bert", alias: "champion", version: "1.0.0" } as never,
      },
    });
    expect(line).toBe(
      "2026-11-30T00:53:20.000Z  42  ALIAS_SET      bert@1.0.0  alias bert@champion -> 1.0.0  id-1",
    );
  });

  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill("SIGKILL");
  });

  it("prints a model created meanwhile as one JSON line, and stops on SIGINT with exit 130", async () => {
    child = spawn(
      process.execPath,
      [
        join(repoRoot, "node_modules/tsx/dist/cli.mjs"),
        "packages/cli/src/bin.ts",
        "models",
        "watch",
        "--ndjson",
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, MODELREG_REGISTRY: a.address },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const proc = child;
    let stdout = "";
    let stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const event = new Promise<Record<string, unknown>>((resolve) => {
      proc.stdout?.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = stdout.split("\n").find((l) => l.includes('"watched"'));
        if (line) resolve(JSON.parse(line));
      });
    });
    // The watch starts "from now": create models until one is printed (the first may precede it).
    let created = 0;
    const creator = setInterval(() => {
      clientA.createModel({ model: { name: "watched", version: `${++created}` } }).catch(() => {});
    }, 500);
    try {
      const printed = await event;
      expect(printed).toMatchObject({
        event: { type: "MODEL_EVENT_TYPE_CREATED", model: { name: "watched" } },
        revision: expect.stringMatching(/^\d+$/),
      });
    } finally {
      clearInterval(creator);
    }
    proc.kill("SIGINT");
    const [code] = await once(proc, "exit");
    expect(code).toBe(130);
    // With --ndjson the error is the JSON error body.
    expect(stderr).toMatch(/"status":"CANCELLED"/);
    expect(stderr).toMatch(/resume: --after-revision \d+/);
  }, 90_000);
});
