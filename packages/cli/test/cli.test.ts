// The program as a whole: help, version, usage errors, completion, and the real bin as a child
// process (exit codes reach the shell, SIGINT during a call exits 130).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import packageJson from "../package.json" with { type: "json" };
import type { CliIo } from "../src/context";
import { runCli } from "../src/main";
import { formatTable } from "../src/output";
import { capturedIo, modelreg, startSqliteRegistry, tempDir } from "./cli-support";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const tmp = tempDir("modelreg-cli-");
let registry: Awaited<ReturnType<typeof startSqliteRegistry>>;

beforeAll(async () => {
  registry = await startSqliteRegistry(tmp.dir);
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  tmp.remove();
});

describe("help, version, usage", () => {
  it("--help lists every command group and the exit codes; exit 0", async () => {
    const run = await modelreg(["--help"]);
    expect(run.code).toBe(0);
    for (const command of [
      "serve",
      "gateway",
      "up",
      "migrate",
      "models",
      "aliases",
      "history",
      "completion",
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
    expect(run.stdout).toMatch(/Exit codes: 0 ok, 1 usage, 2 not found/);
  });

  it("each client verb's --help names its options and their environment variables", async () => {
    const run = await modelreg(["models", "list", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--filter <expr>/);
    expect(run.stdout).toMatch(/--registry <host:port>[\s\S]*env: MODELREG_REGISTRY/);
    expect(run.stdout).toMatch(/--config <file>/);
  });

  it("--version prints the package's version", async () => {
    const run = await modelreg(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(packageJson.version);
  });

  it("usage errors exit 1 with one line, or the JSON error body with --json", async () => {
    const unknown = await modelreg(["modles"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^modelreg: unknown command 'modles'.*models/);
    expect(unknown.stderr.trimEnd().split("\n")).toHaveLength(1);
    const both = await modelreg(["models", "lookup", "bert", "1.0.0", "--alias", "x"]);
    expect(both.code).toBe(1);
    const asJson = await modelreg(["models", "get", "--json"]);
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stderr)).toMatchObject({ error: { status: "INVALID_ARGUMENT" } });
    const group = await modelreg(["models"]);
    expect(group.code).toBe(1);
    expect(group.stderr).toMatch(/Usage: modelreg models/);
  });

  it("prints a bash completion script that completes subcommands and options", async () => {
    const run = await modelreg(["completion", "bash"]);
    expect(run.code).toBe(0);
    const complete = (...words: string[]) =>
      execFileSync(
        "bash",
        [
          "-c",
          `${run.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _modelreg; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: "utf8" },
      ).trim();
    expect(complete("modelreg", "mo").split(" ")).toEqual(["models"]);
    expect(complete("modelreg", "models", "l").split(" ").sort()).toEqual(["list", "lookup"]);
    expect(complete("modelreg", "models", "list", "--fil")).toBe("--filter");
    // After an option that takes a value: its choices, or nothing (the shell then completes files).
    expect(complete("modelreg", "history", "--type", "AL").split(" ")).toEqual([
      "ALIAS_SET",
      "ALIAS_DELETED",
    ]);
    for (const option of ["--tls-ca-file", "--config", "--registry"]) {
      expect(complete("modelreg", "models", "list", option, ""), option).toBe("");
    }
    expect(complete("modelreg", "serve", "--database-url", "")).toBe("");
    // An option's value is not taken for a subcommand.
    expect(complete("modelreg", "models", "lookup", "--alias", "models", "--js")).toBe("--json");
    expect((await modelreg(["completion", "fish"])).code).toBe(1);
  });
});

/** The real bin, from sources (tsx resolves @modelreg/* to them through the root tsconfig). */
function bin(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "packages/cli/src/bin.ts", ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function exited(child: ChildProcess) {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

describe("the modelreg bin", () => {
  it("creates a model (exit 0, JSON on stdout), and its exit codes reach the shell (2, 1)", async () => {
    const env = { MODELREG_REGISTRY: registry.address };
    const created = await exited(bin(["models", "create", "bert", "1.0.0", "--json"], env));
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: "bert", version: "1.0.0" });
    const missing = await exited(bin(["models", "get", "nope"], env));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^modelreg: Model "nope" not found\. \(NOT_FOUND, MODEL_NOT_FOUND\)\n$/);
    expect((await exited(bin(["models", "list", "--bogus"], env))).code).toBe(1);
  }, 60_000);

  it("SIGINT during a call that hangs exits 130", async () => {
    const sockets: Socket[] = [];
    const blackHole = createServer((socket) => sockets.push(socket)); // accepts, never answers
    blackHole.listen(0, "127.0.0.1");
    await once(blackHole, "listening");
    const { port } = blackHole.address() as { port: number };
    const connected = once(blackHole, "connection");
    const child = bin(["models", "list", "--registry", `127.0.0.1:${port}`, "--timeout", "60000"]);
    const result = exited(child);
    await connected;
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    const { code, stderr } = await result;
    for (const socket of sockets) socket.destroy();
    blackHole.close();
    expect(code).toBe(130);
    expect(stderr).toMatch(/^modelreg: interrupted\n$/);
  }, 60_000);
});

describe("tables", () => {
  it("fit a terminal's width: the widest column is cut with an ellipsis, the header stays", () => {
    const rows = [["01a23219-8f5e-7a93-a3da-b3cbed15ba55", "bert", "a very long description ".repeat(4)]];
    const wide = formatTable(["ID", "NAME", "DESCRIPTION"], rows);
    expect(wide.split("\n")[1]).toContain(rows[0]?.[2]?.trim());
    const narrow = formatTable(["ID", "NAME", "DESCRIPTION"], rows, 80);
    const lines = narrow.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+DESCRIPTION$/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[1]).toContain("…");
    expect(lines[1]).toContain("bert");
  });
});

describe("unexpected errors", () => {
  it("exit 7 with a generic line; the message and stack only with --debug or MODELREG_DEBUG=1", async () => {
    const failing = (env: Record<string, string>) => {
      const captured = capturedIo(env);
      const stdout = {
        write: () => {
          throw new Error("EIO writing /home/ana/secret-path");
        },
      } as unknown as CliIo["stdout"];
      return { io: { ...captured.io, stdout }, stderr: captured.stderr };
    };
    const plain = failing({});
    expect(await runCli(["completion", "bash"], plain.io)).toBe(7);
    expect(plain.stderr()).toBe(
      "modelreg: unexpected error (run with --debug or MODELREG_DEBUG=1 for details)\n",
    );
    const debug = failing({ MODELREG_DEBUG: "1" });
    expect(await runCli(["completion", "bash"], debug.io)).toBe(7);
    expect(debug.stderr()).toMatch(
      /^modelreg: unexpected error: EIO writing \/home\/ana\/secret-path\nError: EIO[^\n]*\n\s+at /,
    );
  });
});
