/**
 * The cache benchmarks' side-by-side throughput runs (`cache.ts`, parts 1
 * and 2): servers start once on the server core, each contender gets a
 * discarded warm-up, then rounds in which the contenders are interleaved
 * (order rotated each round) and ratios are taken within each round.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixedResponseFrame, GET_MODEL_PATH, getModelRequestFrame, MODEL_ID } from "./fixture";
import { runH2load } from "./load/h2load";
import type { LoadResult } from "./load/stats";
import { runWrk } from "./load/wrk";
import { busyPercent, cpuTimes, type Pinning } from "./proc";
import type { StatsMessage } from "./servers/serve";

/** One contender of a side-by-side run: how to load it and whose CPU it costs. */
export interface Runner {
  readonly id: string;
  readonly label: string;
  readonly load: "wrk" | "h2load";
  readonly port: number;
  /** The processes whose CPU time the contender costs (its own, plus the registry behind a gateway). */
  readonly processes: readonly { stats(): Promise<StatsMessage> }[];
  /** Registry GetModel calls so far (the registry behind it), when known. */
  readonly registryCalls?: () => Promise<number>;
}

/** One measured run of one contender. */
export interface Run extends LoadResult {
  readonly id: string;
  readonly round: number;
  readonly serverCpuPct: number;
  readonly serverRssMB: number;
  /** % of the server core other processes took meanwhile (NaN unpinned). */
  readonly foreignPct: number;
  /** Registry GetModel calls made during the run (a warm cache makes none). */
  readonly registryCalls?: number;
}

export interface SideBySide {
  readonly runners: readonly Runner[];
  readonly runs: Run[];
}

async function measureOnce(
  pinning: Pinning,
  runner: Runner,
  seconds: number,
  dir: string,
  concurrency: number,
): Promise<Omit<Run, "round">> {
  const before = await Promise.all(runner.processes.map((p) => p.stats()));
  const callsBefore = await runner.registryCalls?.();
  const cores = cpuTimes();
  const started = performance.now();
  let result: LoadResult;
  if (runner.load === "wrk") {
    result = await runWrk(pinning, {
      url: `http://127.0.0.1:${runner.port}/api/v1/models/${MODEL_ID}`,
      durationS: seconds,
      connections: concurrency,
      expectId: MODEL_ID,
    });
  } else {
    const bodyFile = join(dir, "get-model-request.bin");
    writeFileSync(bodyFile, getModelRequestFrame());
    result = await runH2load(
      pinning,
      {
        url: `http://127.0.0.1:${runner.port}${GET_MODEL_PATH}`,
        bodyFile,
        durationS: seconds,
        connections: 4,
        streamsPerConnection: Math.max(1, Math.round(concurrency / 4)),
        logFile: join(dir, `${runner.id}.log`),
      },
      getModelRequestFrame(),
    );
  }
  const wallMicros = (performance.now() - started) * 1000;
  const after = await Promise.all(runner.processes.map((p) => p.stats()));
  const callsAfter = await runner.registryCalls?.();
  const cpuMicros = after.reduce((sum, s, i) => sum + s.cpuMicros - (before[i]?.cpuMicros ?? 0), 0);
  const serverCpuPct = (cpuMicros / wallMicros) * 100;
  const serverCore = busyPercent(cores, cpuTimes())[Number(pinning.server)] ?? Number.NaN;
  return {
    id: runner.id,
    ...result,
    serverCpuPct,
    serverRssMB: after.reduce((sum, s) => sum + s.rssBytes, 0) / 2 ** 20,
    foreignPct: pinning.enabled ? Math.max(0, serverCore - serverCpuPct) : Number.NaN,
    ...(callsBefore === undefined || callsAfter === undefined
      ? {}
      : { registryCalls: callsAfter - callsBefore }),
  };
}

/**
 * Warm-up (discarded) for each runner, then `rounds` rounds of every
 * runner, order rotated per round. A run during which other processes took
 * more than `maxForeign` % of the server core is measured again once.
 */
export async function sideBySide(
  pinning: Pinning,
  runners: readonly Runner[],
  options: {
    rounds: number;
    seconds: number;
    warmupS: number;
    concurrency: number;
    maxForeign: number;
    dir: string;
    log: (line: string) => void;
  },
): Promise<SideBySide> {
  const runs: Run[] = [];
  for (const r of runners) await measureOnce(pinning, r, options.warmupS, options.dir, options.concurrency);
  for (let round = 1; round <= options.rounds; round++) {
    const order = runners.map((_, i) => runners[(i + round - 1) % runners.length] as Runner);
    for (const runner of order) {
      let run = await measureOnce(pinning, runner, options.seconds, options.dir, options.concurrency);
      if (run.foreignPct > options.maxForeign) {
        options.log(`  ${runner.id}: others took ${run.foreignPct.toFixed(0)}% of the server core; again`);
        run = await measureOnce(pinning, runner, options.seconds, options.dir, options.concurrency);
      }
      runs.push({ ...run, round });
      options.log(
        `  round ${round}/${options.rounds} ${runner.id.padEnd(16)} ${Math.round(run.reqPerSec).toString().padStart(7)} req/s  p50 ${run.p50Ms.toFixed(2)} ms  p99 ${run.p99Ms.toFixed(2)} ms  server CPU ${run.serverCpuPct.toFixed(0)}%  errors ${run.errors}${run.registryCalls === undefined ? "" : `  registry GetModel calls ${run.registryCalls}`}`,
      );
    }
  }
  return { runners, runs };
}

/** Per round: `a` req/s over `b` req/s (and per server CPU-second). */
export function ratios(result: SideBySide, a: string, b: string): { reqs: number[]; perCpu: number[] } {
  const reqs: number[] = [];
  const perCpu: number[] = [];
  const rounds = new Set(result.runs.map((r) => r.round));
  for (const round of rounds) {
    const ra = result.runs.find((r) => r.round === round && r.id === a);
    const rb = result.runs.find((r) => r.round === round && r.id === b);
    if (!ra || !rb) continue;
    reqs.push(ra.reqPerSec / rb.reqPerSec);
    perCpu.push(ra.reqPerSec / ra.serverCpuPct / (rb.reqPerSec / rb.serverCpuPct));
  }
  return { reqs, perCpu };
}

/** The GetModelResponse bytes every contender answers (for the report). */
export const responseBytes = () => fixedResponseFrame().length - 5;
