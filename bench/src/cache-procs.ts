/**
 * Processes the cache benchmarks start (`cache.ts`): the counting registry
 * (`cache-server.ts`), the reference deployment's gateway process
 * (examples/reference-deployment/src/gateway.ts, configured by its
 * environment as users run it), a private redis-server to kill, and the
 * writer process of the staleness measurement (`cache-writer.ts`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nodeWithTsx, type Pinning, pinned } from "./proc";
import type { StatsMessage } from "./servers/serve";

const repoDir = fileURLToPath(new URL("../..", import.meta.url));

/** A port the kernel just handed out on 127.0.0.1 (free at that moment). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** CPU time (user + system, microseconds) and RSS of any process, from /proc (Linux). */
export function procStats(pid: number): StatsMessage {
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const pages = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
    // CLK_TCK is 100 on Linux for every architecture Node supports; pages are 4 KiB here.
    return { type: "stats", cpuMicros: ticks * 10_000, rssBytes: pages * 4096 };
  } catch {
    return { type: "stats", cpuMicros: Number.NaN, rssBytes: Number.NaN };
  }
}

/** A process the benchmark started and will stop. */
export interface BenchProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  stats(): Promise<StatsMessage>;
  stop(): Promise<void>;
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

function waitForMessage(child: ChildProcess, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${name} exited with ${code} before ready`));
    child.once("exit", onExit);
    child.once("message", (message: { type?: string }) => {
      child.off("exit", onExit);
      if (message.type === "ready") resolve();
      else reject(new Error(`${name} sent ${JSON.stringify(message)}`));
    });
  });
}

/** Asks a child for one IPC answer of `type`. */
function ask<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
    child.send({ type });
  });
}

/** The counting registry of cache-server.ts. */
export interface CountingRegistry extends BenchProcess {
  /** Calls per gRPC method name served so far. */
  counts(): Promise<Record<string, number>>;
}

export interface RegistryOptions {
  store: "memory" | "sqlite" | "postgres";
  database?: string;
  schema?: string;
  seed?: boolean;
}

/** Starts cache-server.ts pinned to the server core. */
export async function startCountingRegistry(
  pinning: Pinning,
  port: number,
  options: RegistryOptions,
): Promise<CountingRegistry> {
  const args = ["--port", String(port), "--store", options.store];
  if (options.database) args.push("--database", options.database);
  if (options.schema) args.push("--schema", options.schema);
  if (options.seed === false) args.push("--no-seed");
  const [node, nodeArgs] = nodeWithTsx("./cache-server.ts", args);
  const [command, commandArgs] = pinned(pinning, "server", node, nodeArgs);
  const child = spawn(command, commandArgs, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const name = `registry (${options.store}, :${port})`;
  await waitForMessage(child, name);
  return {
    name,
    port,
    child,
    stats: () => ask<StatsMessage>(child, "stats"),
    counts: async () => (await ask<{ counts: Record<string, number> }>(child, "counts")).counts,
    stop: async () => {
      if (child.connected) child.disconnect();
      await exitOf(child);
    },
  };
}

/**
 * The reference deployment's gateway process (`examples/reference-deployment/
 * src/gateway.ts`, through tsx on the packages' sources), pinned to the server
 * core, with `env` added to its environment (CACHE_URL, ...). Ready when it
 * logs "API gateway listening".
 */
export async function startReferenceGateway(
  pinning: Pinning,
  port: number,
  registryAddress: string,
  env: Record<string, string>,
): Promise<BenchProcess> {
  const script = join(repoDir, "examples/reference-deployment/src/gateway.ts");
  const [command, commandArgs] = pinned(pinning, "server", process.execPath, ["--import", "tsx", script]);
  const child = spawn(command, commandArgs, {
    cwd: repoDir,
    env: {
      ...process.env,
      TSX_TSCONFIG_PATH: join(repoDir, "tsconfig.json"),
      LOG_LEVEL: "info",
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: String(port),
      REGISTRY_ADDRESS: registryAddress,
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const name = `reference gateway (:${port}, ${JSON.stringify(env)})`;
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${name} exited (${code}): ${output}`));
    child.once("exit", onExit);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"API gateway listening"')) {
        child.off("exit", onExit);
        resolve();
      }
    });
  });
  // Keep draining its log (a full pipe would block the process).
  child.stdout?.resume();
  return {
    name,
    port,
    child,
    stats: async () => procStats(child.pid ?? 0),
    stop: async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exitOf(child);
      clearTimeout(timer);
    },
  };
}

/** A private redis-server on `port` (no persistence), pinned to the server core; `kill()` is SIGKILL. */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  kill(): Promise<void>;
}

export async function startPrivateRedis(pinning: Pinning, port: number): Promise<PrivateRedis> {
  const [command, commandArgs] = pinned(pinning, "server", "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`redis-server exited (${code}): ${output}`));
    child.once("exit", onExit);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        child.off("exit", onExit);
        resolve();
      }
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    kill: async () => {
      child.kill("SIGKILL");
      await exitOf(child);
    },
  };
}

/** What the writer process answers for one write. */
export interface WriteAck {
  readonly type: "written";
  readonly seq: number;
  readonly etag: string;
  /** performance.timeOrigin + performance.now() when the write's answer arrived, in ms. */
  readonly ackAt: number;
}

/** The writer process of the staleness measurement (`cache-writer.ts`), on the load core. */
export interface Writer {
  write(id: string, seq: number): Promise<WriteAck>;
  stop(): Promise<void>;
}

export async function startWriter(pinning: Pinning, target: string): Promise<Writer> {
  const [node, nodeArgs] = nodeWithTsx("./cache-writer.ts", ["--target", target]);
  const [command, commandArgs] = pinned(pinning, "load", node, nodeArgs);
  const child = spawn(command, commandArgs, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await waitForMessage(child, "writer");
  const pending = new Map<number, (ack: WriteAck) => void>();
  child.on("message", (message: WriteAck) => {
    if (message.type !== "written") return;
    pending.get(message.seq)?.(message);
    pending.delete(message.seq);
  });
  return {
    write: (id, seq) =>
      new Promise((resolve) => {
        pending.set(seq, resolve);
        child.send({ type: "write", id, seq });
      }),
    stop: async () => {
      if (child.connected) child.disconnect();
      await exitOf(child);
    },
  };
}
