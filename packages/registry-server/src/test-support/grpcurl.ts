// Runs the shared grpcurl-like client (`<repo root>/../shared/tools/grpcurl.py`,
// Python grpcio + protobuf) against a test server, to check that server
// reflection works for a client that is not grpc-js.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const PYTHON = "/usr/bin/python3";

/** The repository root: this file is `<root>/packages/registry-server/src/test-support/grpcurl.ts`. */
const repoRoot = resolve(import.meta.dirname, "../../../..");

/**
 * Path of grpcurl.py: `MODELREG_GRPCURL_PY` if set, else `../shared/tools/grpcurl.py`
 * beside the repository root (CI clones `shared/` next to the repository).
 */
export const grpcurlScript =
  process.env.MODELREG_GRPCURL_PY ?? resolve(repoRoot, "../shared/tools/grpcurl.py");

/** What a grpcurl.py run printed and how it exited. */
export interface GrpcurlResult {
  /** Exit code: 0 ok, 1 error (connect/reflection/bad input), 2 usage, 64+N for gRPC status N. */
  code: number;
  stdout: string;
  stderr: string;
}

let availability: { available: boolean; reason?: string } | undefined;

/**
 * Whether grpcurl.py can run here: the script exists and Debian's
 * `/usr/bin/python3` imports `grpc` and `google.protobuf`. Checked once.
 */
export function grpcurlAvailability(): { available: boolean; reason?: string } {
  if (availability) return availability;
  if (!existsSync(grpcurlScript)) {
    availability = { available: false, reason: `${grpcurlScript} not found` };
  } else if (!existsSync(PYTHON)) {
    availability = { available: false, reason: `${PYTHON} not found` };
  } else {
    const check = spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    availability =
      check.status === 0
        ? { available: true }
        : {
            available: false,
            reason: `${PYTHON} cannot import grpc and google.protobuf (${(check.stderr || String(check.error ?? "")).trim().split("\n").pop()})`,
          };
  }
  return availability;
}

/** Options of {@link runGrpcurl}. */
export interface GrpcurlOptions {
  /** Text for the process's stdin (for `-d @`). */
  stdin?: string;
  /** Kill the process after this many milliseconds (default 30 000); the result then has code -1. */
  timeoutMs?: number;
}

/**
 * Runs `python3 grpcurl.py -plaintext -strict ...args` and resolves with its
 * exit code and output; `args` are the remaining flags, then `HOST:PORT` and
 * the command, e.g. `["127.0.0.1:50051", "list"]`. Asynchronous, so a server
 * in the same process keeps answering.
 */
export function runGrpcurl(args: readonly string[], options: GrpcurlOptions = {}): Promise<GrpcurlResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, [grpcurlScript, "-plaintext", "-strict", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
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
      stderr += `\n[runGrpcurl: killed after ${options.timeoutMs ?? 30_000} ms]`;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 30_000);
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
