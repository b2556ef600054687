/**
 * The load process of the overload benchmark (`overload.ts`), pinned to the
 * load core: `overload-load.ts --protocol http|grpc --target host:port
 * --concurrency N --duration-ms D --warmup-ms W --on-refusal wait|now`.
 * N virtual clients each repeat GetModel of the fixture (`GET
 * /api/v1/models/{id}` through the gateway, or the gRPC call straight to the
 * registry) for W ms (not recorded), then D ms. A refused answer (429 /
 * RESOURCE_EXHAUSTED) makes its client wait what the answer says
 * (`Retry-After`, RetryInfo) times a random 0.5-1.5 (`wait`), or retry at
 * once (`now`). An answer is recorded when it arrives within the window,
 * with its whole latency (a call may have started before the window).
 * Prints one JSON line ({@link LoadReport}) at the window's end and exits.
 */

import * as http from "node:http";
import { type Agent, request as httpRequest } from "node:http";
import * as http2 from "node:http2";
import { parseArgs } from "node:util";
import { Any, GetModelRequest, RetryInfo, Status } from "@modelreg/proto";
import { MODEL_ID } from "./fixture";
import { quantile } from "./load/stats";

/** Latencies of one kind of answer, in ms. */
export interface Outcome {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What one load run measured. */
export interface LoadReport {
  /** Answers with the model (200 / OK). */
  ok: Outcome;
  /** 429 / RESOURCE_EXHAUSTED answers. */
  refused: Outcome;
  /** Anything else (timeouts, other statuses, socket errors), by status. */
  failed: Record<string, number>;
  /** Answers with the model per second of the window. */
  okPerSec: number;
  /** CPU of this process over the window, in % of one core. */
  loadCpuPct: number;
}

const { values } = parseArgs({
  options: {
    protocol: { type: "string", default: "http" },
    target: { type: "string" },
    concurrency: { type: "string", default: "200" },
    "duration-ms": { type: "string", default: "8000" },
    "warmup-ms": { type: "string", default: "1000" },
    "on-refusal": { type: "string", default: "wait" },
  },
});
const target = values.target ?? "";
const concurrency = Number(values.concurrency);
const durationMs = Number(values["duration-ms"]);
const warmupMs = Number(values["warmup-ms"]);
const waitOnRefusal = values["on-refusal"] === "wait";

/** One answer: `ok`, `refused` (with the delay it asks for, in ms) or a failure's label. */
type Answer = { kind: "ok" } | { kind: "refused"; retryMs: number } | { kind: "failed"; label: string };
type Call = () => Promise<Answer>;

function httpCall(): { call: Call; close: () => void } {
  const agent: Agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const [host, port] = target.split(":");
  const path = `/api/v1/models/${MODEL_ID}`;
  const call: Call = () =>
    new Promise((resolve) => {
      const req = httpRequest({ host, port: Number(port), path, agent }, (res) => {
        let length = 0;
        res.on("data", (chunk: Buffer) => {
          length += chunk.length;
        });
        res.on("end", () => {
          if (res.statusCode === 200 && length > 0) resolve({ kind: "ok" });
          else if (res.statusCode === 429) {
            const seconds = Number(res.headers["retry-after"] ?? "1");
            resolve({ kind: "refused", retryMs: (Number.isFinite(seconds) ? seconds : 1) * 1000 });
          } else resolve({ kind: "failed", label: `HTTP ${res.statusCode}` });
        });
        res.on("error", (error) => resolve({ kind: "failed", label: error.message }));
      });
      req.on("error", (error: NodeJS.ErrnoException) =>
        resolve({ kind: "failed", label: error.code ?? error.message }),
      );
      req.end();
    });
  return { call, close: () => agent.destroy() };
}

/** The delay of a RESOURCE_EXHAUSTED status's RetryInfo, in ms (1000 without one). */
function retryDelayOf(detailsBin: unknown): number {
  if (typeof detailsBin !== "string") return 1000;
  const status = Status.fromBinary(Buffer.from(detailsBin, "base64"));
  const detail = status.details.find((d) => Any.contains(d, RetryInfo));
  const delay = detail && Any.unpack(detail, RetryInfo).retryDelay;
  return delay ? Number(delay.seconds) * 1000 + delay.nanos / 1e6 : 1000;
}

/** A gRPC call's end: its grpc-status (trailers, or headers for a trailers-only answer) and DATA length. */
function grpcAnswer(status: unknown, details: unknown, length: number): Answer {
  if (status === "0") return length > 0 ? { kind: "ok" } : { kind: "failed", label: "no message" };
  if (status === "8") return { kind: "refused", retryMs: retryDelayOf(details) };
  return { kind: "failed", label: `grpc-status ${String(status)}` };
}

/**
 * gRPC over node:http2 directly (2 connections, as the registry client's
 * default pool): far cheaper per call than a grpc-js client, so the load
 * core is not what limits the run.
 */
function grpcCall(): { call: Call; close: () => void } {
  const sessions = [0, 1].map(() => http2.connect(`http://${target}`));
  for (const session of sessions) session.on("error", () => {});
  const message = Buffer.from(GetModelRequest.toBinary({ id: MODEL_ID }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const headers = {
    ":method": "POST",
    ":path": "/modelregistry.v1.ModelService/GetModel",
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": "60S",
  };
  let next = 0;
  const call: Call = () =>
    new Promise((resolve) => {
      const session = sessions[next++ % sessions.length] as http2.ClientHttp2Session;
      const stream = session.request(headers);
      let length = 0;
      let status: unknown;
      let details: unknown;
      const end = (fields: http2.IncomingHttpHeaders) => {
        if (fields["grpc-status"] === undefined) return;
        status = fields["grpc-status"];
        details = fields["grpc-status-details-bin"];
      };
      stream.on("response", end);
      stream.on("trailers", end);
      stream.on("data", (chunk: Buffer) => {
        length += chunk.length;
      });
      stream.on("close", () => resolve(grpcAnswer(status, details, length)));
      stream.on("error", () => {});
      stream.end(frame);
    });
  return {
    call,
    close: () => {
      for (const session of sessions) session.destroy();
    },
  };
}

function outcome(latencies: number[]): Outcome {
  latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    count: latencies.length,
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    maxMs: round(latencies.at(-1) ?? Number.NaN),
  };
}

const { call, close } = values.protocol === "grpc" ? grpcCall() : httpCall();
const first = await call();
if (first.kind !== "ok") throw new Error(`the first GetModel answered ${JSON.stringify(first)}`);

const ok: number[] = [];
const refused: number[] = [];
const failed: Record<string, number> = {};
const started = performance.now();
const windowStart = started + warmupMs;
const windowEnd = windowStart + durationMs;
let cpuAtStart = process.cpuUsage();
setTimeout(() => {
  cpuAtStart = process.cpuUsage();
}, warmupMs);

async function client(): Promise<void> {
  for (;;) {
    const begin = performance.now();
    const answer = await call();
    const done = performance.now();
    if (done >= windowEnd) return; // answers after the window are not counted
    const recorded = done >= windowStart;
    if (answer.kind === "ok") {
      if (recorded) ok.push(done - begin);
    } else if (answer.kind === "refused") {
      if (recorded) refused.push(done - begin);
      if (waitOnRefusal) await new Promise((r) => setTimeout(r, answer.retryMs * (0.5 + Math.random())));
    } else if (recorded) failed[answer.label] = (failed[answer.label] ?? 0) + 1;
  }
}

for (let i = 0; i < concurrency; i++) void client();
await new Promise((r) => setTimeout(r, windowEnd - performance.now()));
const cpu = process.cpuUsage(cpuAtStart);
const report: LoadReport = {
  ok: outcome(ok),
  refused: outcome(refused),
  failed,
  okPerSec: Math.round(ok.length / (durationMs / 1000)),
  loadCpuPct: Math.round(((cpu.user + cpu.system) / 1000 / durationMs) * 100),
};
console.log(JSON.stringify(report));
// Calls still open (the slowest, with admission off) are left to the exit.
close();
process.exit(0);
