/** The tables of `npm run bench:overload`: results/overload.md and results/overload.json. */
import { writeFileSync } from "node:fs";
import { median } from "./load/stats";
import type { Pinning, Row } from "./overload";

interface Meta {
  startedAt: Date;
  seconds: number;
  pinning: Pinning;
  unloaded: number;
  overload: number;
  durationMs: number;
  packages: string;
  machine: string;
  commit: string;
  limits: { registry: string; gateway: string };
}

const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : "-");
const pct = (part: number, whole: number) => (whole === 0 ? "-" : `${((part / whole) * 100).toFixed(1)}%`);
const ratio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : "-");
const failedCount = (row: Row) => Object.values(row.load.failed).reduce((a, b) => a + b, 0);

/** The nominal-load row of the same round, path and admission, whose p99 the others are compared with. */
function nominalOf(rows: readonly Row[], row: Row, unloaded: number): Row | undefined {
  return rows.find(
    (r) =>
      r.round === row.round &&
      r.path === row.path &&
      r.admission === row.admission &&
      r.clients === unloaded &&
      r.onRefusal === "wait",
  );
}

const pathName = { gateway: "HTTP via gateway", grpc: "gRPC to registry" } as const;

function detailTable(rows: readonly Row[], meta: Meta): string[] {
  return [
    "| round | path | admission | clients | on refusal | admitted/s | admitted p50 | admitted p99 | p99 vs unloaded | refused | refuse p50 | refuse p99 | failed | registry peak RSS | gateway peak RSS | servers' CPU | load CPU | others' CPU |",
    "|--:|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows.map((row) => {
      const { ok, refused } = row.load;
      const nominal = nominalOf(rows, row, meta.unloaded);
      const answers = ok.count + refused.count + failedCount(row);
      return `| ${row.round} | ${pathName[row.path]} | ${row.admission} | ${row.clients.toLocaleString("en-US")} | ${row.onRefusal === "wait" ? "wait Retry-After" : "retry at once"} | ${row.load.okPerSec.toLocaleString("en-US")} | ${ms(ok.p50Ms)} ms | ${ms(ok.p99Ms)} ms | ${ratio(ok.p99Ms / (nominal?.load.ok.p99Ms ?? Number.NaN))} | ${pct(refused.count, answers)} | ${refused.count ? `${ms(refused.p50Ms)} ms` : "-"} | ${refused.count ? `${ms(refused.p99Ms)} ms` : "-"} | ${failedCount(row) ? JSON.stringify(row.load.failed).replaceAll("|", "/") : 0} | ${row.registryPeakRssMb} MB | ${row.gatewayPeakRssMb === undefined ? "-" : `${row.gatewayPeakRssMb} MB`} | ${row.serverCpuPct}% | ${row.load.loadCpuPct}% | ${Math.max(0, row.machineBusyPct - row.serverCpuPct - row.load.loadCpuPct)}% |`;
    }),
  ];
}

/** Medians over rounds of the figures the issue asks for, per path. */
function headline(rows: readonly Row[], meta: Meta): string[] {
  const lines = [
    `| path | unloaded p99 (${meta.unloaded} clients) | on: admitted p99 at ${meta.overload.toLocaleString("en-US")} | vs unloaded | refused | time to refuse p50 / p99 | peak RSS (registry + gateway) | off: p99 at ${meta.overload.toLocaleString("en-US")} | vs unloaded | peak RSS |`,
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const path of ["gateway", "grpc"] as const) {
    const pick = (admission: "on" | "off", clients: number) =>
      rows.filter(
        (r) =>
          r.path === path && r.admission === admission && r.clients === clients && r.onRefusal === "wait",
      );
    const on = pick("on", meta.overload);
    const off = pick("off", meta.overload);
    if (on.length === 0 || off.length === 0) continue;
    const med = (list: Row[], f: (r: Row) => number) => median(list.map(f));
    const vsNominal = (r: Row) =>
      r.load.ok.p99Ms / (nominalOf(rows, r, meta.unloaded)?.load.ok.p99Ms ?? Number.NaN);
    const rss = (r: Row) => r.registryPeakRssMb + (r.gatewayPeakRssMb ?? 0);
    const share = (r: Row) =>
      r.load.refused.count / (r.load.ok.count + r.load.refused.count + failedCount(r));
    lines.push(
      `| ${pathName[path]} | ${ms(med(pick("on", meta.unloaded), (r) => r.load.ok.p99Ms))} ms | ${ms(med(on, (r) => r.load.ok.p99Ms))} ms | **${ratio(med(on, vsNominal))}** | ${(med(on, share) * 100).toFixed(1)}% | ${ms(med(on, (r) => r.load.refused.p50Ms))} / ${ms(med(on, (r) => r.load.refused.p99Ms))} ms | ${Math.round(med(on, rss))} MB | ${ms(med(off, (r) => r.load.ok.p99Ms))} ms | ${ratio(med(off, vsNominal))} | ${Math.round(med(off, rss))} MB |`,
    );
  }
  return lines;
}

export function writeReport(out: string, rows: readonly Row[], meta: Meta): void {
  const conditions = `${meta.startedAt.toISOString()}, commit ${meta.commit} (${meta.packages}), ${meta.machine}; ${meta.pinning.enabled ? meta.pinning.reason : `not pinned (${meta.pinning.reason})`}; each run ${meta.durationMs} ms after a discarded warm-up, ${meta.seconds} s in all.`;
  const lines = [
    "# Overload: admission control on and off",
    "",
    conditions,
    "",
    `GetModel of one model (SQLite store): through the gateway (HTTP/1.1 keep-alive, one connection per client; gateway and registry share the server core) and straight to the registry (gRPC over node:http2, 2 connections). "Unloaded" is ${meta.unloaded} concurrent clients, "overload" ${meta.overload.toLocaleString("en-US")}. A refused client (429 / RESOURCE_EXHAUSTED) waits what the answer says (Retry-After, RetryInfo: 1 s) times a random 0.5-1.5, unless the row says "retry at once". Admission on = registry ${meta.limits.registry === "defaults" ? "defaults (64 calls at once + 64 queued for up to 1 s)" : meta.limits.registry}, gateway ${meta.limits.gateway === "defaults" ? "defaults (64 requests at once + 64 queued for up to 1 s)" : meta.limits.gateway}; off = \`admission: false\`. Latencies are measured by the load process (its own core) from send to the last byte; an answer counts when it arrives in the window, with its whole latency. "p99 vs unloaded" divides by the p99 of the same path and admission at ${meta.unloaded} clients in the same round. CPU columns are % of one core (the machine has ${meta.machine.match(/(\d+) cores/)?.[1] ?? "?"}00%): the servers of the run, the load process, and everything else on the machine ("others": /proc/stat minus the first two). Peak RSS is the largest sample during the run; a process keeps most of what it grew to, so a row after an overload row of the same process shows that peak too.`,
    "",
    "## Headline (median over rounds)",
    "",
    ...headline(rows, meta),
    "",
    "## Every run",
    "",
    ...detailTable(rows, meta),
    "",
  ];
  writeFileSync(`${out}.md`, lines.join("\n"));
  writeFileSync(`${out}.json`, `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  console.log(`\n${lines.join("\n")}\nwritten to ${out}.md and ${out}.json`);
}
