import { readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { type Pinning, pinned, runCapturing } from "../proc";
import { type LoadResult, quantile } from "./stats";

export interface H2loadOptions {
  url: string;
  /** File holding the framed request message (`h2load -d`, which makes each request a POST). */
  bodyFile: string;
  durationS: number;
  connections: number;
  streamsPerConnection: number;
  logFile: string;
}

/**
 * Calls the gRPC method once with node:http2 and checks the answer the way a
 * gRPC client would: HTTP 200, `grpc-status: 0` in the trailers, one framed
 * message. Returns the number of DATA bytes, which every successful answer
 * to this request must repeat exactly.
 */
export function probeGrpc(url: string, body: Buffer): Promise<number> {
  const { origin, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": pathname,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status = 0;
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    let bytes = 0;
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
      // A trailers-only answer (an error) carries grpc-status in the headers.
      if (headers["grpc-status"] !== undefined) grpcStatus = String(headers["grpc-status"]);
      if (headers["grpc-message"] !== undefined) grpcMessage = String(headers["grpc-message"]);
    });
    stream.on("trailers", (trailers) => {
      grpcStatus = String(trailers["grpc-status"]);
      grpcMessage = String(trailers["grpc-message"] ?? "");
    });
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on("end", () => {
      session.close();
      if (status !== 200 || grpcStatus !== "0" || bytes < 6) {
        reject(
          new Error(`${url}: HTTP ${status}, grpc-status ${grpcStatus} (${grpcMessage}), ${bytes} bytes`),
        );
      } else resolve(bytes);
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

/**
 * Runs h2load against a gRPC method. h2load only knows HTTP statuses, and a
 * failed gRPC call is still HTTP 200, so success is checked on the bytes: a
 * failed call answers trailers-only (no DATA), a good one repeats the
 * probe's DATA bytes exactly. The run counts as clean only if the DATA total
 * equals `succeeded x probe bytes`, and a probe after the run still sees
 * `grpc-status: 0`.
 */
export async function runH2load(pinning: Pinning, options: H2loadOptions, body: Buffer): Promise<LoadResult> {
  const bytesPerAnswer = await probeGrpc(options.url, body);
  rmSync(options.logFile, { force: true });
  const [command, args] = pinned(pinning, "load", "h2load", [
    "-t1",
    `-c${options.connections}`,
    `-m${options.streamsPerConnection}`,
    `-D${options.durationS}`,
    "-d",
    options.bodyFile,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    `--log-file=${options.logFile}`,
    options.url,
  ]);
  const output = await runCapturing(command, args, "h2load");
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(output);
    if (!match?.[1]) throw new Error(`unexpected h2load output (${pattern}):\n${output}`);
    return Number(match[1]);
  };
  const reqPerSec = number(/finished in [\d.]+\w+, ([\d.]+) req\/s/);
  const succeeded = number(/(\d+) succeeded/);
  const failed = number(/(\d+) failed/);
  const errored = number(/(\d+) errored/);
  const dataBytes = number(/\((\d+)\) data/);
  await probeGrpc(options.url, body);

  const durations = readFileSync(options.logFile, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => Number(line.split("\t")[2]) / 1000)
    .sort((a, b) => a - b);
  rmSync(options.logFile, { force: true });
  const answered = Math.round(dataBytes / bytesPerAnswer);
  const clean = dataBytes === succeeded * bytesPerAnswer;
  const grpcErrors = clean ? 0 : Math.max(0, succeeded - answered);
  return {
    reqPerSec,
    ok: succeeded - grpcErrors,
    errors: failed + errored + grpcErrors,
    p50Ms: quantile(durations, 0.5),
    p99Ms: quantile(durations, 0.99),
    check: clean
      ? `DATA ${dataBytes} B = ${succeeded} x ${bytesPerAnswer} B; grpc-status 0 before and after`
      : `DATA ${dataBytes} B != ${succeeded} x ${bytesPerAnswer} B: ~${grpcErrors} calls without a message`,
  };
}
