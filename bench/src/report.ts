import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Contender } from "./contenders";
import { type LoadResult, median } from "./load/stats";
import type { ScalingResult } from "./storage-scaling";

/** One contender's measurement in one round. */
export interface RunRecord extends LoadResult {
  contender: string;
  round: number;
  /** CPU time of the contender's server process(es) over the run, in % of one core. */
  serverCpuPct: number;
  serverRssMB: number;
  /** Busy CPU of the whole machine during the run, in % of one core (all our processes plus anything else). */
  machineBusyPct: number;
  /** CPU other processes took on the measured core (server core; load core for client rows), in % of it. */
  foreignCpuPct: number;
  /** Client rows: the client process's own CPU during the measured window, in % of one core. */
  clientCpuPct?: number;
  /** Still above `--max-foreign` after the allowed re-measurements. */
  disturbed: boolean;
  attempts: number;
}

export interface Report {
  date: string;
  totalSeconds: number;
  machine: Record<string, string | number>;
  code: { commit: string; packagesModified: boolean; packages: string };
  options: Record<string, unknown>;
  contenders: readonly Contender[];
  skipped: readonly { id: string; reason: string }[];
  runs: readonly RunRecord[];
  scaling: readonly ScalingResult[];
  storageNotes: readonly string[];
}

interface Summary {
  contender: Contender;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuPct: number;
  rssMB: number;
  /** Requests per second of server CPU: throughput normalised by what the server(s) burned. */
  perCpuSecond: number;
  errors: number;
  machineBusyPct: number;
  foreignCpuPct: number;
  disturbed: number;
  min: number;
  max: number;
}

function summarise(report: Report): Summary[] {
  return report.contenders.flatMap((contender) => {
    const runs = report.runs.filter((r) => r.contender === contender.id);
    if (runs.length === 0) return [];
    const rps = runs.map((r) => r.reqPerSec);
    return [
      {
        contender,
        reqPerSec: median(rps),
        p50Ms: median(runs.map((r) => r.p50Ms)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
        cpuPct: median(runs.map((r) => r.serverCpuPct)),
        rssMB: median(runs.map((r) => r.serverRssMB)),
        perCpuSecond: median(runs.map((r) => r.reqPerSec / (r.serverCpuPct / 100))),
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
        machineBusyPct: median(runs.map((r) => r.machineBusyPct)),
        foreignCpuPct: median(runs.map((r) => r.foreignCpuPct)),
        disturbed: runs.filter((r) => r.disturbed).length,
        min: Math.min(...rps),
        max: Math.max(...rps),
      },
    ];
  });
}

/** a/b per round (measured side by side), then the median over rounds and the range. */
function pairedRatio(report: Report, a: string, b: string) {
  const ratios: number[] = [];
  const perCpu: number[] = [];
  const efficiency = (r: RunRecord) => r.reqPerSec / Math.max(1, r.serverCpuPct);
  for (const run of report.runs.filter((r) => r.contender === a)) {
    const other = report.runs.find((r) => r.contender === b && r.round === run.round);
    if (other) {
      ratios.push(run.reqPerSec / other.reqPerSec);
      perCpu.push(efficiency(run) / efficiency(other));
    }
  }
  if (ratios.length === 0) return undefined;
  return {
    median: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    perCpu: median(perCpu),
  };
}

interface Target {
  what: string;
  a: string;
  b: string;
  goal: number;
}

const targets: Target[] = [
  { what: "registry GetModel (memory) vs bare-http2 ceiling", a: "registry-memory", b: "ceiling", goal: 0.6 },
  {
    what: "registry GetModel (memory) vs grpc-js + proto-loader",
    a: "registry-memory",
    b: "grpcjs",
    goal: 1.2,
  },
  { what: "gateway GET by id vs Express+JSON direct", a: "gateway", b: "express-json", goal: 0.5 },
  {
    what: "our client (pool 1) vs raw grpc-js client, same concurrency",
    a: "client-pool1",
    b: "grpcjs-client",
    goal: 1.0,
  },
  { what: "our client pool 4 vs pool 1", a: "client-pool4", b: "client-pool1", goal: 1.3 },
];

/** Comparisons without a target, reported for context (the seed's "gRPC is 5-10x faster than REST"). */
const comparisons: Omit<Target, "goal">[] = [
  {
    what: "registry over gRPC vs the same registry through the REST gateway",
    a: "registry-memory",
    b: "gateway",
  },
  { what: "registry over gRPC vs Express+JSON direct", a: "registry-memory", b: "express-json" },
  { what: "grpc-js + proto-loader vs Express+JSON direct", a: "grpcjs", b: "express-json" },
  { what: "gateway vs Express route calling raw grpc-js", a: "gateway", b: "express-grpcjs" },
  { what: "registry SQLite store vs memory store", a: "registry-sqlite", b: "registry-memory" },
  { what: "connect-node vs grpc-js + proto-loader", a: "connect", b: "grpcjs" },
];

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");

function scalingRows(report: Report): string[] {
  if (report.scaling.length === 0) return [];
  const lines = [
    "| store | call | rows | calls | median | p99 | vs smallest table | target |",
    "|---|---|--:|--:|--:|--:|--:|---|",
  ];
  for (const store of new Set(report.scaling.map((s) => s.store))) {
    for (const op of ["get", "list"] as const) {
      const rows = report.scaling.filter((s) => s.store === store && s.op === op);
      const base = rows[0];
      for (const row of rows) {
        const ratio = base ? row.medianUs / base.medianUs : Number.NaN;
        const target =
          row === base
            ? ""
            : row.rows >= 1_000_000
              ? ratio <= 1.5
                ? "met (<= 1.5x)"
                : "**missed** (> 1.5x)"
              : "";
        lines.push(
          `| ${store} | ${op === "get" ? "GetModel by id" : 'ListModels page, framework="pytorch", keyset'} | ${f0(row.rows)} | ${row.calls} | ${f0(row.medianUs)} us | ${f0(row.p99Us)} us | ${f2(ratio)}x | ${target} |`,
        );
      }
    }
  }
  return lines;
}

export function renderMarkdown(report: Report): string {
  const summaries = summarise(report);
  const ceiling = summaries.find((s) => s.contender.id === "ceiling");
  const o = report.options;
  const lines: string[] = [
    "# Benchmark results",
    "",
    `${report.date}, commit ${report.code.commit}${report.code.packagesModified ? " (packages/ had uncommitted changes)" : ""}, packages from ${report.code.packages}, ${report.totalSeconds} s in all.`,
    `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGB} GB, ${report.machine.os}, Node ${report.machine.node}; ${report.machine.h2load}; ${report.machine.wrk}.`,
    `Pinning: ${report.machine.pinning}. ${o.rounds} rounds x ${o.durationS} s per contender (interleaved, order rotated per round) after ${o.warmupS} s warm-up; ${o.concurrency} requests in flight for every contender.`,
    `GetModel by id of one model (${o.modelBytes} bytes of Model protobuf, ${o.responseFrameBytes}-byte framed GetModelResponse). Figures are medians over rounds; ratios are per-round ratios of contenders measured side by side, median over rounds (range in brackets).`,
    "",
    "| contender | load | req/s (median) | range | p50 ms | p99 ms | server CPU | server RSS | req per server CPU-s | vs ceiling | others on measured core | errors |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const s of summaries) {
    const driver =
      s.contender.driver.type === "client"
        ? "in-process loop"
        : s.contender.driver.type === "h2load"
          ? "h2load"
          : "wrk";
    lines.push(
      `| ${s.contender.label} | ${driver} | ${f0(s.reqPerSec)} | ${f0(s.min)}-${f0(s.max)} | ${f2(s.p50Ms)} | ${f2(s.p99Ms)} | ${f0(s.cpuPct)}% | ${f0(s.rssMB)} MB | ${f0(s.perCpuSecond)} | ${ceiling ? `${f2(s.reqPerSec / ceiling.reqPerSec)}x` : "-"} | ${f0(s.foreignCpuPct)}%${s.disturbed > 0 ? ` (${s.disturbed} disturbed)` : ""} | ${s.errors} |`,
    );
  }
  for (const s of report.skipped) lines.push(`| ${s.id} | skipped: ${s.reason} | | | | | | | | | | |`);
  lines.push(
    "",
    "Server CPU is the contender's server process(es) in % of one core (gateway rows: the gateway plus the registry behind it, both on the server core; client rows: the registry the client calls). Client rows measure the client process on the load core, so their req/s is bounded by the client's own CPU. 'Others on measured core' is the CPU that other processes took during the run on the core that limits the contender (server rows: the server core; client rows: the load core, where the client runs), median over rounds, from /proc/stat user+system time minus our process's own: a run above --max-foreign % is measured again once and marked disturbed if it stays above.",
    "",
    "## Targets",
    "",
    "| target | measured (median of rounds) | range | per server CPU-s | goal | result |",
    "|---|--:|--:|--:|--:|---|",
  );
  for (const t of targets) {
    const r = pairedRatio(report, t.a, t.b);
    lines.push(
      r
        ? `| ${t.what} | ${f2(r.median)}x | ${f2(r.min)}-${f2(r.max)} | ${f2(r.perCpu)}x | >= ${t.goal}x | ${r.median >= t.goal ? "met" : "**missed**"} |`
        : `| ${t.what} | not measured | | | >= ${t.goal}x | - |`,
    );
  }
  lines.push(
    "",
    "The result goes by req/s. \"Per server CPU-s\" divides each side by its server CPU first: the same ratio with time lost to other processes taken out (for client rows it compares the registry's cost per call, not the clients').",
    "",
    "## Other ratios",
    "",
    "| comparison | measured | range | per server CPU-s |",
    "|---|--:|--:|--:|",
  );
  for (const t of comparisons) {
    const r = pairedRatio(report, t.a, t.b);
    if (r) lines.push(`| ${t.what} | ${f2(r.median)}x | ${f2(r.min)}-${f2(r.max)} | ${f2(r.perCpu)}x |`);
  }
  const scaling = scalingRows(report);
  if (scaling.length > 0 || report.storageNotes.length > 0) {
    lines.push(
      "",
      "## Storage scaling",
      "",
      `Adapter calls in one process, one at a time (up to ${report.options.storageCalls} GetModel calls and a quarter as many list calls per size and at most 15 s each, at least 50: the calls column; random rows, after a warm-up); tables bulk-seeded with 2 tags and 1 metadata entry per model, a quarter of them pytorch. The list call is what ListModels(filter: framework="pytorch", default order create_time desc, page 50) asks storage for, starting after a random row.`,
      "",
      ...scaling,
      ...report.storageNotes.map((n) => `\n${n}`),
    );
  }
  return `${lines.join("\n")}\n`;
}

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A horizontal bar chart of median req/s, one bar per contender, with its min-max range. */
export function renderSvg(report: Report): string {
  const summaries = summarise(report);
  const width = 900;
  const labelWidth = 330;
  const barHeight = 22;
  const gap = 8;
  const top = 50;
  const height = top + summaries.length * (barHeight + gap) + 40;
  const max = Math.max(1, ...summaries.map((s) => s.max));
  const scale = (width - labelWidth - 110) / max;
  const colours: Record<string, string> = { "gRPC server": "#3b6ea8", REST: "#c9792e", client: "#4a9a5b" };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    "<title>GetModel requests per second by contender</title>",
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">GetModel req/s, median of ${report.options.rounds} rounds (whisker: min-max)</text>`,
    `<text x="10" y="40" fill="#555">${escapeXml(`${report.machine.cores} cores, ${report.machine.pinning}; blue: gRPC (h2load), orange: REST (wrk), green: client loop`)}</text>`,
  ];
  summaries.forEach((s, i) => {
    const y = top + i * (barHeight + gap);
    const w = s.reqPerSec * scale;
    const colour = colours[s.contender.group] ?? "#888";
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(s.contender.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${colour}"/>`,
      `<line x1="${(labelWidth + s.min * scale).toFixed(1)}" x2="${(labelWidth + s.max * scale).toFixed(1)}" y1="${y + barHeight / 2}" y2="${y + barHeight / 2}" stroke="#000" stroke-width="1.5"/>`,
      `<text x="${(labelWidth + Math.max(w, s.max * scale) + 6).toFixed(1)}" y="${y + 15}">${f0(s.reqPerSec)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

export function writeReport(outDir: string, report: Report): void {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, "results.json");
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  // The repo's `biome ci .` checks committed files: give the JSON Biome's layout.
  spawnSync("npx", ["--no-install", "biome", "format", "--write", json], { stdio: "ignore" });
  writeFileSync(join(outDir, "results.md"), renderMarkdown(report));
  if (report.runs.length > 0) writeFileSync(join(outDir, "chart.svg"), renderSvg(report));
}
