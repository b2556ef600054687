import { type Pinning, pinned, runCapturing } from "../proc";
import type { LoadResult } from "./stats";

/** GETs `url` once and checks a 200 with a JSON body naming `expectId`. */
export async function probeHttp(url: string, expectId: string): Promise<void> {
  const response = await fetch(url);
  const body = (await response.json()) as { id?: string };
  if (response.status !== 200 || body.id !== expectId) {
    throw new Error(`${url}: HTTP ${response.status}, body ${JSON.stringify(body).slice(0, 200)}`);
  }
}

const toMs = (value: string, unit: string): number =>
  Number(value) * (unit === "us" ? 0.001 : unit === "ms" ? 1 : unit === "s" ? 1000 : Number.NaN);

/** Runs wrk (one thread, keep-alive connections) and reads its summary and latency distribution. */
export async function runWrk(
  pinning: Pinning,
  options: { url: string; durationS: number; connections: number; expectId: string },
): Promise<LoadResult> {
  await probeHttp(options.url, options.expectId);
  const [command, args] = pinned(pinning, "load", "wrk", [
    "-t1",
    `-c${options.connections}`,
    `-d${options.durationS}s`,
    "--latency",
    options.url,
  ]);
  const output = await runCapturing(command, args, "wrk");
  const match = (pattern: RegExp) => {
    const found = pattern.exec(output);
    if (!found) throw new Error(`unexpected wrk output (${pattern}):\n${output}`);
    return found;
  };
  const total = Number(match(/(\d+) requests in/)[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrorCount = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const p50 = match(/\s50%\s+([\d.]+)(us|ms|s)/);
  const p99 = match(/\s99%\s+([\d.]+)(us|ms|s)/);
  await probeHttp(options.url, options.expectId);
  return {
    reqPerSec: Number(match(/Requests\/sec:\s+([\d.]+)/)[1]),
    ok: total - non2xx,
    errors: non2xx + socketErrorCount,
    p50Ms: toMs(p50[1] as string, p50[2] as string),
    p99Ms: toMs(p99[1] as string, p99[2] as string),
    check: `HTTP 200 + body id before and after; ${non2xx} non-2xx, ${socketErrorCount} socket errors`,
  };
}
