/**
 * A typed-client benchmark process: `client-loop.ts --kind ours|grpcjs
 * --pool N --concurrency C --duration-ms D --warmup-ms W --target host:port
 * [--id ID]`. Keeps C GetModel calls in flight for W ms (discarded), then D
 * ms, and prints one JSON line: calls per second and latency quantiles.
 * It runs pinned to the load core, so it measures the client's own cost.
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { createRegistryClient } from "@modelreg/registry-client";
import { MODEL_ID } from "../fixture";
import { loadModelService } from "../servers/proto-loader";
import { quantile } from "./stats";

const { values } = parseArgs({
  options: {
    kind: { type: "string", default: "ours" },
    pool: { type: "string", default: "1" },
    concurrency: { type: "string", default: "64" },
    "duration-ms": { type: "string", default: "5000" },
    "warmup-ms": { type: "string", default: "1000" },
    target: { type: "string" },
    id: { type: "string", default: MODEL_ID },
  },
});
const target = values.target ?? "";
const id = values.id;
const concurrency = Number(values.concurrency);

type Call = () => Promise<unknown>;
let call: Call;
let close: () => void;

if (values.kind === "ours") {
  const client = createRegistryClient({ target, insecure: true, poolSize: Number(values.pool) });
  call = () => client.getModel({ id });
  close = () => void client.close();
} else {
  // A raw grpc-js channel with proto-loader, the way grpc's examples write a client.
  const ModelService = loadModelService();
  const client = new ModelService(target, grpc.credentials.createInsecure());
  const raw = client as unknown as {
    GetModel(
      request: { id: string },
      callback: (error: grpc.ServiceError | null, response?: { model?: { id: string } }) => void,
    ): void;
  };
  const getModel = raw.GetModel.bind(raw);
  call = () =>
    new Promise((resolve, reject) =>
      getModel({ id }, (error, response) => (error ? reject(error) : resolve(response?.model))),
    );
  close = () => client.close();
}

async function run(durationMs: number, record: boolean) {
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  const end = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      try {
        await call();
        ok++;
        if (record) latencies.push(performance.now() - start);
      } catch {
        errors++;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, errors, elapsedMs: performance.now() - started, latencies };
}

// The first call also checks the answer, so a broken client cannot post a figure.
const first = (await call()) as { id?: string } | undefined;
if (first?.id !== id) throw new Error(`GetModel answered ${JSON.stringify(first)}`);
await run(Number(values["warmup-ms"]), false);
// The parent reads the server's CPU time at these two marks.
process.send?.({ type: "measure", phase: "start" });
const cpuBefore = process.cpuUsage();
const { ok, errors, elapsedMs, latencies } = await run(Number(values["duration-ms"]), true);
const cpu = process.cpuUsage(cpuBefore);
process.send?.({ type: "measure", phase: "end" });
latencies.sort((a, b) => a - b);
close();
process.stdout.write(
  `${JSON.stringify({
    reqPerSec: (ok / elapsedMs) * 1000,
    ok,
    errors,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    check: `first answer's id checked; ${errors} calls rejected`,
    clientCpuPct: ((cpu.user + cpu.system) / (elapsedMs * 1000)) * 100,
  })}\n`,
);
process.exit(0);
