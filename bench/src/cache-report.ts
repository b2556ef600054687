/**
 * Writes the cache benchmarks' results (`cache.ts`) as `cache.md` (tables)
 * and `cache.json` (every run, the machine and the options).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Counters } from "./cache-client";
import type { PenetrationResult, RedisKillResult, StampedeResult } from "./cache-protection";
import { p, type StalenessResult, type TokenResult } from "./cache-staleness";
import { ratios, type SideBySide } from "./cache-throughput";
import { median } from "./load/stats";

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGB: number;
  readonly os: string;
  readonly node: string;
  readonly pinning: string;
  readonly wrk: string;
  readonly h2load: string;
}

export interface CacheReport {
  date: string;
  commit: string;
  seconds: number;
  machine: Machine;
  options: Record<string, unknown>;
  gateway?: SideBySide;
  registry?: SideBySide;
  breakdown?: StampedeResult[];
  penetration?: PenetrationResult;
  redis?: RedisKillResult;
  staleness: StalenessResult[];
  tokens: TokenResult[];
  /** Parts not measured, and why. */
  skipped: { part: string; reason: string }[];
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a";
const range = (values: readonly number[]) =>
  values.length === 0 ? "" : `${fmt(Math.min(...values), 2)}-${fmt(Math.max(...values), 2)}`;
const verdict = (ok: boolean, goal: string) => (ok ? `met (${goal})` : `**missed** (${goal})`);
/** A "0 registry calls" target: missed, saying so when every call was a bypass of a watch not current. */
const zeroVerdict = (calls: number, c: Counters) =>
  calls === 0
    ? verdict(true, "0")
    : calls === c.staleBypasses
      ? `**missed** (0): all ${calls} were reads a not-current watch sent to the registry`
      : verdict(false, "0");
const cacheCell = (c: Counters) =>
  `hits ${c.hits}, shared hits ${c.sharedHits}, misses ${c.misses}, not-found hits ${c.notFoundHits}, stale bypasses ${c.staleBypasses}, coalesced ${c.coalesced}, shared errors ${c.sharedErrors}`;

function throughputTable(result: SideBySide): string[] {
  const lines = [
    "| contender | load | req/s (median) | range | p50 ms | p99 ms | server CPU | req per server CPU-s | others on the server core | registry GetModel calls during the runs | errors |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const runner of result.runners) {
    const runs = result.runs.filter((r) => r.id === runner.id);
    const reqs = runs.map((r) => r.reqPerSec);
    const calls = runs.map((r) => r.registryCalls).filter((n): n is number => n !== undefined);
    lines.push(
      `| ${runner.label} | ${runner.load} | ${fmt(median(reqs))} | ${fmt(Math.min(...reqs))}-${fmt(Math.max(...reqs))} | ${fmt(median(runs.map((r) => r.p50Ms)), 2)} | ${fmt(median(runs.map((r) => r.p99Ms)), 2)} | ${fmt(median(runs.map((r) => r.serverCpuPct)))}% | ${fmt(median(runs.map((r) => (r.reqPerSec / r.serverCpuPct) * 100)))} | ${fmt(median(runs.map((r) => r.foreignPct)))}% | ${calls.length ? calls.reduce((s, n) => s + n, 0) : ""} | ${runs.reduce((s, r) => s + r.errors, 0)} |`,
    );
  }
  return lines;
}

function ratioRow(result: SideBySide, a: string, b: string, label: string, goal?: number): string {
  const { reqs, perCpu } = ratios(result, a, b);
  const m = median(reqs);
  const target = goal === undefined ? "" : verdict(m >= goal, `>= ${goal}x`);
  return `| ${label} | ${fmt(m, 2)}x | ${range(reqs)} | ${fmt(median(perCpu), 2)}x | ${target} |`;
}

function throughputSections(report: CacheReport): string[] {
  const lines: string[] = [];
  const { gateway, registry } = report;
  const ratioHeader = [
    "| ratio (per round, median) | measured | range | per server CPU-s | target |",
    "|---|--:|--:|--:|---|",
  ];
  if (gateway) {
    lines.push(
      "## 1. Gateway GET by id, warm cache, vs Express + a Map",
      "",
      `wrk, 1 thread, ${report.options.concurrency} keep-alive connections, \`GET /api/v1/models/{id}\` of the fixture (all three answer the same JSON model). The gateways are the reference deployment's process (\`examples/reference-deployment/src/gateway.ts\`, its defaults, admission control on) in front of the counting registry (memory store), both on the server core; their CPU includes the registry's. The last column counts the GetModel calls the registry served during the measured runs: a warm cache makes none.`,
      "",
      ...throughputTable(gateway),
      "",
      ...ratioHeader,
      ratioRow(
        gateway,
        "gateway-memory",
        "express-map",
        "gateway (CACHE_URL=memory:) vs Express+JSON from a Map",
        1,
      ),
      ratioRow(gateway, "gateway-off", "express-map", "gateway (CACHE_URL=off) vs Express+JSON from a Map"),
      ratioRow(gateway, "gateway-memory", "gateway-off", "gateway, cache on vs off"),
      "",
    );
  }
  if (registry) {
    lines.push(
      "## 2. Registry GetModel, SQLite store vs memory store",
      "",
      `h2load, 4 connections x ${Math.round(Number(report.options.concurrency) / 4)} streams, the framed GetModelRequest of the fixture; \`createRegistryServer\` as shipped (bench/src/servers/registry.ts) over \`createMemoryStorage()\` and \`createSqliteStorage\` (temp file, WAL, synchronous FULL).`,
      "",
      ...throughputTable(registry),
      "",
      ...ratioHeader,
      ratioRow(registry, "registry-sqlite", "registry-memory", "registry SQLite vs memory store", 0.8),
      "",
    );
  }
  return lines;
}

function protectionSections(report: CacheReport): string[] {
  const lines: string[] = [];
  if (report.breakdown) {
    lines.push(
      "## 3. Breakdown and penetration",
      "",
      "Registry calls counted by a server interceptor in the registry process (`cache-server.ts`, SQLite store); the client with `cache: true` in the bench process (load core).",
      "",
      "| concurrent GetModel of one cold key | process | registry GetModel calls | wrong answers | client cache counters | target |",
      "|--:|---|--:|--:|---|---|",
      ...report.breakdown.map(
        (b) =>
          `| ${fmt(b.concurrent)} | ${b.process === "running" ? "running (watch current before)" : "cold (the client's first reads)"} | ${b.registryCalls} | ${b.wrongAnswers} | ${cacheCell(b.cache)} | ${verdict(b.registryCalls === 1, "exactly 1")} |`,
      ),
      "",
    );
  }
  const pen = report.penetration;
  if (pen) {
    lines.push(
      "| reads of unknown keys (256 in flight) | pass | registry calls | NOT_FOUND | found | ms | client cache counters | target |",
      "|---|---|--:|--:|--:|--:|---|---|",
      ...pen.getModel.map(
        (x, i) =>
          `| GetModel, random unknown ids | ${x.pass} | ${fmt(x.registryCalls)} | ${fmt(x.notFound)} | ${x.found} | ${fmt(x.ms)} | ${cacheCell(x.cache)} | ${i === 0 ? verdict(x.registryCalls <= x.reads, `<= ${fmt(x.reads)}`) : zeroVerdict(x.registryCalls, x.cache)} |`,
      ),
      ...pen.lookup.map(
        (x, i) =>
          `| LookupModel, unknown (name, version) | ${x.pass} | ${fmt(x.registryCalls)} | ${fmt(x.notFound)} | ${x.found} | ${fmt(x.ms)} | ${cacheCell(x.cache)} | ${i === 0 ? verdict(x.registryCalls <= x.reads, `<= ${fmt(x.reads)}`) : i === 1 ? zeroVerdict(x.registryCalls, x.cache) : verdict(x.found === 1 && x.registryCalls <= 1, "the created one found, <= 1 call")} |`,
      ),
      "",
      `After another client created one of the looked-up (name, version) pairs, this cache found it ${fmt(pen.createdSeenAfterMs, 1)} ms later (the CREATED event evicted its NOT_FOUND entry); the last row's registry calls include the reads made while waiting.`,
      "",
    );
  }
  const redis = report.redis;
  if (redis) {
    lines.push(
      "## 4. Redis killed mid-run",
      "",
      `A private \`redis-server\` (own port, no persistence). Client "filler" with L1 + L2 read all ${fmt(redis.models)} models (L2 filled); client "reader" (L1 of ${fmt(redis.l1MaxBytes)} bytes, so most reads need L2; its own Redis store) reads random ones of them, 16 in flight, through four phases: Redis up; Redis SIGKILLed at the start of the phase; restarted (empty) on the same port at the start of the next; and one more.`,
      "",
      "| phase | ms | reads | failed | registry GetModel calls | reader's cache counters |",
      "|---|--:|--:|--:|--:|---|",
      ...redis.phases.map(
        (ph) =>
          `| ${ph.phase} | ${fmt(ph.ms)} | ${fmt(ph.reads)} | ${ph.failed} | ${fmt(ph.registryCalls)} | ${cacheCell(ph.cache)} |`,
      ),
      "",
      `Failed reads in all: ${redis.phases.reduce((s, ph) => s + ph.failed, 0)} (target 0)${redis.firstError ? `; first failure: ${redis.firstError}` : ""}.`,
      "",
    );
  }
  return lines;
}

function stalenessSections(report: CacheReport): string[] {
  const lines: string[] = [];
  if (report.staleness.length > 0) {
    lines.push(
      "## 5. Staleness",
      "",
      "Client B (`cache-writer.ts`, its own process, no cache) updates a model's metadata; the bench process (A, `cache: true`, watch current, every model cached) polls its cached read of that model (one read per event-loop turn) until it answers the new etag. Time from B's answer to A's first new read (0 when A served it before B had its answer); one write in flight per model, several models at once. Registry poll interval: 250 ms (the default).",
      "",
      "| setup | writes | models at once | p50 ms | p90 ms | p99 ms | max ms | A first | wrong version | A's cache counters | target |",
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
      ...report.staleness.map(
        (s) =>
          `| ${s.setup} | ${fmt(s.writes)} | ${s.lanes} | ${fmt(p(s.sortedMs, 0.5), 1)} | ${fmt(p(s.sortedMs, 0.9), 1)} | ${fmt(p(s.sortedMs, 0.99), 1)} | ${fmt(s.sortedMs.at(-1) ?? Number.NaN, 1)} | ${s.seenBeforeAck} | ${s.wrongVersion} | ${cacheCell(s.cache)} | ${verdict(p(s.sortedMs, 0.99) <= 1000, "p99 <= 1 s")} |`,
      ),
      "",
    );
  }
  for (const s of report.staleness.filter((x) => x.wrongVersion > 0)) {
    const cases = s.wrongVersions.map((w) => `served ${w.old}, then ${w.seen}; B wrote ${w.written}`);
    lines.push(
      `${s.setup}: A answered a version other than the one written ${s.wrongVersion} time(s): ${cases.join("; ")}.`,
      "",
    );
  }
  if (report.tokens.length > 0) {
    lines.push(
      "Consistency token: two reference gateway processes (CACHE_URL=memory:) on one registry (memory store, so the figure is not the disk's); write via A (`POST /api/v1/models/{id}:updateMetadata`), then read via B (`GET /api/v1/models/{id}`), B having every model cached; stale = B's etag differs from the one A answered. One pair in flight per model.",
      "",
      "| read via B | pairs | models at once | stale reads | writes without X-Modelreg-Revision | failed | s | target |",
      "|---|--:|--:|--:|--:|--:|--:|---|",
      ...report.tokens.map(
        (t) =>
          `| ${t.withToken ? "with X-Modelreg-Revision" : "without the token (control)"} | ${fmt(t.pairs)} | ${t.lanes} | ${fmt(t.stale)} | ${fmt(t.missingToken)} | ${t.failed}${t.firstFailure ? ` (${t.firstFailure.slice(0, 120)})` : ""} | ${fmt(t.ms / 1000, 1)} | ${t.withToken ? verdict(t.stale === 0 && t.failed === 0 && t.missingToken === 0, "0 stale") : ""} |`,
      ),
      "",
    );
  }
  return lines;
}

/** Writes `cache.md` and `cache.json` into `dir`; returns the markdown. */
export function writeCacheReport(dir: string, report: CacheReport, name = "cache"): string {
  const m = report.machine;
  const lines = [
    "# Cache layer (issue 16)",
    "",
    `${report.date}, commit ${report.commit}, ${m.cpu} (${m.cores} cores), ${m.memoryGB} GB, ${m.os}, Node ${m.node}, ${m.wrk}, ${m.h2load}; ${m.pinning}; packages from their TypeScript sources (tsx); ${report.seconds} s in all. Reproduce: \`npm run bench:cache\`${report.options.quick ? " -- -- --quick" : ""}.`,
    "",
    `Throughput: ${report.options.rounds} rounds x ${report.options.durationS} s per contender after ${report.options.warmupS} s of warm-up each, contenders interleaved (order rotated each round), ratios taken within each round, median of the rounds.`,
    "",
    ...throughputSections(report),
    ...protectionSections(report),
    ...stalenessSections(report),
  ];
  if (report.skipped.length > 0) {
    lines.push(
      "## Not measured in this run",
      "",
      ...report.skipped.map((s) => `- ${s.part}: ${s.reason}`),
      "",
    );
  }
  const text = lines.join("\n");
  writeFileSync(join(dir, `${name}.md`), `${text}\n`);
  writeFileSync(
    join(dir, `${name}.json`),
    `${JSON.stringify(report, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`,
  );
  return text;
}
