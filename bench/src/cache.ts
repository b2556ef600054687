/**
 * `npm run bench:cache`: issue 16's cache layer, measured side by side in
 * one run, written to `results/cache.md` (+ `cache.json`). See the "Cache
 * layer" section of bench/README.md for the method.
 *
 *   1. gateway GET by id, warm cache (the reference gateway process with
 *      CACHE_URL=memory:) vs Express + JSON from a Map; CACHE_URL=off too;
 *   2. registry GetModel, SQLite vs memory store (h2load);
 *   3. 1,000 concurrent reads of one cold key -> registry calls; 10,000
 *      reads of unknown ids/names, twice, then a CREATED event;
 *   4. Redis SIGKILLed and restarted under a read loop through L1 + L2;
 *   5. staleness after a write through another process (one registry, and
 *      two replicas on PostgreSQL); consistency tokens across two gateways.
 *
 * Run from the repository root (packages from their TypeScript sources):
 *   npm run bench:cache                    # a few minutes
 *   npm run bench:cache -- -- --quick      # smoke run
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { cacheMissingReason, redisStoreFactory } from "./cache-client";
import {
  type BenchProcess,
  type CountingRegistry,
  freePort,
  startCountingRegistry,
  startPrivateRedis,
  startReferenceGateway,
  startWriter,
} from "./cache-procs";
import { breakdown, penetration, redisKilled } from "./cache-protection";
import { type CacheReport, type Machine, writeCacheReport } from "./cache-report";
import { p, type StalenessResult, staleness, tokenPairs } from "./cache-staleness";
import { type Runner, sideBySide } from "./cache-throughput";
import { detectPinning, hasCommand, startServer } from "./proc";
import { postgresReachable } from "./storage-scaling";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const repoDir = join(benchDir, "..");
const parts = ["gateway", "registry", "breakdown", "penetration", "redis", "staleness", "token"] as const;
type Part = (typeof parts)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    concurrency: { type: "string", default: "64" },
    only: { type: "string", default: parts.join(",") },
    skip: { type: "string", default: "" },
    "max-foreign": { type: "string", default: "10" },
    "no-pin": { type: "boolean", default: false },
    "postgres-url": {
      type: "string",
      default: process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    },
    out: { type: "string", default: join(benchDir, "results") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(`npm run bench:cache -- -- [options]
  --quick                 smoke run: 1 round of 3 s, fewer reads and writes (~1.5 min)
  --rounds N --duration S --warmup S   throughput rounds (default 3 x 6 s, 2 s warm-up)
  --concurrency N         requests in flight (default 64)
  --only a,b / --skip a,b parts: ${parts.join(", ")}
  --postgres-url URL      for the two-replica staleness run (default: BENCH_POSTGRES_URL or the local one)
  --no-pin                do not pin servers and load to different cores
  --out DIR               where cache.md / cache.json go (default bench/results; --quick: cache-quick.*)`);
  process.exit(0);
}

const quick = args.quick;
const opts = {
  quick,
  rounds: Number(args.rounds ?? (quick ? 1 : 3)),
  durationS: Number(args.duration ?? (quick ? 3 : 6)),
  warmupS: Number(args.warmup ?? (quick ? 1 : 2)),
  concurrency: Number(args.concurrency),
  maxForeign: Number(args["max-foreign"]),
  stampede: 1000,
  unknownKeys: quick ? 2000 : 10_000,
  redisModels: quick ? 500 : 2000,
  redisPhaseMs: quick ? 2000 : 4000,
  staleWrites: quick ? 200 : 1000,
  staleLanes: 10,
  tokenPairs: quick ? 500 : 10_000,
  tokenControlPairs: quick ? 100 : 1000,
  tokenLanes: 64,
};
for (const [name, value] of Object.entries(opts)) {
  if (typeof value === "number" && (!Number.isSafeInteger(value) || value < 1))
    throw new Error(`--${name} must be a whole number of at least 1`);
}
const only = new Set(args.only.split(","));
const wanted = (part: Part) => only.has(part) && !args.skip.split(",").includes(part);
for (const part of only)
  if (!parts.includes(part as Part)) throw new Error(`unknown part "${part}" (${parts.join(", ")})`);
// Children run the packages' sources too.
process.env.TSX_TSCONFIG_PATH ??= join(benchDir, "tsconfig.json");

const log = (line: string) => console.log(line);
const pinning = detectPinning(os.cpus().length, !args["no-pin"]);
if (pinning.enabled)
  spawnSync("taskset", ["-a", "-p", "-c", pinning.load, String(process.pid)], { stdio: "ignore" });
log(`pinning: ${pinning.enabled ? pinning.reason : `off (${pinning.reason})`}`);
const dir = mkdtempSync(join(os.tmpdir(), "modelreg-cache-bench-"));
const skipped: CacheReport["skipped"] = [];
const skip = (part: string, reason: string) => {
  skipped.push({ part, reason });
  log(`skipping ${part}: ${reason}`);
};

/** Installs wrk / h2load with apt when this runs as root (as `npm run bench` does); the reason when absent. */
function ensureTool(tool: "wrk" | "h2load"): string | undefined {
  const pkg = tool === "wrk" ? "wrk" : "nghttp2-client";
  if (!hasCommand(tool) && process.getuid?.() === 0 && hasCommand("apt-get")) {
    log(`installing ${tool}: apt-get install -y --no-install-recommends ${pkg}`);
    const install = () =>
      spawnSync("apt-get", ["install", "-y", "--no-install-recommends", pkg], { stdio: "inherit" });
    if (install().status !== 0) {
      spawnSync("apt-get", ["update"], { stdio: "inherit" });
      install();
    }
  }
  return hasCommand(tool) ? undefined : `${tool} not installed (Debian package ${pkg})`;
}

async function stopAll(processes: readonly { stop(): Promise<void> }[]) {
  await Promise.allSettled(processes.map((p) => p.stop()));
}

const throughputOptions = () => ({
  rounds: opts.rounds,
  seconds: opts.durationS,
  warmupS: opts.warmupS,
  concurrency: opts.concurrency,
  maxForeign: opts.maxForeign,
  dir,
  log,
});

async function runGateway(report: CacheReport) {
  const missing = ensureTool("wrk");
  if (missing) return skip("1. gateway vs Express+JSON", missing);
  log("1. gateway GET by id (warm cache) vs Express + JSON from a Map:");
  const registry = await startCountingRegistry(pinning, await freePort(), { store: "memory" });
  const started: BenchProcess[] = [registry];
  try {
    const express = await startServer(pinning, "express-json", await freePort());
    started.push({ ...express, name: "express-json" });
    const address = `127.0.0.1:${registry.port}`;
    const memory = await startReferenceGateway(pinning, await freePort(), address, { CACHE_URL: "memory:" });
    started.push(memory);
    const off = await startReferenceGateway(pinning, await freePort(), address, { CACHE_URL: "off" });
    started.push(off);
    const calls = async () => (await registry.counts()).GetModel ?? 0;
    const runners: Runner[] = [
      {
        id: "express-map",
        label: "Express + JSON, a Map",
        load: "wrk",
        port: express.port,
        processes: [express],
      },
      {
        id: "gateway-memory",
        label: "reference gateway, CACHE_URL=memory: (+ registry)",
        load: "wrk",
        port: memory.port,
        processes: [memory, registry],
        registryCalls: calls,
      },
      {
        id: "gateway-off",
        label: "reference gateway, CACHE_URL=off (+ registry)",
        load: "wrk",
        port: off.port,
        processes: [off, registry],
        registryCalls: calls,
      },
    ];
    report.gateway = await sideBySide(pinning, runners, throughputOptions());
  } finally {
    await stopAll(started);
  }
}

async function runRegistry(report: CacheReport) {
  const missing = ensureTool("h2load");
  if (missing) return skip("2. registry SQLite vs memory", missing);
  log("2. registry GetModel, SQLite vs memory store:");
  const memory = await startServer(pinning, "registry-memory", await freePort());
  const sqlite = await startServer(pinning, "registry-sqlite", await freePort());
  try {
    const runners: Runner[] = [
      {
        id: "registry-memory",
        label: "registry, memory store",
        load: "h2load",
        port: memory.port,
        processes: [memory],
      },
      {
        id: "registry-sqlite",
        label: "registry, SQLite store",
        load: "h2load",
        port: sqlite.port,
        processes: [sqlite],
      },
    ];
    report.registry = await sideBySide(pinning, runners, throughputOptions());
  } finally {
    await stopAll([memory, sqlite]);
  }
}

/** Parts 3 and 4, on one counting registry (SQLite). */
async function runProtection(report: CacheReport, missing: string | undefined) {
  const want = { breakdown: wanted("breakdown"), penetration: wanted("penetration"), redis: wanted("redis") };
  if (!want.breakdown && !want.penetration && !want.redis) return;
  if (missing) {
    for (const part of ["breakdown", "penetration", "redis"] as const) if (want[part]) skip(part, missing);
    return;
  }
  const registry = await startCountingRegistry(pinning, await freePort(), { store: "sqlite" });
  try {
    if (want.breakdown) {
      log(`3. ${opts.stampede} concurrent reads of one cold key:`);
      report.breakdown = await breakdown(registry, opts.stampede);
      for (const b of report.breakdown) log(`  ${b.process}: ${b.registryCalls} registry GetModel calls`);
    }
    if (want.penetration) {
      log(`3. ${opts.unknownKeys} reads of unknown keys, twice, then a CREATED event:`);
      report.penetration = await penetration(registry, opts.unknownKeys);
      for (const x of [...report.penetration.getModel, ...report.penetration.lookup])
        log(`  ${x.pass}: ${x.registryCalls} registry calls, ${x.notFound} NOT_FOUND, ${x.found} found`);
    }
    if (want.redis) await runRedis(report, registry);
  } finally {
    await registry.stop();
  }
}

async function runRedis(report: CacheReport, registry: CountingRegistry) {
  if (!hasCommand("redis-server")) return skip("4. Redis killed", "redis-server is not installed");
  const factory = await redisStoreFactory();
  if (typeof factory === "string") return skip("4. Redis killed", factory);
  log("4. Redis killed mid-run:");
  const port = await freePort();
  const redis = { current: await startPrivateRedis(pinning, port), restart: async () => redis.current };
  redis.restart = async () => {
    redis.current = await startPrivateRedis(pinning, port);
    return redis.current;
  };
  try {
    report.redis = await redisKilled(registry, redis, factory, {
      models: opts.redisModels,
      phaseMs: opts.redisPhaseMs,
      l1MaxBytes: 64 * 1024,
    });
    for (const ph of report.redis.phases)
      log(`  ${ph.phase}: ${ph.reads} reads, ${ph.failed} failed, shared hits ${ph.cache.sharedHits}`);
  } finally {
    await redis.current.kill();
  }
}

function logStaleness(s: StalenessResult | undefined) {
  if (!s) return;
  const q = (x: number) => p(s.sortedMs, x).toFixed(1);
  log(
    `  ${s.setup}: ${s.writes} writes, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, wrong version ${s.wrongVersion}`,
  );
}

/** Part 5a: one registry (SQLite), and two replicas on one PostgreSQL. */
async function runStaleness(report: CacheReport) {
  log(`5. staleness after ${opts.staleWrites} writes through another process:`);
  const single = await startCountingRegistry(pinning, await freePort(), { store: "sqlite" });
  try {
    const target = `127.0.0.1:${single.port}`;
    const writer = await startWriter(pinning, target);
    try {
      const options = { writes: opts.staleWrites, lanes: opts.staleLanes };
      report.staleness.push(await staleness("one registry (SQLite)", target, target, writer, options));
      logStaleness(report.staleness.at(-1));
    } finally {
      await writer.stop();
    }
  } finally {
    await single.stop();
  }
  const unreachable = await postgresReachable(args["postgres-url"]);
  if (unreachable) {
    if (process.env.CI === "true") throw new Error(`PostgreSQL: ${unreachable}`);
    return skip("5. staleness, two replicas on PostgreSQL", unreachable);
  }
  await replicaStaleness(report);
}

async function replicaStaleness(report: CacheReport) {
  const schema = `bench_cache_${process.pid}_${Date.now()}`;
  const database = args["postgres-url"];
  const started: BenchProcess[] = [];
  try {
    const one = await startCountingRegistry(pinning, await freePort(), {
      store: "postgres",
      database,
      schema,
    });
    started.push(one);
    const two = await startCountingRegistry(pinning, await freePort(), {
      store: "postgres",
      database,
      schema,
      seed: false,
    });
    started.push(two);
    const writer = await startWriter(pinning, `127.0.0.1:${one.port}`);
    try {
      const setup = "two replicas on one PostgreSQL: B writes to replica 1, A reads replica 2";
      const options = { writes: opts.staleWrites, lanes: opts.staleLanes };
      report.staleness.push(
        await staleness(setup, `127.0.0.1:${one.port}`, `127.0.0.1:${two.port}`, writer, options),
      );
      logStaleness(report.staleness.at(-1));
    } finally {
      await writer.stop();
    }
  } finally {
    await stopAll(started);
    const admin = new pg.Client({ connectionString: database });
    await admin.connect();
    await admin.query(`drop schema if exists "${schema}" cascade`);
    await admin.end();
  }
}

/** Part 5b: consistency tokens across two reference gateways on one registry. */
async function runTokens(report: CacheReport) {
  log(`5. consistency token: ${opts.tokenPairs} read-after-write pairs across two gateways:`);
  // The memory store: 10,000 SQLite commits (fsync each) would measure the disk, not the caches.
  const registry = await startCountingRegistry(pinning, await freePort(), { store: "memory" });
  const started: BenchProcess[] = [registry];
  try {
    const address = `127.0.0.1:${registry.port}`;
    const a = await startReferenceGateway(pinning, await freePort(), address, { CACHE_URL: "memory:" });
    started.push(a);
    const b = await startReferenceGateway(pinning, await freePort(), address, { CACHE_URL: "memory:" });
    started.push(b);
    const base = (g: BenchProcess) => `http://127.0.0.1:${g.port}`;
    for (const withToken of [true, false]) {
      const pairs = withToken ? opts.tokenPairs : opts.tokenControlPairs;
      const result = await tokenPairs(address, base(a), base(b), {
        pairs,
        lanes: opts.tokenLanes,
        withToken,
      });
      report.tokens.push(result);
      log(
        `  ${withToken ? "with" : "without"} the token: ${result.stale} stale of ${result.pairs}, ${result.failed} failed`,
      );
    }
  } finally {
    await stopAll(started);
  }
}

function machine(): Machine {
  const cpuinfo = (() => {
    try {
      return /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1];
    } catch {
      return undefined;
    }
  })();
  const version = (command: string, flag: string) =>
    hasCommand(command)
      ? ((
          spawnSync(command, [flag], { encoding: "utf8" }).stdout +
          spawnSync(command, [flag], { encoding: "utf8" }).stderr
        )
          .split("\n")[0]
          ?.trim() ?? command)
      : `${command} not installed`;
  return {
    cpu: cpuinfo ?? os.cpus()[0]?.model ?? "unknown CPU",
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    pinning: pinning.enabled ? pinning.reason : `not pinned: ${pinning.reason}`,
    wrk: version("wrk", "-v"),
    h2load: version("h2load", "--version"),
  };
}

const startedAt = Date.now();
const git = (gitArgs: string[]) =>
  spawnSync("git", gitArgs, { cwd: repoDir, encoding: "utf8" }).stdout.trim();
// The packages run from the working tree: say when it differs from the commit.
const dirty = git(["status", "--porcelain", "packages", "examples"]) !== "";
const commit = `${git(["rev-parse", "--short", "HEAD"])}${dirty ? " (plus uncommitted changes in packages/ or examples/)" : ""}`;
const report: CacheReport = {
  date: new Date().toISOString(),
  commit,
  seconds: 0,
  machine: machine(),
  options: { ...opts },
  staleness: [],
  tokens: [],
  skipped,
};
try {
  if (wanted("gateway")) await runGateway(report);
  if (wanted("registry")) await runRegistry(report);
  const probe = await startCountingRegistry(pinning, await freePort(), { store: "memory" });
  const missing = cacheMissingReason(`127.0.0.1:${probe.port}`);
  await probe.stop();
  await runProtection(report, missing);
  if (wanted("staleness")) await (missing ? skip("5. staleness", missing) : runStaleness(report));
  if (wanted("token")) await runTokens(report);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
report.seconds = Math.round((Date.now() - startedAt) / 1000);
mkdirSync(args.out, { recursive: true });
const text = writeCacheReport(args.out, report, quick ? "cache-quick" : "cache");
log(`\n${text}\nwritten to ${join(args.out, quick ? "cache-quick.md" : "cache.md")} (${report.seconds} s)`);
process.exit(0);
