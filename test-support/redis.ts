/**
 * Redis for tests in any package: the shared server of the machine (CI
 * starts one, see .ci/run), the one check each test file makes for it, and
 * private `redis-server` processes a test can kill and restart.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describeUrl, requireService } from "./services";
import { closedPort } from "./tcp-proxy";
import { until } from "./waiting";

/** The Redis server of the tests: MODELREG_TEST_REDIS_URL, or the local default. */
export const redisUrl = process.env.MODELREG_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";

/** The redis-server binary private servers are started from: MODELREG_TEST_REDIS_SERVER, or the one on PATH. */
export const redisServerBinary = process.env.MODELREG_TEST_REDIS_SERVER ?? "redis-server";

const howToStart =
  'Debian: apt-get install redis-server && redis-server --daemonize yes --bind 127.0.0.1 --save ""; ' +
  "Docker: docker run -d -p 6379:6379 redis:7";

/** Sends PING to `url` with one short connection attempt; rejects if there is no PONG. */
export async function pingRedis(url: string, timeoutMs = 3000): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== "PONG") throw new Error(`PING answered ${answer}`);
  } finally {
    client.disconnect();
  }
}

/**
 * Whether Redis answers at {@link redisUrl}: under CI a missing server
 * fails `file` loudly, elsewhere its tests skip with the reason (see
 * {@link requireService}).
 */
export function requireRedis(file: string): Promise<boolean> {
  return requireService({
    service: "Redis",
    file,
    where: describeUrl(redisUrl),
    envVar: "MODELREG_TEST_REDIS_URL",
    howToStart,
    probe: () => pingRedis(redisUrl),
  });
}

/** As {@link requireRedis}, for the `redis-server` binary that {@link startRedisServer} runs. */
export function requireRedisServer(file: string): Promise<boolean> {
  return requireService({
    service: "The redis-server binary",
    file,
    where: redisServerBinary,
    envVar: "MODELREG_TEST_REDIS_SERVER",
    howToStart: "Debian: apt-get install redis-server",
    probe: async () => {
      const run = spawnSync(redisServerBinary, ["--version"], { encoding: "utf8" });
      if (run.error) throw run.error;
      if (run.status !== 0) throw new Error(`redis-server --version exited ${run.status}: ${run.stderr}`);
    },
  });
}

/** A private redis-server on 127.0.0.1, for tests that take Redis away and bring it back. */
export interface RedisServerProcess {
  /** The port it listens on (the same after {@link restart}). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>/0`. */
  readonly url: string;
  /** SIGKILL: the server is gone at once (connections reset, nothing saved); resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: it saves nothing); resolves once it answers PING. */
  restart(): Promise<void>;
  /** Stops it for good (SIGKILL) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server (no persistence) on a free port, with
 * `extraArgs` (e.g. an ACL: `["--user", "default", "on", ...]`), and waits until it
 * answers PING.
 */
export async function startRedisServer(extraArgs: readonly string[] = []): Promise<RedisServerProcess> {
  const port = await closedPort();
  const url = `redis://127.0.0.1:${port}/0`;
  const dir = mkdtempSync(join(tmpdir(), "modelreg-redis-"));
  let child: ChildProcess | undefined;
  let output = "";
  const launch = async () => {
    output = "";
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    const started = spawn(redisServerBinary, [...args, "--dir", dir, "--daemonize", "no", ...extraArgs], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.stdout?.on("data", (chunk: Buffer) => {
      output = (output + chunk).slice(-4000);
    });
    started.stderr?.on("data", (chunk: Buffer) => {
      output = (output + chunk).slice(-4000);
    });
    child = started;
    await until(
      async () => {
        if (started.exitCode !== null) throw new Error(`redis-server exited ${started.exitCode}: ${output}`);
        await pingRedis(url, 500);
        return true;
      },
      `a private redis-server answers PING on port ${port}`,
      { timeoutMs: 15_000, intervalMs: 50 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; its output: ${output}`);
    });
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  await launch();
  return {
    port,
    url,
    kill,
    restart: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
