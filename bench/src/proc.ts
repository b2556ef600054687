import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ServerKind, StatsMessage } from "./servers/serve";

/** Whether an executable is on PATH. */
export function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/**
 * Jiffies per CPU from /proc/stat (index = core number; undefined off
 * Linux): `busy` counts user, nice and system time only, the time a process
 * could be charged with; interrupts and softirqs (our own loopback traffic)
 * and steal are left out.
 */
export function cpuTimes(): { busy: number; total: number }[] | undefined {
  try {
    return readFileSync("/proc/stat", "utf8")
      .split("\n")
      .filter((line) => /^cpu\d+ /.test(line))
      .map((line) => {
        const fields = line.trim().split(/\s+/).slice(1).map(Number);
        const total = fields.reduce((sum, n) => sum + n, 0);
        return { busy: (fields[0] ?? 0) + (fields[1] ?? 0) + (fields[2] ?? 0), total };
      });
  } catch {
    return undefined;
  }
}

/** Busy % of each core between two {@link cpuTimes} snapshots. */
export function busyPercent(
  before: { busy: number; total: number }[] | undefined,
  after: { busy: number; total: number }[] | undefined,
): number[] {
  if (!before || !after) return [];
  return after.map((a, i) => {
    const b = before[i] ?? a;
    return a.total === b.total ? 0 : ((a.busy - b.busy) / (a.total - b.total)) * 100;
  });
}

/**
 * CPU pinning. Servers run on `server`, load generators and client loops on
 * `load`, when taskset exists and the machine has at least two cores.
 */
export interface Pinning {
  readonly enabled: boolean;
  readonly server: string;
  readonly load: string;
  readonly reason: string;
}

export function detectPinning(cores: number, wanted: boolean): Pinning {
  if (!wanted) return { enabled: false, server: "", load: "", reason: "disabled by --no-pin" };
  if (cores < 2) return { enabled: false, server: "", load: "", reason: "fewer than 2 cores" };
  if (!hasCommand("taskset")) return { enabled: false, server: "", load: "", reason: "taskset not found" };
  return { enabled: true, server: "0", load: "1", reason: "taskset: servers on core 0, load on core 1" };
}

/** The command and arguments that run `command` pinned to `cores` (or unpinned). */
export function pinned(
  pinning: Pinning,
  role: "server" | "load",
  command: string,
  args: readonly string[],
): [string, string[]] {
  if (!pinning.enabled) return [command, [...args]];
  return ["taskset", ["-c", pinning[role], command, ...args]];
}

/** Node with the tsx loader, so bench's TypeScript runs directly (tsconfig via TSX_TSCONFIG_PATH). */
export const nodeWithTsx = (script: string, args: readonly string[], extra: readonly string[] = []) =>
  [
    process.execPath,
    ["--import", "tsx", ...extra, fileURLToPath(new URL(script, import.meta.url)), ...args],
  ] as const;

/** A contender's server process, pinned to the server core, with an IPC channel for stats. */
export interface ServerProcess {
  readonly kind: ServerKind;
  readonly port: number;
  readonly child: ChildProcess;
  stats(): Promise<StatsMessage>;
  stop(): Promise<void>;
}

export async function startServer(
  pinning: Pinning,
  kind: ServerKind,
  port: number,
  options: { target?: string; nodeFlags?: readonly string[] } = {},
): Promise<ServerProcess> {
  const args = ["--kind", kind, "--port", String(port)];
  if (options.target) args.push("--target", options.target);
  const [node, nodeArgs] = nodeWithTsx("./servers/serve.ts", args, options.nodeFlags ?? []);
  const [command, commandArgs] = pinned(pinning, "server", node, nodeArgs);
  const child = spawn(command, commandArgs, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`server ${kind} exited with ${code} before ready`));
    child.once("exit", onExit);
    child.once("message", (message: { type?: string }) => {
      child.off("exit", onExit);
      if (message.type === "ready") resolve();
      else reject(new Error(`server ${kind} sent ${JSON.stringify(message)}`));
    });
  });
  return {
    kind,
    port,
    child,
    stats: () =>
      new Promise((resolve) => {
        child.once("message", (message: StatsMessage) => resolve(message));
        child.send({ type: "stats" });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.disconnect();
      }),
  };
}

/** Runs a load generator to the end; resolves with its stdout and stderr, rejects if it exits non-zero. */
export function runCapturing(command: string, args: readonly string[], name: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
    });
    child.stderr.on("data", (chunk) => {
      text += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(text) : reject(new Error(`${name} exited ${code}: ${text}`)),
    );
  });
}
