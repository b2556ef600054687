/**
 * `npm run bench:watch`: WatchModels fan-out on PostgreSQL (issue 16). One
 * registry process on PostgreSQL (pinned to core 0 when taskset exists),
 * the watches in another process (core 1), a writer creating models at a
 * fixed rate from this process (core 1). For each cell (watches x creates/s):
 * database transactions per write (`pg_stat_database.xact_commit` of the
 * bench's own database, delta over the cell / writes), event latency
 * (the change's commit time to its receipt) p50/p99, write ack p50/p99,
 * the registry's CPU, watch reconnects, and events missing 10 s after the
 * last write. Writes `results/watch-fanout.md`. Not a pass/fail test.
 *
 * Roles of this one file: no `--role` (the orchestrator), `--role registry`,
 * `--role watchers`.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { WatchModelsRequest, WatchModelsResponse } from "@modelreg/proto";
import { createRegistryClient } from "@modelreg/registry-client";
import { createRegistryServer } from "@modelreg/registry-server";
import { createPostgresStorage } from "@modelreg/registry-server/storage/postgres";
import pg from "pg";
import { busyPercent, cpuTimes, detectPinning, nodeWithTsx, type Pinning, pinned } from "./proc";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    role: { type: "string", default: "" },
    port: { type: "string", default: "21700" },
    watches: { type: "string", default: "10,100,1000" },
    rates: { type: "string", default: "20,50" },
    "duration-ms": { type: "string", default: "20000" },
    "drain-ms": { type: "string", default: "10000" },
    postgres: {
      type: "string",
      default: process.env.MODELREG_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    },
    database: { type: "string", default: "modelreg_bench_watch" },
    "no-pin": { type: "boolean", default: false },
    out: { type: "string", default: join(benchDir, "results", "watch-fanout.md") },
    help: { type: "boolean", short: "h", default: false },
  },
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** What the watchers process reports at the end of a cell. */
interface WatchersReport {
  readonly type: "report";
  readonly events: number;
  readonly missing: number;
  readonly reconnects: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** One cell's figures. */
interface Cell {
  readonly watches: number;
  readonly rate: number;
  readonly writes: number;
  readonly failedWrites: number;
  readonly achievedRate: number;
  readonly xactPerWrite: number;
  readonly ackMs: { readonly p50: number; readonly p99: number };
  readonly registryCpuPercent: number;
  /** The registry's event-loop delay p99 during the writes. */
  readonly registryLoopP99Ms: number;
  /** The registry's CPU time from the first write until the last event was delivered, per event delivered. */
  readonly registryMicrosPerEvent: number;
  /** Both cores' busy time during the writes (of 200 %): other tenants show here. */
  readonly machineBusyPercent: number;
  readonly watchers: WatchersReport;
}

const percentile = (sorted: ArrayLike<number>, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);

/** The database URL of the bench's own database (its transaction count is the registry's alone). */
function databaseUrl(): string {
  const url = new URL(args.postgres ?? "");
  url.pathname = `/${args.database}`;
  return url.toString();
}

/** `--role registry`: a registry on PostgreSQL; answers `cpu` with its CPU time on the IPC channel. */
async function runRegistry(): Promise<void> {
  const storage = await createPostgresStorage({ connectionString: databaseUrl() });
  if (process.env.WATCH_FANOUT_DEBUG) {
    const counts: Record<string, number> = {};
    for (const name of ["readChanges", "insert", "get", "lookup"] as const) {
      const original = (storage as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
      if (!original) continue;
      (storage as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
        const key = name === "readChanges" ? `readChanges(limit ${a[1]})` : name;
        counts[key] = (counts[key] ?? 0) + 1;
        return original.apply(storage, a);
      };
    }
    setInterval(() => console.error(JSON.stringify(counts)), 2000).unref();
  }
  const server = createRegistryServer({
    storage,
    host: "127.0.0.1",
    port: Number(args.port),
    insecure: true,
    logger: silent,
  });
  await server.listen();
  // How late the event loop runs timers: a registry starved of CPU, or blocked, shows here.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  process.on("message", (message: { type?: string }) => {
    if (message.type !== "cpu") return;
    const { user, system } = process.cpuUsage();
    const loopP99Ms = loopDelay.percentile(99) / 1e6;
    loopDelay.reset();
    process.send?.({ type: "cpu", micros: user + system, loopP99Ms });
  });
  process.on("disconnect", () => {
    void server.shutdown({ graceMs: 0 }).finally(() => storage.close().finally(() => process.exit(0)));
  });
  process.send?.({ type: "ready" });
}

/**
 * The revision of an encoded WatchModelsResponse without decoding it:
 * field 1 (`event`, length-delimited) is skipped, field 2 (`revision`) read.
 */
function revisionOf(bytes: Buffer): number {
  let offset = 0;
  const varint = () => {
    let value = 0;
    let shift = 1;
    for (;;) {
      const byte = bytes[offset++] ?? 0;
      value += (byte & 0x7f) * shift;
      if (byte < 0x80) return value;
      shift *= 128;
    }
  };
  while (offset < bytes.length) {
    const tag = varint();
    if (tag === 0x0a) {
      const length = varint(); // read first: `offset += varint()` would add to the offset before the length
      offset += length;
    } else if (tag === 0x10) return varint();
    else return -1;
  }
  return 0; // proto3 leaves a zero revision out
}

/**
 * `--role watchers`: opens `--watches` watches from now, each on its own
 * connection (a cache process has its own), with a raw grpc-js client that
 * does not decode the messages (only the revision is read; the first copy
 * of each revision is decoded once for its commit time), so that what is
 * measured is the registry, not a client's decoding. A stream that fails
 * is reopened after the last revision it got (a reconnect). On `finish`
 * (with the latest revision written) waits for every watch to reach it or
 * `drainMs`, then reports.
 */
async function runWatchers(): Promise<void> {
  const count = Number(args.watches);
  const last = new Float64Array(count);
  const counts = new Uint32Array(count);
  const commitMs = new Map<number, number>();
  const latencies: number[] = [];
  const channels: grpc.Client[] = [];
  let reconnects = 0;
  let started = 0;
  let finished = false;
  const method = {
    path: "/modelregistry.v1.ModelService/WatchModels",
    requestSerialize: (value: WatchModelsRequest) => Buffer.from(WatchModelsRequest.toBinary(value)),
    responseDeserialize: (bytes: Buffer) => bytes,
  };
  const open = (index: number, client: grpc.Client, after: number | undefined) => {
    const request = WatchModelsRequest.create(after === undefined ? {} : { afterRevision: BigInt(after) });
    const stream = client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
    );
    let first = true;
    stream.on("data", (bytes: Buffer) => {
      const revision = revisionOf(bytes);
      if (first) {
        first = false;
        if (after === undefined && ++started === count) process.send?.({ type: "ready" });
      }
      if (bytes[0] !== 0x0a) return; // a progress notification
      let committed = commitMs.get(revision);
      if (committed === undefined) {
        const time = WatchModelsResponse.fromBinary(bytes).event?.commitTime;
        committed = time ? Number(time.seconds) * 1000 + time.nanos / 1e6 : Date.now();
        commitMs.set(revision, committed);
      }
      latencies.push(Date.now() - committed);
      if (process.env.WATCH_FANOUT_DEBUG && index === 0)
        console.error("event", revision, Date.now() - committed);
      counts[index] = (counts[index] ?? 0) + 1;
      last[index] = revision;
    });
    stream.on("error", () => {
      if (finished) return;
      reconnects++;
      setTimeout(() => open(index, client, last[index]), 100);
    });
  };
  for (let i = 0; i < count; i++) {
    const client = new grpc.Client(`127.0.0.1:${args.port}`, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
    });
    channels.push(client);
    open(i, client, undefined);
  }
  process.on("disconnect", () => process.exit(0)); // the bench went away (a time limit): no orphans
  process.on("message", async (message: FinishMessage) => {
    if (message.type !== "finish") return;
    await drained(last, message);
    finished = true;
    process.send?.(watchersReport(latencies, counts, message.latest ?? 0, reconnects));
    for (const channel of channels) channel.close();
    setTimeout(() => process.exit(0), 200).unref();
  });
}

/** What the bench sends the watchers process when the writer is done. */
interface FinishMessage {
  type?: string;
  latest?: number;
  drainMs?: number;
}

/** Waits until every watch reached the latest revision written, or `drainMs` passed. */
async function drained(last: Float64Array, message: FinishMessage): Promise<void> {
  const latest = message.latest ?? 0;
  const deadline = Date.now() + (message.drainMs ?? 10_000);
  while (Date.now() < deadline && last.some((n) => n < latest)) await new Promise((r) => setTimeout(r, 50));
}

/** The watchers' report: events received, missing ones, reconnects and latency percentiles. */
function watchersReport(
  latencies: number[],
  counts: Uint32Array,
  latest: number,
  reconnects: number,
): WatchersReport {
  const sorted = Float64Array.from(latencies).sort();
  let missing = 0;
  for (const n of counts) missing += Math.max(0, latest - n);
  return {
    type: "report",
    events: latencies.length,
    missing,
    reconnects,
    latencyMs: {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? Number.NaN,
    },
  };
}

/** Starts this file in `role` on the pinned core; resolves once it says `ready`. */
async function startChild(pinning: Pinning, core: "server" | "load", role: string, extra: string[] = []) {
  // WATCH_FANOUT_PROFILE=dir: a CPU profile of the registry, written there when it exits.
  const profileDir = role === "registry" ? process.env.WATCH_FANOUT_PROFILE : undefined;
  const nodeFlags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const [node, nodeArgs] = nodeWithTsx(
    "./watch-fanout.ts",
    [
      ...["--role", role, "--port", String(args.port)],
      ...["--postgres", String(args.postgres), "--database", String(args.database), ...extra],
    ],
    nodeFlags,
  );
  const [command, commandArgs] = pinned(pinning, core, node, nodeArgs);
  const child = spawn(command, commandArgs, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, TSX_TSCONFIG_PATH: join(benchDir, "tsconfig.json") },
  });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${role} exited with ${code} before ready`));
    child.once("exit", onExit);
    child.once("message", () => {
      child.off("exit", onExit);
      resolve();
    });
  });
  const ask = <T>(message: object, type: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (answer: { type?: string }) => {
        if (answer.type !== type) return;
        child.off("message", onMessage);
        resolve(answer as T);
      };
      child.on("message", onMessage);
      child.send(message);
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      if (child.connected) child.disconnect();
      else child.kill();
    });
  return { ask, stop };
}

/** Transactions committed in the bench's database so far (after the statistics are flushed). */
async function committedTransactions(): Promise<number> {
  await new Promise((r) => setTimeout(r, 1200)); // backends flush their counts at most once a second
  const client = new pg.Client({ connectionString: args.postgres });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "select xact_commit as n from pg_stat_database where datname = $1",
      [args.database],
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** The latest revision of the history: what every watch (all from revision 0) must have got. */
async function latestRevision(): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string | null }>("select max(revision) as n from model_changes");
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** (Re)creates the bench's database, so each cell starts from an empty history. */
async function freshDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: args.postgres });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${args.database} with (force)`);
    await admin.query(`create database ${args.database}`);
  } finally {
    await admin.end();
  }
}

/** Creates models at `rate` per second for `durationMs`, open loop; the ack time of each. */
async function write(rate: number, durationMs: number) {
  const client = createRegistryClient({ target: `127.0.0.1:${args.port}`, insecure: true });
  const acks: number[] = [];
  let failed = 0;
  const calls: Promise<void>[] = [];
  const start = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    calls.push(
      client
        .createModel({ model: { name: `bench-${i}`, version: "1", framework: "onnx", tags: ["bench"] } })
        .then(
          () => void acks.push(performance.now() - sent),
          (error: { code?: number; message?: string }) => {
            failed++;
            if (process.env.WATCH_FANOUT_DEBUG && failed < 4) console.error(error.code, error.message);
          },
        ),
    );
  }
  await Promise.all(calls);
  const elapsedS = (performance.now() - start) / 1000;
  client.close();
  acks.sort((a, b) => a - b);
  return { writes: total, failed, achievedRate: acks.length / elapsedS, acks };
}

/** One cell: a fresh database and registry, `watches` watches, `rate` creates/s for the duration. */
async function runCell(pinning: Pinning, watches: number, rate: number): Promise<Cell> {
  await freshDatabase();
  const registry = await startChild(pinning, "server", "registry");
  const watchers = await startChild(pinning, "load", "watchers", ["--watches", String(watches)]);
  try {
    const xactBefore = await committedTransactions();
    type CpuAnswer = { micros: number; loopP99Ms: number };
    const cpuBefore = await registry.ask<CpuAnswer>({ type: "cpu" }, "cpu");
    const cpuStart = performance.now();
    const machineBefore = cpuTimes();
    const written = await write(rate, Number(args["duration-ms"]));
    const machineBusy = busyPercent(machineBefore, cpuTimes()).reduce((sum, n) => sum + n, 0);
    const cpuAfter = await registry.ask<CpuAnswer>({ type: "cpu" }, "cpu");
    const cpuMs = performance.now() - cpuStart;
    const report = await watchers.ask<WatchersReport>(
      { type: "finish", latest: await latestRevision(), drainMs: Number(args["drain-ms"]) },
      "report",
    );
    // CPU until every event was delivered (the drain included), per event delivered.
    const cpuDrained = await registry.ask<CpuAnswer>({ type: "cpu" }, "cpu");
    const xactAfter = await committedTransactions();
    return {
      watches,
      rate,
      writes: written.writes,
      failedWrites: written.failed,
      achievedRate: written.achievedRate,
      xactPerWrite: (xactAfter - xactBefore) / Math.max(1, written.writes - written.failed),
      ackMs: { p50: percentile(written.acks, 0.5), p99: percentile(written.acks, 0.99) },
      registryCpuPercent: ((cpuAfter.micros - cpuBefore.micros) / 1000 / cpuMs) * 100,
      registryLoopP99Ms: cpuAfter.loopP99Ms,
      registryMicrosPerEvent: (cpuDrained.micros - cpuBefore.micros) / Math.max(1, report.events),
      machineBusyPercent: machineBusy,
      watchers: report,
    };
  } finally {
    await watchers.stop();
    await registry.stop();
  }
}

const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

function render(cells: readonly Cell[], pinning: Pinning, startedAt: Date): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const lines = [
    "# WatchModels fan-out on PostgreSQL (issue 16)",
    "",
    `Run ${startedAt.toISOString()} on ${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
      `pinning: ${pinning.enabled ? pinning.reason : `off (${pinning.reason})`}. ` +
      `${Number(args["duration-ms"]) / 1000} s of creates per cell, a fresh database and registry per cell; ` +
      "watches from now, unfiltered, in one process, each its own connection (raw grpc-js, messages not decoded).",
    "",
    "| watches | creates/s asked | achieved | failed | db xact / write | event p50 ms | event p99 ms | event max ms | ack p50 ms | ack p99 ms | registry CPU % | registry µs / event | registry loop delay p99 ms | machine busy % (of 200) | reconnects | missing after 10 s |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const c of cells) {
    const w = c.watchers;
    lines.push(
      `| ${c.watches} | ${c.rate} | ${fixed(c.achievedRate, 1)} | ${c.failedWrites} | ${fixed(c.xactPerWrite, 2)} | ` +
        `${fixed(w.latencyMs.p50)} | ${fixed(w.latencyMs.p99)} | ${fixed(w.latencyMs.max)} | ${fixed(c.ackMs.p50, 1)} | ` +
        `${fixed(c.ackMs.p99, 1)} | ${fixed(c.registryCpuPercent)} | ${fixed(c.registryMicrosPerEvent, 1)} | ${fixed(c.registryLoopP99Ms)} | ${fixed(c.machineBusyPercent)} | ${w.reconnects} | ${w.missing} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

async function orchestrate(): Promise<void> {
  const pinning = detectPinning(cpus().length, !args["no-pin"]);
  // The writer runs here: on the load core with the watchers.
  if (pinning.enabled) spawnSync("taskset", ["-cp", pinning.load, String(process.pid)], { stdio: "ignore" });
  const startedAt = new Date();
  const cells: Cell[] = [];
  for (const rate of (args.rates ?? "").split(",").map(Number)) {
    for (const watches of (args.watches ?? "").split(",").map(Number)) {
      const cell = await runCell(pinning, watches, rate);
      console.log(JSON.stringify(cell));
      cells.push(cell);
    }
  }
  const text = render(cells, pinning, startedAt);
  writeFileSync(args.out ?? "", text);
  console.log(text);
}

if (args.help) {
  console.log(`npm run bench:watch -- [--watches 10,100,1000] [--rates 20,50] [--duration-ms 20000] [--drain-ms 10000]
  [--postgres postgres://postgres@127.0.0.1:5432/test] [--database modelreg_bench_watch] [--no-pin] [--out results/watch-fanout.md]`);
} else if (args.role === "registry") await runRegistry();
else if (args.role === "watchers") await runWatchers();
else await orchestrate();
