/**
 * `npm run bench:overload`: admission control under overload (issue 14).
 * A SQLite registry and an Express gateway in front of it, each twice: with
 * the packages' default admission control (`on`) and with `admission:
 * false` (`off`), all started once, servers on the server core and the load
 * on the other. GetModel of one model through the gateway (HTTP) and
 * straight to the registry (gRPC), at a modest load (`--unloaded`, 64
 * clients) and at 2,000 clients (`--overload`), `on` and `off` side by
 * side in each round. Reports admitted p99 against the nominal p99 of the
 * same path, the refused share, the time to refuse, and the servers' peak
 * RSS. Nothing here is a pass/fail test.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { LoadReport } from "./overload-load";
import {
  busyPercent,
  cpuTimes,
  detectPinning,
  nodeWithTsx,
  type Pinning,
  pinned,
  runCapturing,
} from "./proc";
import type { StatsMessage } from "./servers/serve";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    unloaded: { type: "string", default: "64" },
    overload: { type: "string", default: "2000" },
    "duration-ms": { type: "string", default: "8000" },
    "warmup-ms": { type: "string", default: "2000" },
    rounds: { type: "string", default: "1" },
    "no-storm": { type: "boolean", default: false },
    paths: { type: "string", default: "gateway,grpc" },
    dist: { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    "base-port": { type: "string", default: "21400" },
    "registry-limits": { type: "string", default: "" },
    "gateway-limits": { type: "string", default: "" },
    out: { type: "string", default: join(benchDir, "results", "overload") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(`npm run bench:overload -- [--unloaded 64] [--overload 2000] [--duration-ms 8000] [--warmup-ms 2000]
  [--rounds 1] [--no-storm] [--dist] [--no-pin] [--base-port 21400] [--out bench/results/overload]
  [--registry-limits 64,64,1000] [--gateway-limits 64,64,1000]   admission on with these (at once, queued, wait ms)
  --no-storm  skip the rows where refused clients retry at once instead of waiting Retry-After
  --dist      run the packages' built dist/ (default: their TypeScript sources through tsx)`);
  process.exit(0);
}
const unloaded = Number(args.unloaded);
const overload = Number(args.overload);
const rounds = Number(args.rounds);
for (const [name, value] of Object.entries({ unloaded, overload, rounds })) {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`--${name} must be a whole number of at least 1`);
}
process.env.TSX_TSCONFIG_PATH = join(benchDir, args.dist ? "tsconfig.dist.json" : "tsconfig.json");

const pinning = detectPinning(cpus().length, !args["no-pin"]);
if (pinning.enabled)
  spawnSync("taskset", ["-a", "-p", "-c", pinning.load, String(process.pid)], { stdio: "ignore" });

type Admission = "on" | "off";
type Path = "gateway" | "grpc";

interface ServerProc {
  readonly child: ChildProcess;
  stats(): Promise<StatsMessage>;
  stop(): Promise<void>;
}

async function startServer(role: "registry" | "gateway", port: number, admission: Admission, target = "") {
  const [node, nodeArgs] = nodeWithTsx("./overload-server.ts", [
    "--role",
    role,
    "--port",
    String(port),
    "--admission",
    admission,
    "--target",
    target,
    "--limits",
    (role === "registry" ? args["registry-limits"] : args["gateway-limits"]) ?? "",
  ]);
  const [command, commandArgs] = pinned(pinning, "server", node, nodeArgs);
  const child = spawn(command, commandArgs, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) =>
      reject(new Error(`${role} (${admission}) exited with ${code} before ready`)),
    );
    child.once("message", () => resolve());
  });
  child.removeAllListeners("exit");
  const server: ServerProc = {
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
  return server;
}

/** Peak RSS and CPU of `servers` while `work` runs (RSS sampled every 100 ms). */
async function sampled<T>(servers: readonly ServerProc[], work: Promise<T>) {
  const peaks = servers.map(() => 0);
  const before = await Promise.all(servers.map((s) => s.stats()));
  let running = true;
  const sampler = (async () => {
    while (running) {
      const stats = await Promise.all(servers.map((s) => s.stats()));
      stats.forEach((s, i) => {
        peaks[i] = Math.max(peaks[i] ?? 0, s.rssBytes);
      });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = performance.now();
  const result = await work.finally(() => {
    running = false;
  });
  await sampler;
  const after = await Promise.all(servers.map((s) => s.stats()));
  const seconds = (performance.now() - started) / 1000;
  const cpuPct = after.map((a, i) => ((a.cpuMicros - (before[i]?.cpuMicros ?? 0)) / 1e6 / seconds) * 100);
  return { result, peakRssMb: peaks.map((b) => Math.round(b / 2 ** 20)), cpuPct: cpuPct.map(Math.round) };
}

interface Row {
  round: number;
  path: Path;
  admission: Admission;
  clients: number;
  onRefusal: "wait" | "now";
  load: LoadReport;
  registryPeakRssMb: number;
  gatewayPeakRssMb: number | undefined;
  serverCpuPct: number;
  /** Both cores, of 200%: this run's servers and load process, and whatever else ran. */
  machineBusyPct: number;
}

const base = Number(args["base-port"]);
const registries = {
  on: await startServer("registry", base, "on"),
  off: await startServer("registry", base + 1, "off"),
};
const gateways = {
  on: await startServer("gateway", base + 2, "on", `127.0.0.1:${base}`),
  off: await startServer("gateway", base + 3, "off", `127.0.0.1:${base + 1}`),
};
const portOf = (path: Path, admission: Admission) =>
  path === "grpc" ? base + (admission === "on" ? 0 : 1) : base + (admission === "on" ? 2 : 3);

async function measure(
  round: number,
  path: Path,
  admission: Admission,
  clients: number,
  onRefusal: "wait" | "now",
) {
  const [node, nodeArgs] = nodeWithTsx("./overload-load.ts", [
    ...["--protocol", path === "grpc" ? "grpc" : "http", "--target", `127.0.0.1:${portOf(path, admission)}`],
    ...["--concurrency", String(clients), "--duration-ms", args["duration-ms"] ?? "8000"],
    ...["--warmup-ms", args["warmup-ms"] ?? "2000", "--on-refusal", onRefusal],
  ]);
  const [command, commandArgs] = pinned(pinning, "load", node, nodeArgs);
  const servers = path === "grpc" ? [registries[admission]] : [registries[admission], gateways[admission]];
  const machineBefore = cpuTimes();
  const { result, peakRssMb, cpuPct } = await sampled(servers, runCapturing(command, commandArgs, "load"));
  const machineBusyPct = Math.round(busyPercent(machineBefore, cpuTimes()).reduce((a, b) => a + b, 0));
  const line = result.trim().split("\n").at(-1) ?? "";
  const row: Row = {
    round,
    path,
    admission,
    clients,
    onRefusal,
    load: JSON.parse(line) as LoadReport,
    registryPeakRssMb: peakRssMb[0] ?? 0,
    gatewayPeakRssMb: peakRssMb[1],
    serverCpuPct: cpuPct.reduce((a, b) => a + b, 0),
    machineBusyPct,
  };
  const { ok, refused } = row.load;
  console.log(
    `round ${round} ${path} admission ${admission} ${clients} clients (${onRefusal}): ok ${ok.count} p50 ${ok.p50Ms} p99 ${ok.p99Ms} ms; refused ${refused.count} p50 ${refused.p50Ms} p99 ${refused.p99Ms} ms; failed ${JSON.stringify(row.load.failed)}; RSS ${peakRssMb.join("/")} MB; CPU servers ${cpuPct.join("/")}% load ${row.load.loadCpuPct}% machine ${machineBusyPct}%`,
  );
  return row;
}

const rows: Row[] = [];
const startedAt = new Date();
try {
  for (let round = 1; round <= rounds; round++) {
    // on/off alternate which goes first, round by round.
    const order: Admission[] = round % 2 ? ["on", "off"] : ["off", "on"];
    for (const path of (args.paths ?? "").split(",") as Path[]) {
      for (const clients of [unloaded, overload]) {
        for (const admission of order) rows.push(await measure(round, path, admission, clients, "wait"));
      }
      if (!args["no-storm"]) rows.push(await measure(round, path, "on", overload, "now"));
    }
  }
} finally {
  await Promise.all([...Object.values(gateways), ...Object.values(registries)].map((s) => s.stop()));
}

const { writeReport } = await import("./overload-report");
writeReport(args.out ?? "", rows, {
  startedAt,
  seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
  pinning,
  unloaded,
  overload,
  durationMs: Number(args["duration-ms"]),
  packages: args.dist ? "built dist/" : "TypeScript sources (tsx)",
  limits: { registry: args["registry-limits"] || "defaults", gateway: args["gateway-limits"] || "defaults" },
  machine: `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}`,
  commit: spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim(),
});

export type { Pinning, Row };
