// Regressions from the review of the CLI core and client verbs (issue 17, review C): the history
// filter, the output format settled before any call, the --json status of every exit code, config
// sections of a group, control characters and narrow terminals in tables, the alias argument, and
// the environment read from io.env only.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { errorBody } from "@modelreg/gateway-express";
import { Code, createRegistryClient, RegistryError } from "@modelreg/registry-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode, exitCodeOfGrpcCode, grpcCodeOfExitCode } from "../src/exit-codes";
import { runCli } from "../src/main";
import { formatTable } from "../src/output";
import { capturedIo, closedAddress, modelreg, startSqliteRegistry, tempDir } from "./cli-support";

// better-sqlite3 as the registry's storage loads it (from the server package's folder): CI's Node 24 run
// installs a newer major there than the root one, which is built for Node 20.
const Database: typeof import("better-sqlite3") = createRequire(
  fileURLToPath(new URL("../../registry-server/package.json", import.meta.url)),
)("better-sqlite3");

const tmp = tempDir("modelreg-cli-review-");
let registry: Awaited<ReturnType<typeof startSqliteRegistry>>;
let env: Record<string, string>;

beforeAll(async () => {
  registry = await startSqliteRegistry(tmp.dir);
  env = { MODELREG_REGISTRY: registry.address };
  for (const version of ["1.0.0", "2.0.0"]) await modelreg(["models", "create", "bert", version], env);
  await modelreg(["aliases", "set", "bert", "champion", "2.0.0"], env);
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  tmp.remove();
});

function configFile(name: string, text: string): string {
  writeFileSync(join(tmp.dir, name), text);
  return name;
}

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe("history --filter with the other filter options (M1)", () => {
  it("ANDs them: --type with --filter finds the entry instead of exit 5", async () => {
    const run = await modelreg(
      ["history", "--type", "CREATED", "--actor", "anonymous", "--filter", "type = CREATED", "--json"],
      env,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect((json(run.stdout).entries as unknown[]).length).toBe(2);
    const none = await modelreg(
      ["history", "--type", "ALIAS_SET", "--filter", 'actor = "ana"', "--json"],
      env,
    );
    expect(none.code).toBe(0);
    expect(json(none.stdout).entries).toEqual([]);
  });
});

describe("output format settled before any call (M2)", () => {
  it("a --json flag beats the config file's ndjson (and --ndjson its json): no error, the flag's format", async () => {
    const nd = configFile("nd.yaml", `client:\n  registry: ${registry.address}\n  ndjson: true\n`);
    const created = await modelreg(
      ["models", "create", "m2", "1.0.0", "--json", "--config", nd],
      {},
      tmp.dir,
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^\{\n {2}"id"/); // indented: --json, not one ndjson line
    const js = configFile("js.yaml", `client:\n  registry: ${registry.address}\n  json: true\n`);
    const listed = await modelreg(["models", "list", "--ndjson", "--config", js], {}, tmp.dir);
    expect(listed.code).toBe(0);
    expect(listed.stdout.trimEnd().split("\n").map(json)).toHaveLength(3);
  });

  it("json and ndjson both from the config file: exit 1 before anything is created", async () => {
    const both = configFile(
      "both.yaml",
      `client:\n  registry: ${registry.address}\n  json: true\n  ndjson: true\n`,
    );
    const run = await modelreg(["models", "create", "m2both", "1.0.0", "--config", both], {}, tmp.dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--json and --ndjson exclude each other/);
    expect((await modelreg(["models", "lookup", "m2both", "1.0.0"], env)).code).toBe(2);
  });
});

describe("--json error status follows the exit code (S3)", () => {
  it("one table both ways: each exit code's status and HTTP code", () => {
    const status = (exit: number) => {
      const body = errorBody(new RegistryError(grpcCodeOfExitCode(exit), "x")).error;
      return `${body.status} ${body.code}`;
    };
    expect(status(ExitCode.USAGE)).toBe("INVALID_ARGUMENT 400");
    expect(status(ExitCode.NOT_FOUND)).toBe("NOT_FOUND 404");
    expect(status(ExitCode.CONFLICT)).toBe("ABORTED 409");
    expect(status(ExitCode.UNAVAILABLE)).toBe("UNAVAILABLE 503");
    expect(status(ExitCode.INVALID)).toBe("INVALID_ARGUMENT 400");
    expect(status(ExitCode.DENIED)).toBe("PERMISSION_DENIED 403");
    expect(status(ExitCode.FAILURE)).toBe("INTERNAL 500");
    for (const exit of [2, 3, 4, 5, 6]) expect(exitCodeOfGrpcCode(grpcCodeOfExitCode(exit))).toBe(exit);
    expect(exitCodeOfGrpcCode(Code.FAILED_PRECONDITION)).toBe(ExitCode.CONFLICT);
  });

  it("a database ahead of this registry (exit 3) is ABORTED/409 in the --json error, not 400", async () => {
    const url = `sqlite:${join(tmp.dir, "ahead.db")}`;
    expect((await modelreg(["migrate", "--database-url", url])).code).toBe(0);
    const db = new Database(join(tmp.dir, "ahead.db"));
    db.prepare("insert into modelreg_migration (name, timestamp) values (?, ?)").run(
      "9999_future",
      "2027-01-01T00:00:00Z",
    );
    db.close();
    const run = await modelreg(["migrate", "--database-url", url, "--json"]);
    expect(run.code).toBe(3);
    expect(json(run.stderr)).toMatchObject({ error: { code: 409, status: "ABORTED" } });
  });
});

describe("config: --config and sections of a group (S4)", () => {
  it("reads --config given on the group (models --config x list)", async () => {
    const run = await modelreg(["models", "--config", "nope.yaml", "list"], env, tmp.dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/config file nope\.yaml: cannot read it \(ENOENT\)/);
  });

  it("applies a models: section to every models command, after client: and before its own section", async () => {
    const down = await closedAddress();
    const group = configFile(
      "group.yaml",
      `client:\n  registry: ${down}\nmodels:\n  registry: ${registry.address}\n  limit: 1\n`,
    );
    const list = await modelreg(["models", "list", "--config", group], {}, tmp.dir);
    expect(list.code).toBe(0);
    expect(list.stderr).toMatch(/first 1 models shown/);
    // `limit` is a key of the group's commands: skipped by `lookup`, which has no --limit.
    expect((await modelreg(["models", "lookup", "bert@champion", "--config", group], {}, tmp.dir)).code).toBe(
      0,
    );
    const own = configFile(
      "own.yaml",
      `models:\n  registry: ${registry.address}\nmodels list:\n  registry: ${down}\n`,
    );
    const ownWins = await modelreg(["models", "list", "--config", own], {}, tmp.dir);
    expect(ownWins.code).toBe(4);
    const bad = configFile("bad.yaml", "models:\n  bogus: 1\n");
    const refused = await modelreg(["models", "list", "--config", bad], env, tmp.dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/section models: unknown key bogus/);
  });
});

describe("tables and fields escape control characters (S5)", () => {
  it("a newline or an escape sequence in registry data is shown escaped, on its own line", async () => {
    const description = "line1\nframework      pytorch\u001b[31mRED\u001b[0m";
    const created = await modelreg(
      [
        "models",
        "create",
        "esc",
        "1.0.0",
        "--description",
        description,
        "--metadata",
        "k=\u001b]0;pwned\u0007",
        "--json",
      ],
      env,
    );
    const id = String(json(created.stdout).id);
    const got = await modelreg(["models", "get", id], env);
    expect(got.stdout).not.toContain("\u001b");
    expect(got.stdout).not.toContain("\u0007");
    expect(got.stdout).toContain("description      line1\\nframework      pytorch\\u001b[31mRED\\u001b[0m\n");
    expect(got.stdout).toContain("metadata         k=\\u001b]0;pwned\\u0007\n");
    expect(got.stdout.split("\n").filter((l) => l.startsWith("framework"))).toHaveLength(1);
    const table = formatTable(["ID", "TAGS"], [["x", "a\nb\u001b[2J\u202ec"]]);
    expect(table).toBe("ID  TAGS\nx   a\\nb\\u001b[2J\\u202ec\n");
  });
});

describe("narrow terminals (S6)", () => {
  it("a 50-column terminal cuts tags and framework, never the id", async () => {
    await modelreg(
      [
        "models",
        "create",
        "narrow",
        "1.0.0",
        "--framework",
        "tensorflow-lite",
        "--tag",
        "production-candidate",
      ],
      env,
    );
    const captured = capturedIo(env);
    Object.assign(captured.io.stdout, { isTTY: true, columns: 50 });
    expect(await runCli(["models", "list", "--filter", 'name = "narrow"'], captured.io)).toBe(0);
    const lookup = await modelreg(["models", "lookup", "narrow", "1.0.0", "--json"], env);
    const id = String(json(lookup.stdout).id);
    const [header, row] = captured.stdout().trimEnd().split("\n");
    expect(header).toMatch(/^ID {36}NAME/);
    expect(row?.startsWith(`${id}  narrow`)).toBe(true);
    expect(row).toContain("…");
  });
});

describe("aliases get NAME ALIAS (S9)", () => {
  it("without an alias is a usage error (exit 1) before any call", async () => {
    const down = { MODELREG_REGISTRY: await closedAddress() };
    for (const args of [["bert"], ["bert@"], ["bert", ""]]) {
      const run = await modelreg(["aliases", "get", ...args], down);
      expect(run.code, args.join(" ")).toBe(1);
      expect(run.stderr).toMatch(/alias/);
    }
    const ok = await modelreg(["aliases", "get", "bert@champion", "--json"], env);
    expect(json(ok.stdout)).toMatchObject({ version: "2.0.0" });
    expect((await modelreg(["models", "lookup", "bert@", "--json"], down)).code).toBe(1);
  });
});

describe("environment from io.env only (S8)", () => {
  it("MODELREG_TLS in process.env is not read; 0/off in io.env keep TLS off; 1 turns it on", async () => {
    const before = process.env.MODELREG_TLS;
    process.env.MODELREG_TLS = "1";
    try {
      expect((await modelreg(["models", "list"], env)).code).toBe(0);
    } finally {
      if (before === undefined) delete process.env.MODELREG_TLS;
      else process.env.MODELREG_TLS = before;
    }
    for (const off of ["0", "off", " False ", "no", ""]) {
      expect((await modelreg(["models", "list"], { ...env, MODELREG_TLS: off })).code, off).toBe(0);
    }
    // TLS to a plaintext registry fails: the variable is read, as true.
    expect((await modelreg(["models", "list"], { ...env, MODELREG_TLS: "1" })).code).toBe(4);
    const tls = configFile("tls.yaml", "client:\n  tls: true\n");
    const envWins = await modelreg(
      ["models", "list", "--config", tls],
      { ...env, MODELREG_TLS: "off" },
      tmp.dir,
    );
    expect(envWins.code).toBe(0);
  });
});

describe("SIGINT while the output waits on a full pipe (S1)", () => {
  it("exits 130 at once, though nobody reads stdout", async () => {
    const client = createRegistryClient({ target: registry.address, insecure: true });
    // About 600 KB of ndjson: more than the pipe and both ends' buffers hold.
    for (let batch = 0; batch < 30; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          client.createModel({
            model: { name: `pipe-${batch}`, version: `${i}.0.0`, description: "x".repeat(200) },
          }),
        ),
      );
    }
    client.close();
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "packages/cli/src/bin.ts", "models", "list", "--all", "--ndjson"],
      { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const exit = once(child, "exit") as Promise<[number | null, string | null]>;
    await once(child.stdout, "readable"); // the list is being written; never read: the pipe fills
    await new Promise((r) => setTimeout(r, 2000));
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const [code, signal] = await exit;
    clearTimeout(timer);
    expect({ code, signal }).toEqual({ code: 130, signal: null });
    expect(JSON.parse(stderr)).toMatchObject({ error: { status: "CANCELLED", message: "interrupted" } });
  }, 60_000);
});
