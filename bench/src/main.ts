/**
 * `npm run bench`: the Model Registry against the bare-HTTP/2 ceiling and the
 * alternatives (issue 9). See bench/README.md for the method.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Model } from "@modelreg/proto";
import { type Contender, contenders } from "./contenders";
import { fixedResponseFrame, fixtureModel, GET_MODEL_PATH, getModelRequestFrame, MODEL_ID } from "./fixture";
import { runH2load } from "./load/h2load";
import type { LoadResult } from "./load/stats";
import { runWrk } from "./load/wrk";
import {
  busyPercent,
  cpuTimes,
  detectPinning,
  hasCommand,
  nodeWithTsx,
  type Pinning,
  pinned,
  type ServerProcess,
  startServer,
} from "./proc";
import { type RunRecord, writeReport } from "./report";
import { postgresReachable, runStorageScaling, type ScalingResult, type StoreName } from "./storage-scaling";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const repoDir = join(benchDir, "..");

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    concurrency: { type: "string", default: "64" },
    only: { type: "string" },
    skip: { type: "string" },
    rows: { type: "string" },
    stores: { type: "string" },
    "storage-calls": { type: "string" },
    "no-storage": { type: "boolean", default: false },
    "no-contenders": { type: "boolean", default: false },
    source: { type: "boolean", default: false },
    build: { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    "no-install": { type: "boolean", default: false },
    "no-cache": { type: "boolean", default: false },
    "postgres-url": {
      type: "string",
      default: process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    },
    "base-port": { type: "string", default: "47100" },
    out: { type: "string", default: join(benchDir, "results") },
    retries: { type: "string", default: "1" },
    "max-foreign": { type: "string", default: "10" },
    list: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (args.help) {
  console.log(`npm run bench -- [options]
  --quick                 smoke run: 1 round of 3 s, 1k and 10k rows, SQLite only (~2 min)
  --rounds N              rounds over all contenders (default 3)
  --duration S            seconds of load per contender per round (default 8)
  --warmup S              seconds of discarded load per contender before round 1 (default 2)
  --concurrency N         requests in flight for every contender (default 64)
  --only a,b / --skip a,b contenders by id (see --list)
  --rows 1000,100000      storage scaling table sizes (default 1000,100000; add 1000000 for 1M)
  --stores sqlite,postgres (default both; --quick: sqlite)
  --no-storage / --no-contenders
  --source                run the packages' TypeScript sources instead of their built dist/
  --build                 rebuild the packages' dist/ first (done anyway when it is missing)
  --retries N             re-measure a run disturbed by other processes up to N times (default 1)
  --max-foreign P         disturbed: other processes took more than P % of the server core (default 10)
  --no-pin                do not pin servers and load to different cores
  --no-install            never apt-get install h2load/wrk
  --no-cache              skip the cache layer's benchmarks (src/cache.ts; run alone: npm run bench:cache)
  --postgres-url URL      (default postgres://postgres@127.0.0.1:5432/test, or BENCH_POSTGRES_URL)
  --out DIR               where results go (default bench/results)`);
  process.exit(0);
}
if (args.list) {
  for (const c of contenders) console.log(`${c.id.padEnd(16)} ${c.label}`);
  process.exit(0);
}

const quick = args.quick;
const rounds = Number(args.rounds ?? (quick ? 1 : 3));
const durationS = Number(args.duration ?? (quick ? 3 : 8));
const warmupS = Number(args.warmup ?? (quick ? 1 : 2));
const concurrency = Number(args.concurrency);
const rowCounts = (args.rows ?? (quick ? "1000,10000" : "1000,100000")).split(",").map(Number);
const stores = (args.stores ?? (quick ? "sqlite" : "sqlite,postgres")).split(",") as StoreName[];
const storageCalls = Number(args["storage-calls"] ?? (quick ? 300 : 2000));
const basePort = Number(args["base-port"]);
const retries = Number(args.retries);
const maxForeign = Number(args["max-foreign"]);
const log = (line: string) => console.log(line);

// --- Environment -----------------------------------------------------------

const pinning: Pinning = detectPinning(os.cpus().length, !args["no-pin"]);
log(`pinning: ${pinning.enabled ? pinning.reason : `off (${pinning.reason})`}`);
// This process only waits while load runs; keep it off the server core too.
if (pinning.enabled)
  spawnSync("taskset", ["-a", "-p", "-c", pinning.load, String(process.pid)], { stdio: "ignore" });

function ensureTools(): Map<string, string> {
  const missing = new Map<string, string>(); // tool -> Debian package
  if (!hasCommand("h2load")) missing.set("h2load", "nghttp2-client");
  if (!hasCommand("wrk")) missing.set("wrk", "wrk");
  const isRoot = process.getuid?.() === 0;
  if (missing.size > 0 && isRoot && !args["no-install"] && hasCommand("apt-get")) {
    const packages = [...new Set(missing.values())];
    log(`installing load generators: apt-get install -y ${packages.join(" ")}`);
    const result = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], {
      stdio: "inherit",
    });
    if (result.status !== 0) {
      log("apt-get install failed; trying apt-get update first");
      spawnSync("apt-get", ["update"], { stdio: "inherit" });
      spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: "inherit" });
    }
  }
  const reasons = new Map<string, string>();
  for (const [tool, pkg] of missing) {
    if (!hasCommand(tool)) {
      reasons.set(
        tool,
        `${tool} not installed (Debian package ${pkg}; not root or --no-install, so not installed here)`,
      );
    }
  }
  return reasons;
}

function ensureBuilt() {
  const packages = ["proto", "registry-server", "registry-client", "gateway-express"];
  const missing = packages.filter((p) => !existsSync(join(repoDir, "packages", p, "dist", "index.js")));
  if (!args.build && missing.length === 0) return;
  log(`building the packages' dist/ (${args.build ? "--build" : `missing: ${missing.join(", ")}`})`);
  const workspaces = packages.flatMap((p) => ["--workspace", `@modelreg/${p}`]);
  const result = spawnSync("npm", ["run", "build", ...workspaces], { cwd: repoDir, stdio: "inherit" });
  if (result.status !== 0) throw new Error("npm run build failed");
}

if (args.source) {
  process.env.TSX_TSCONFIG_PATH = join(benchDir, "tsconfig.json");
  log("packages: TypeScript sources (--source)");
} else {
  ensureBuilt();
  process.env.TSX_TSCONFIG_PATH = join(benchDir, "tsconfig.dist.json");
  log("packages: built dist/ (run with --build after changing packages/)");
}

// --- Contenders --------------------------------------------------------------

const toolReasons = args["no-contenders"] ? new Map<string, string>() : ensureTools();
const only = args.only?.split(",");
const skip = args.skip?.split(",") ?? [];
const skipped: { id: string; reason: string }[] = [];
const selected = args["no-contenders"]
  ? []
  : contenders.filter((c) => {
      if ((only && !only.includes(c.id)) || skip.includes(c.id)) return false;
      const tool = c.driver.type === "h2load" ? "h2load" : c.driver.type === "wrk" ? "wrk" : undefined;
      const reason = tool ? toolReasons.get(tool) : undefined;
      if (reason) {
        skipped.push({ id: c.id, reason });
        log(`skipping ${c.id}: ${reason}`);
        return false;
      }
      return true;
    });

const workDir = join(os.tmpdir(), `modelreg-bench-${process.pid}`);
mkdirSync(workDir, { recursive: true });
const bodyFile = join(workDir, "get-model-request.bin");
const requestFrame = getModelRequestFrame();
writeFileSync(bodyFile, requestFrame);

const servers = new Map<string, ServerProcess>();
const backendPort = basePort + contenders.findIndex((c) => c.id === "registry-memory");
const needsBackend = selected.some((c) => c.usesBackend);

async function startAll() {
  const kinds = new Map<string, { kind: NonNullable<Contender["server"]>; port: number; target?: string }>();
  contenders.forEach((c, index) => {
    const wanted = selected.includes(c) || (c.id === "registry-memory" && needsBackend);
    if (wanted && c.server) kinds.set(c.id, { kind: c.server, port: basePort + index });
  });
  for (const [id, { kind, port }] of kinds) {
    const target = kind === "gateway" || kind === "express-grpcjs" ? `127.0.0.1:${backendPort}` : undefined;
    servers.set(id, await startServer(pinning, kind, port, target ? { target } : {}));
  }
}

function portOf(c: Contender): number {
  return basePort + contenders.indexOf(c);
}

async function runClientLoop(c: Contender, seconds: number, backend: ServerProcess) {
  if (c.driver.type !== "client") throw new Error("not a client contender");
  const [node, nodeArgs] = nodeWithTsx("./load/client-loop.ts", [
    "--kind",
    c.driver.client,
    "--pool",
    String(c.driver.pool),
    "--concurrency",
    String(concurrency),
    "--duration-ms",
    String(seconds * 1000),
    "--warmup-ms",
    "1000",
    "--target",
    `127.0.0.1:${backendPort}`,
  ]);
  const [command, commandArgs] = pinned(pinning, "load", node, nodeArgs);
  const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  let stdout = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  const marks: Promise<{ cpuMicros: number; rssBytes: number; at: number }>[] = [];
  child.on("message", (message: { type?: string }) => {
    if (message.type === "measure") {
      const at = performance.now();
      marks.push(backend.stats().then((s) => ({ ...s, at })));
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`client loop ${c.id} exited ${code}`);
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as LoadResult;
  const [start, end] = await Promise.all(marks);
  if (!start || !end) throw new Error(`client loop ${c.id} sent no measurement marks`);
  return {
    result,
    cpuPct: ((end.cpuMicros - start.cpuMicros) / ((end.at - start.at) * 1000)) * 100,
    rssMB: end.rssBytes / 2 ** 20,
  };
}

/**
 * One measurement, repeated (at most `--retries` times) when something else
 * took more than `--max-foreign` % of the server core meanwhile: this machine
 * may be shared, and a server that loses its core measures the neighbour.
 */
async function measure(
  c: Contender,
  seconds: number,
  allowedRetries = retries,
): Promise<Omit<RunRecord, "round">> {
  let attempt = 0;
  for (;;) {
    const before = cpuTimes();
    const record = await measureContender(c, seconds);
    const perCore = busyPercent(before, cpuTimes());
    const machineBusyPct = perCore.reduce((sum, n) => sum + n, 0);
    // Server rows: what others took on the server core. Client rows: on the load core, where the
    // measured client runs (the scheduler moves other tenants onto the then idle server core,
    // which does not disturb a client-bound run).
    const isClient = record.clientCpuPct !== undefined;
    const core = pinning.enabled ? Number(isClient ? pinning.load : pinning.server) : undefined;
    const own = isClient ? (record.clientCpuPct ?? 0) : record.serverCpuPct;
    const foreignCpuPct = core === undefined ? Number.NaN : Math.max(0, (perCore[core] ?? 0) - own);
    const disturbed = foreignCpuPct > maxForeign;
    if (!disturbed || attempt >= allowedRetries) {
      return { ...record, machineBusyPct, foreignCpuPct, disturbed, attempts: attempt + 1 };
    }
    attempt++;
    log(
      `  ${c.id}: ${foreignCpuPct.toFixed(0)}% of the server core went to other processes; measuring again`,
    );
  }
}

async function measureContender(
  c: Contender,
  seconds: number,
): Promise<Omit<RunRecord, "round" | "machineBusyPct" | "foreignCpuPct" | "disturbed" | "attempts">> {
  const backend = servers.get("registry-memory");
  if (c.driver.type === "client") {
    if (!backend) throw new Error("backend registry not started");
    const { result, cpuPct, rssMB } = await runClientLoop(c, seconds, backend);
    return { contender: c.id, ...result, serverCpuPct: cpuPct, serverRssMB: rssMB };
  }
  const own = servers.get(c.id);
  if (!own) throw new Error(`${c.id} not started`);
  const watched = c.usesBackend && backend ? [own, backend] : [own];
  const before = await Promise.all(watched.map((s) => s.stats()));
  const started = performance.now();
  let result: LoadResult;
  if (c.driver.type === "h2load") {
    result = await runH2load(
      pinning,
      {
        url: `http://127.0.0.1:${portOf(c)}${GET_MODEL_PATH}`,
        bodyFile,
        durationS: seconds,
        connections: 4,
        streamsPerConnection: Math.max(1, Math.round(concurrency / 4)),
        logFile: join(workDir, `${c.id}.log`),
      },
      requestFrame,
    );
  } else {
    result = await runWrk(pinning, {
      url: `http://127.0.0.1:${portOf(c)}/api/v1/models/${MODEL_ID}`,
      durationS: seconds,
      connections: concurrency,
      expectId: MODEL_ID,
    });
  }
  const wallMicros = (performance.now() - started) * 1000;
  const after = await Promise.all(watched.map((s) => s.stats()));
  const cpuMicros = after.reduce((sum, s, i) => sum + s.cpuMicros - (before[i]?.cpuMicros ?? 0), 0);
  const rss = after.reduce((sum, s) => sum + s.rssBytes, 0);
  return {
    contender: c.id,
    ...result,
    serverCpuPct: (cpuMicros / wallMicros) * 100,
    serverRssMB: rss / 2 ** 20,
  };
}

function versionOf(command: string, versionArgs: string[]): string {
  if (!hasCommand(command)) return `${command} not installed`;
  // wrk -v exits 1 after printing its version.
  const result = spawnSync(command, versionArgs, { encoding: "utf8" });
  return `${result.stdout}${result.stderr}`.split("\n")[0]?.trim() ?? command;
}

// BENCH_GIT_COMMIT names the commit when the bench runs from an exported snapshot (no .git).
const git = (gitArgs: string[]) => spawnSync("git", gitArgs, { cwd: repoDir, encoding: "utf8" });
const gitHead = process.env.BENCH_GIT_COMMIT ?? git(["rev-parse", "--short", "HEAD"]).stdout.trim();
const gitDirty = process.env.BENCH_GIT_COMMIT
  ? false
  : git(["status", "--porcelain", "packages"]).stdout.trim() !== "";
spawnSync("git", ["status", "--porcelain", "packages"], {
  cwd: repoDir,
  encoding: "utf8",
}).stdout.trim() !== "";

const runs: RunRecord[] = [];
let scaling: ScalingResult[] = [];
const storageNotes: string[] = [];
const started = Date.now();

try {
  if (selected.length > 0) {
    await startAll();
    log(`warm-up: ${warmupS} s per contender`);
    for (const c of selected) await measure(c, warmupS, 0);
    for (let round = 1; round <= rounds; round++) {
      // Rotate the order each round so slow drift (thermal, other tenants) spreads over all contenders.
      const order = selected.map((_, i) => selected[(i + round - 1) % selected.length] as Contender);
      for (const c of order) {
        const record = { round, ...(await measure(c, durationS)) };
        runs.push(record);
        log(
          `round ${round}/${rounds} ${c.id.padEnd(16)} ${record.reqPerSec.toFixed(0).padStart(7)} req/s  p50 ${record.p50Ms.toFixed(2)} ms  p99 ${record.p99Ms.toFixed(2)} ms  server CPU ${record.serverCpuPct.toFixed(0)}%  others on measured core ${record.foreignCpuPct.toFixed(0)}%${record.disturbed ? " (DISTURBED)" : ""}  errors ${record.errors}`,
        );
      }
    }
  }
} finally {
  await Promise.all([...servers.values()].map((s) => s.stop()));
}

if (!args["no-storage"]) {
  const wanted = [...stores];
  if (wanted.includes("postgres")) {
    const reason = await postgresReachable(args["postgres-url"]);
    if (reason) {
      const note = `PostgreSQL skipped: ${reason}`;
      if (process.env.CI === "true") throw new Error(note);
      storageNotes.push(note);
      log(note);
      wanted.splice(wanted.indexOf("postgres"), 1);
    }
  }
  log(`storage scaling: ${wanted.join(", ")} at ${rowCounts.join(", ")} rows`);
  scaling = await runStorageScaling({
    stores: wanted,
    rowCounts,
    calls: storageCalls,
    postgresUrl: args["postgres-url"],
    log,
  });
}

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
writeReport(args.out, {
  date: new Date().toISOString(),
  totalSeconds: Math.round((Date.now() - started) / 1000),
  machine: {
    cpu,
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    h2load: versionOf("h2load", ["--version"]),
    wrk: versionOf("wrk", ["-v"]),
    pinning: pinning.enabled ? pinning.reason : `off (${pinning.reason})`,
  },
  code: {
    commit: gitHead,
    packagesModified: gitDirty,
    packages: args.source ? "sources (tsx)" : "built dist/",
  },
  options: {
    rounds,
    durationS,
    warmupS,
    concurrency,
    rowCounts,
    stores,
    storageCalls,
    quick,
    retries,
    maxForeign,
    modelBytes: Model.toBinary(fixtureModel).length,
    responseFrameBytes: fixedResponseFrame().length,
  },
  contenders: contenders.filter((c) => selected.includes(c)),
  skipped,
  runs,
  scaling,
  storageNotes,
});
log(`results written to ${args.out} (${Math.round((Date.now() - started) / 1000)} s)`);
if (!args["no-cache"]) {
  // Issue 16's cache layer (src/cache.ts, the packages' sources): results/cache.md, or cache-quick.md.
  log("cache layer benchmarks (npm run bench:cache):");
  const cacheArgs = [
    ...(quick ? ["--quick"] : []),
    ...(args["no-pin"] ? ["--no-pin"] : []),
    "--out",
    args.out,
  ];
  const [node, nodeArgs] = nodeWithTsx("./cache.ts", cacheArgs);
  const cache = spawnSync(node, nodeArgs, {
    stdio: "inherit",
    env: { ...process.env, TSX_TSCONFIG_PATH: join(benchDir, "tsconfig.json") },
  });
  if (cache.status !== 0) throw new Error(`the cache benchmarks failed (exit ${cache.status})`);
}
process.exit(0);
