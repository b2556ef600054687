/**
 * Issue 15's two benchmarks, written to `results/aliases.md`:
 *
 * 1. Alias resolution against GetModel by id: `LookupModel {name, alias}`
 *    and `GetModel {id}` of the same model (same response bytes), loaded
 *    with h2load through the real gRPC server (its own process, on the
 *    server core) over the memory and SQLite stores, interleaved in rounds;
 *    the ratio is taken per round (throughput, and server CPU per call).
 *    Goal: alias resolution within 1.2x of GetModel.
 * 2. ListModelHistory of one name (first page, page_size 50) at 1k and at
 *    1M history entries in SQLite, through the gRPC server (and on the
 *    adapter directly, so a constant transport cost cannot hide growth).
 *    Goal: 1M within 1.5x of 1k. The target name's entries (creates and
 *    alias moves) are spread evenly through the history, so its newest page
 *    is scattered over the newest ~third of the table: only an index on the
 *    name finds it without reading the rows in between.
 *
 * Run from the repository root (packages from their TypeScript sources):
 *   npm run bench:aliases                  # ~4 min
 *   npm run bench:aliases -- -- --quick    # smoke run
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ListModelHistoryRequest, LookupModelRequest, SetModelAliasRequest } from "@modelreg/proto";
import { createRegistryClient } from "@modelreg/registry-client";
import {
  createMemoryStorage,
  createRegistryServer,
  type Logger,
  type ModelRecord,
  type StorageAdapter,
} from "@modelreg/registry-server";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { GET_MODEL_PATH, getModelRequestFrame, grpcFrame, modelRecord } from "./fixture";
import { runH2load } from "./load/h2load";
import { median, quantile } from "./load/stats";
import { busyPercent, cpuTimes, detectPinning, hasCommand, type Pinning, startServer } from "./proc";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    duration: { type: "string" },
    stores: { type: "string", default: "memory,sqlite" },
    "history-rows": { type: "string" },
    "history-calls": { type: "string", default: "1000" },
    only: { type: "string", default: "lookup,history" },
    "base-port": { type: "string", default: "47400" },
    "max-foreign": { type: "string", default: "10" },
    "no-pin": { type: "boolean", default: false },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(
    "aliases.ts [--quick] [--rounds 3] [--duration 8] [--stores memory,sqlite] [--history-rows 1000,1000000] [--history-calls 1000] [--only lookup,history] [--no-pin] [--out FILE]",
  );
  process.exit(0);
}
const rounds = Number(args.rounds ?? (args.quick ? 1 : 5));
const durationS = Number(args.duration ?? (args.quick ? 3 : 5));
const maxForeign = Number(args["max-foreign"]);
const stores = (args.stores ?? "").split(",").filter(Boolean) as ("memory" | "sqlite")[];
const historyRows = (args["history-rows"] ?? (args.quick ? "1000,100000" : "1000,1000000"))
  .split(",")
  .map(Number);
const historyCalls = Number(args["history-calls"]);
const only = new Set((args.only ?? "").split(","));
const out = args.out ?? join(benchDir, "results", args.quick ? "aliases-quick.md" : "aliases.md");
for (const [name, value] of [
  ["--rounds", rounds],
  ["--duration", durationS],
  ["--history-calls", historyCalls],
  ...historyRows.map((n) => ["--history-rows", n] as const),
] as const) {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number of at least 1`);
}
if (stores.some((s) => s !== "memory" && s !== "sqlite"))
  throw new Error("--stores takes memory and/or sqlite");
// Children (the registry processes) run the packages' sources too.
process.env.TSX_TSCONFIG_PATH ??= join(benchDir, "tsconfig.json");

const log = (line: string) => console.log(line);
const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const pinning = detectPinning(2, !args["no-pin"]);
const range = (values: readonly number[], digits = 2) =>
  `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;

// --- 1. LookupModel by alias vs GetModel by id ---------------------------------

const LOOKUP_MODEL_PATH = "/modelregistry.v1.ModelService/LookupModel";

interface CallRun {
  reqPerSec: number;
  p50Ms: number;
  cpuMicrosPerCall: number;
  /** % of the server core that other processes took during the run (NaN unpinned). */
  foreignPct: number;
}
interface AliasRow {
  store: string;
  get: CallRun[];
  lookup: CallRun[];
  /** Per round: GetModel req/s over LookupModel req/s (the alias's extra cost; 1.0 = none). */
  throughputRatios: number[];
  /** Per round: server CPU per LookupModel over server CPU per GetModel. */
  cpuRatios: number[];
  /** In process, sequential: the storage calls each makes (`get` and `resolveAlias`), median microseconds. */
  adapter?: { getUs: number; resolveUs: number };
}

/** Installs h2load with apt when this runs as root, as `npm run bench` does. */
function ensureH2load(): void {
  if (hasCommand("h2load")) return;
  if (process.getuid?.() !== 0 || !hasCommand("apt-get"))
    throw new Error("h2load is needed (Debian: apt-get install nghttp2-client)");
  log("installing h2load: apt-get install -y --no-install-recommends nghttp2-client");
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "nghttp2-client"], {
      stdio: "inherit",
    });
  if (install().status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit" });
    install();
  }
}

async function aliasVsId(store: "memory" | "sqlite", port: number, dir: string): Promise<AliasRow> {
  const server = await startServer(pinning, store === "memory" ? "registry-memory" : "registry-sqlite", port);
  const row: AliasRow = { store, get: [], lookup: [], throughputRatios: [], cpuRatios: [] };
  try {
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    const set = { name: modelRecord.name, alias: "champion", version: modelRecord.version };
    await client.service.setModelAlias(SetModelAliasRequest.create(set)).response;
    client.close();
    const bodies = {
      get: { path: GET_MODEL_PATH, frame: getModelRequestFrame() },
      lookup: {
        path: LOOKUP_MODEL_PATH,
        frame: grpcFrame(
          LookupModelRequest.toBinary(LookupModelRequest.create({ name: set.name, alias: "champion" })),
        ),
      },
    };
    const run = async (kind: "get" | "lookup", seconds: number): Promise<CallRun> => {
      const bodyFile = join(dir, `${store}-${kind}.bin`);
      writeFileSync(bodyFile, bodies[kind].frame);
      const before = await server.stats();
      const cores = cpuTimes();
      const wall = performance.now();
      const result = await runH2load(
        pinning,
        {
          url: `http://127.0.0.1:${port}${bodies[kind].path}`,
          bodyFile,
          durationS: seconds,
          connections: 4,
          streamsPerConnection: 16,
          logFile: join(dir, `${store}-${kind}.log`),
        },
        bodies[kind].frame,
      );
      const after = await server.stats();
      const serverCore = busyPercent(cores, cpuTimes())[Number(pinning.server)] ?? Number.NaN;
      const ownPct = ((after.cpuMicros - before.cpuMicros) / ((performance.now() - wall) * 1000)) * 100;
      if (result.errors > 0) throw new Error(`${store} ${kind}: ${result.errors} errors (${result.check})`);
      return {
        reqPerSec: result.reqPerSec,
        p50Ms: result.p50Ms,
        cpuMicrosPerCall: (after.cpuMicros - before.cpuMicros) / result.ok,
        foreignPct: pinning.enabled ? Math.max(0, serverCore - ownPct) : Number.NaN,
      };
    };
    await run("get", 2);
    await run("lookup", 2);
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always meets the warmer process.
      const order = round % 2 ? (["lookup", "get"] as const) : (["get", "lookup"] as const);
      const measured: Partial<Record<"get" | "lookup", CallRun>> = {};
      // A pair in which other processes took the server core is measured again (once).
      for (let attempt = 0; attempt < 2; attempt++) {
        for (const kind of order) measured[kind] = await run(kind, durationS);
        const foreign = Math.max(measured.get?.foreignPct ?? 0, measured.lookup?.foreignPct ?? 0);
        if (!(foreign > maxForeign)) break;
        log(
          `  ${store} round ${round + 1}: ${foreign.toFixed(0)}% of the server core went to other processes`,
        );
      }
      const get = measured.get as CallRun;
      const lookup = measured.lookup as CallRun;
      row.get.push(get);
      row.lookup.push(lookup);
      row.throughputRatios.push(get.reqPerSec / lookup.reqPerSec);
      row.cpuRatios.push(lookup.cpuMicrosPerCall / get.cpuMicrosPerCall);
      log(
        `  ${store} round ${round + 1}: GetModel ${Math.round(get.reqPerSec)} req/s, LookupModel by alias ${Math.round(lookup.reqPerSec)} req/s: ${(get.reqPerSec / lookup.reqPerSec).toFixed(2)}x (server CPU per call ${(lookup.cpuMicrosPerCall / get.cpuMicrosPerCall).toFixed(2)}x)`,
      );
    }
  } finally {
    await server.stop();
  }
  return row;
}

/**
 * The storage calls behind the two RPCs, in this process, one at a time:
 * `get(id)` and `resolveAlias(name, alias)`, in alternating blocks; median
 * microseconds of each. Shows how much of the RPCs' difference is storage.
 */
async function adapterCalls(store: "memory" | "sqlite", dir: string) {
  const storage =
    store === "memory" ? createMemoryStorage() : await createSqliteStorage({ path: join(dir, "adapter.db") });
  try {
    if ((await storage.insert(modelRecord)).status !== "created")
      throw new Error("could not seed the fixture");
    const set = await storage.setAlias({
      name: modelRecord.name,
      alias: "champion",
      version: modelRecord.version,
    });
    if (set.status !== "set") throw new Error(`setAlias was ${set.status}`);
    const times = { get: [] as number[], resolve: [] as number[] };
    const calls = {
      get: async () => {
        if ((await storage.get(modelRecord.id))?.id !== modelRecord.id) throw new Error("get missed");
      },
      resolve: async () => {
        const found = await storage.resolveAlias(modelRecord.name, "champion");
        if (found.status !== "found" || found.model.id !== modelRecord.id)
          throw new Error("resolveAlias missed");
      },
    };
    for (let block = 0; block < 12; block++) {
      for (const kind of block % 2 ? (["resolve", "get"] as const) : (["get", "resolve"] as const)) {
        for (let n = 0; n < 1000; n++) {
          const start = performance.now();
          await calls[kind]();
          if (block >= 2) times[kind].push((performance.now() - start) * 1000);
        }
      }
    }
    return { getUs: median(times.get), resolveUs: median(times.resolve) };
  } finally {
    await storage.close();
  }
}

// --- 2. ListModelHistory at 1k vs 1M entries (SQLite) --------------------------

const TARGET = "bert";
/** The target name's entries: versions created, and every third one an alias move. */
const TARGET_ENTRIES = 300;
const BATCH = 5000;
const BASE_MICROS = 1_750_000_000_000_000;
const lineage = { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: [] };
const record = (id: string, name: string, version: string, i: number): ModelRecord => ({
  id,
  name,
  version,
  framework: "pytorch",
  description: "",
  tags: [],
  metadata: { owner: `team-${i % 32}` },
  artifactUri: `s3://models/${name}/${version}/model.pt`,
  artifactDigest: "",
  lineage,
  revision: 1,
  createTime: BASE_MICROS + i * 1000,
  updateTime: BASE_MICROS + i * 1000,
});

/**
 * The documented fast path: `total` history entries written through the
 * adapter itself (so they are exactly what the registry writes), other
 * names' creates in `insertMany` batches of 5,000 (one transaction each),
 * and TARGET_ENTRIES of the target name spread evenly between them.
 */
async function seedHistory(storage: StorageAdapter, total: number): Promise<void> {
  const every = Math.max(2, Math.floor(total / TARGET_ENTRIES));
  const options = { actor: "seed" };
  let batch: { record: ModelRecord }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const results = await storage.insertMany(batch, options);
    if (results.some((r) => r.status !== "created")) throw new Error("seeding: an insert was not created");
    batch = [];
  };
  let targets = 0;
  let versions = 0;
  for (let i = 0; i < total; i++) {
    if (i % every === every - 1 && targets < TARGET_ENTRIES) {
      await flush();
      if (targets % 3 === 2) {
        // Move the alias to the version created last.
        const version = `1.0.${versions - 1}`;
        const moved = await storage.setAlias({ name: TARGET, alias: "champion", version }, options);
        if (moved.status !== "set") throw new Error(`seeding: setAlias was ${moved.status}`);
      } else {
        const id = `00000000-0000-7000-9000-${versions.toString(16).padStart(12, "0")}`;
        const version = `1.0.${versions++}`;
        const [created] = await storage.insertMany([{ record: record(id, TARGET, version, i) }], options);
        if (created?.status !== "created")
          throw new Error(`seeding: ${TARGET} ${version} was ${created?.status}`);
      }
      targets++;
      continue;
    }
    batch.push({
      record: record(`00000000-0000-7000-8000-${i.toString(16).padStart(12, "0")}`, `other-${i}`, "1", i),
    });
    if (batch.length === BATCH) await flush();
  }
  await flush();
}

interface HistoryRow {
  rows: number;
  seedSeconds: number;
  grpcUs: number[];
  adapterUs: number[];
}

/** Times `calls` sequential calls after `calls / 5` warm-up calls; microseconds, ascending. */
async function timeCalls(calls: number, op: () => Promise<void>): Promise<number[]> {
  for (let n = 0; n < Math.ceil(calls / 5); n++) await op();
  const micros: number[] = [];
  for (let n = 0; n < calls; n++) {
    const start = performance.now();
    await op();
    micros.push((performance.now() - start) * 1000);
  }
  return micros.sort((a, b) => a - b);
}

async function historyAt(rows: number): Promise<HistoryRow> {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-history-"));
  const storage = await createSqliteStorage({ path: join(dir, "registry.db") });
  const started = performance.now();
  await seedHistory(storage, rows);
  const seedSeconds = (performance.now() - started) / 1000;
  const server = createRegistryServer({
    storage,
    host: "127.0.0.1",
    port: 0,
    insecure: true,
    logger: silentLogger,
  });
  const { port } = await server.listen();
  const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
  try {
    const latest = await storage.readChanges(0, 0);
    if (latest.latestRevision !== rows)
      throw new Error(`seeded ${latest.latestRevision} entries, not ${rows}`);
    const grpcUs = await timeCalls(historyCalls, async () => {
      const { entries } = await client.service.listModelHistory(
        ListModelHistoryRequest.create({ name: TARGET, pageSize: 50 }),
      ).response;
      if (entries.length !== 50 || entries.some((e) => (e.after ?? e.aliasAfter)?.name !== TARGET))
        throw new Error("ListModelHistory did not answer a full page of the target name");
    });
    const adapterUs = await timeCalls(historyCalls, async () => {
      const page = await storage.listHistory({ name: TARGET, limit: 51 });
      if (page.length !== 51) throw new Error(`listHistory answered ${page.length} entries, not 51`);
    });
    log(
      `  sqlite, ${rows} history entries (seeded in ${seedSeconds.toFixed(1)} s): ListModelHistory ${Math.round(quantile(grpcUs, 0.5))} us, adapter listHistory ${Math.round(quantile(adapterUs, 0.5))} us (medians)`,
    );
    return { rows, seedSeconds, grpcUs, adapterUs };
  } finally {
    client.close();
    await server.shutdown({ graceMs: 0 });
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- Report ------------------------------------------------------------------

function verdict(ratio: number, goal: number): string {
  return ratio <= goal ? `met (<= ${goal}x)` : `**missed** (goal <= ${goal}x)`;
}

function report(
  aliasRows: AliasRow[],
  historyRowsMeasured: HistoryRow[],
  pin: Pinning,
  seconds: number,
): string {
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
  const lines = [
    "# Aliases and history (issue 15)",
    "",
    `${new Date().toISOString()}, commit ${commit}, Node ${process.version}, packages from their TypeScript sources (tsx); ${pin.enabled ? pin.reason : `not pinned: ${pin.reason}`}; ${Math.round(seconds)} s in all. Reproduce: \`npm run bench:aliases\`.`,
    "",
  ];
  if (aliasRows.length > 0) {
    lines.push(
      "## LookupModel by alias vs GetModel by id",
      "",
      `The registry (createRegistryServer, health and reflection on) in its own process; h2load, 4 connections x 16 streams, ${durationS} s per run, ${rounds} rounds, the two calls interleaved (order alternating) after 2 s of warm-up each; both answer the same 254-byte model. Ratio = GetModel req/s / LookupModel req/s in the same round (1.00x: the alias costs nothing), median of the rounds; server CPU per call (the server process's own CPU time over the calls it answered) likewise. A pair during which other processes took more than ${maxForeign}% of the server core is measured again once. The last column times the two storage calls behind the RPCs (\`get\`, \`resolveAlias\`) in this process, one at a time, 10,000 each in alternating blocks.`,
      "",
      "| store | GetModel req/s | LookupModel (alias) req/s | p50 ms get / alias | alias cost vs id (throughput) | range | server CPU per call, alias vs id | range | others on the server core (max) | storage call in process, resolveAlias / get | goal |",
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
      ...aliasRows.map((r) => {
        const ratio = median(r.throughputRatios);
        const foreign = Math.max(...[...r.get, ...r.lookup].map((g) => g.foreignPct));
        const adapter = r.adapter
          ? `${r.adapter.resolveUs.toFixed(2)} / ${r.adapter.getUs.toFixed(2)} us = ${(r.adapter.resolveUs / r.adapter.getUs).toFixed(2)}x`
          : "";
        return `| ${r.store} | ${Math.round(median(r.get.map((g) => g.reqPerSec))).toLocaleString("en")} | ${Math.round(median(r.lookup.map((g) => g.reqPerSec))).toLocaleString("en")} | ${median(r.get.map((g) => g.p50Ms)).toFixed(2)} / ${median(r.lookup.map((g) => g.p50Ms)).toFixed(2)} | ${ratio.toFixed(2)}x | ${range(r.throughputRatios)} | ${median(r.cpuRatios).toFixed(2)}x | ${range(r.cpuRatios)} | ${Number.isNaN(foreign) ? "n/a" : `${foreign.toFixed(0)}%`} | ${adapter} | ${verdict(ratio, 1.2)} |`;
      }),
      "",
    );
  }
  if (historyRowsMeasured.length > 0) {
    const [smallest] = historyRowsMeasured;
    lines.push(
      "## ListModelHistory of one name: first page at growing history",
      "",
      `SQLite (WAL, synchronous FULL). History seeded through the adapter (\`insertMany\` batches of ${BATCH.toLocaleString("en")} creates of other names, ${TARGET_ENTRIES} entries of \`${TARGET}\` spread evenly: creates, and every third an alias move). ${historyCalls} sequential calls after ${Math.ceil(historyCalls / 5)} warm-up calls: \`ListModelHistory {name: "${TARGET}", page_size: 50}\` through the gRPC server and typed client in one process, and the \`listHistory\` storage call it makes.`,
      "",
      "| history entries | seeded in | ListModelHistory median | p99 | vs smallest | adapter listHistory median | p99 | vs smallest | goal |",
      "|--:|--:|--:|--:|--:|--:|--:|--:|---|",
      ...historyRowsMeasured.map((r) => {
        const grpcRatio = quantile(r.grpcUs, 0.5) / quantile(smallest?.grpcUs ?? r.grpcUs, 0.5);
        const adapterRatio = quantile(r.adapterUs, 0.5) / quantile(smallest?.adapterUs ?? r.adapterUs, 0.5);
        const goal = r === smallest ? "" : verdict(grpcRatio, 1.5);
        return `| ${r.rows.toLocaleString("en")} | ${r.seedSeconds.toFixed(1)} s | ${Math.round(quantile(r.grpcUs, 0.5))} us | ${Math.round(quantile(r.grpcUs, 0.99))} us | ${grpcRatio.toFixed(2)}x | ${Math.round(quantile(r.adapterUs, 0.5))} us | ${Math.round(quantile(r.adapterUs, 0.99))} us | ${adapterRatio.toFixed(2)}x | ${goal} |`;
      }),
      "",
    );
  }
  return lines.join("\n");
}

const started = performance.now();
const aliasRows: AliasRow[] = [];
const historyMeasured: HistoryRow[] = [];
if (only.has("lookup")) {
  ensureH2load();
  const dir = mkdtempSync(join(tmpdir(), "modelreg-alias-bench-"));
  try {
    let port = Number(args["base-port"]);
    for (const store of stores) {
      log(`LookupModel by alias vs GetModel by id, ${store} store:`);
      const row = await aliasVsId(store, port++, dir);
      row.adapter = await adapterCalls(store, dir);
      log(
        `  ${store} storage calls in process: get ${row.adapter.getUs.toFixed(2)} us, resolveAlias ${row.adapter.resolveUs.toFixed(2)} us (medians)`,
      );
      aliasRows.push(row);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (only.has("history")) {
  log("ListModelHistory of one name, first page:");
  for (const rows of [...historyRows].sort((a, b) => a - b)) historyMeasured.push(await historyAt(rows));
}
const text = report(aliasRows, historyMeasured, pinning, (performance.now() - started) / 1000);
writeFileSync(out, `${text}\n`);
log(`\n${text}\nwritten to ${out}`);
