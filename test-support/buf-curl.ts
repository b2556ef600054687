// Runs `buf curl` against a test server: a gRPC client that is not grpc-js
// (connect-go's gRPC protocol, the schema resolved through server reflection
// with Go's protodesc, as grpcurl does). The binary comes with the
// `@bufbuild/buf` devDependency, so `npm install` / `npm ci` always has it.
import { spawn } from "node:child_process";
import { resolve } from "node:path";

/** `<repo root>/node_modules/.bin/buf`; this file is `<root>/test-support/buf-curl.ts`. */
export const bufBinary = resolve(import.meta.dirname, "../node_modules/.bin/buf");

/** What a `buf curl` run printed and how it exited. */
export interface BufCurlResult {
  /**
   * Exit code: 0 ok; below 8 a usage, connection or schema error; otherwise
   * the gRPC status code shifted three bits left (see {@link exitCodeFor}).
   */
  code: number;
  /** The response messages as JSON (pretty-printed), or `--list-*` output. */
  stdout: string;
  /** Errors: for a gRPC status, a JSON object `{code, message, details}`. */
  stderr: string;
}

/** The exit code `buf curl` ends with when the call fails with gRPC status `code`. */
export const exitCodeFor = (code: number): number => code << 3;

/** Options of {@link runBufCurl}. */
export interface BufCurlOptions {
  /** Text for the process's stdin (for `-d @-`). */
  stdin?: string;
  /** Kill the process after this many milliseconds (default 30 000); the result then has code -1. */
  timeoutMs?: number;
}

/**
 * Runs `buf curl --protocol grpc --http2-prior-knowledge ...args` and
 * resolves with its exit code and output; `args` are the remaining flags,
 * then the URL, e.g. `["--list-methods", "http://127.0.0.1:50051"]` or
 * `["-d", '{"id":"x"}', "http://127.0.0.1:50051/modelregistry.v1.ModelService/GetModel"]`.
 * Asynchronous, so a server in the same process keeps answering.
 */
export function runBufCurl(args: readonly string[], options: BufCurlOptions = {}): Promise<BufCurlResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bufBinary, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      // Plain text logs (for -v), whatever the developer's BUF_LOG_FORMAT.
      env: { ...process.env, BUF_LOG_FORMAT: "text" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      stderr += `\n[runBufCurl: killed after ${timeoutMs} ms]`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}
