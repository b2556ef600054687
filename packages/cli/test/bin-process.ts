// Test support for the CLI's process tests: the `modelreg` bin run from sources (through tsx) as child
// processes, each in its own process group so that every process it started can be killed after the file.
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

/** The repository's root folder. */
export const repoRoot = resolve(import.meta.dirname, "../../..");
/** The bin's source file. */
export const binPath = join(repoRoot, "packages/cli/src/bin.ts");
const tsx = createRequire(import.meta.url).resolve("tsx");

/** A started `modelreg` process: its exit code once it exits, and its output so far. */
export interface BinProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/**
 * Starts `modelreg` processes for one test file; `killAll()` (in its afterAll) kills each one's process
 * group, so `up`'s serve and gateway go too, even once `up` itself has exited.
 */
export function binProcesses() {
  const groups: number[] = [];
  /** `modelreg <args>` (or `script` with them) as a child process, its output collected. */
  const spawnBin = (
    args: string[],
    env: Record<string, string> = {},
    script: string[] = [binPath],
  ): BinProcess => {
    const child = spawn(process.execPath, ["--import", tsx, ...script, ...args], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    if (child.pid) groups.push(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Made at once: a process that has already exited emits "exit" no more.
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    return { child, exited, stdout: () => stdout, stderr: () => stderr };
  };
  const killAll = () => {
    for (const group of groups) {
      try {
        process.kill(-group, "SIGKILL");
      } catch {
        // nothing left in it
      }
    }
  };
  return { spawnBin, killAll };
}

/** A port that was free a moment ago (for options that take no 0, such as `up --gateway-port`). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}
