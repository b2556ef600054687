import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  type CallOptions,
  type ClientTlsOptions,
  Code,
  createRegistryClient,
  type RegistryClient,
  RegistryError,
} from "@modelreg/registry-client";
import type { CliIo } from "../context";
import { CliInterruptedError, CliUsageError } from "../errors";
import { withInterruption } from "../output";
import type { ClientOptions } from "./options";

/** RFC 6750 token68, as the client checks it: refused here with a usage error that never shows the token. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

function readPem(file: string, option: string, io: CliIo): Buffer {
  try {
    return readFileSync(resolve(io.cwd, file));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new CliUsageError(`${option} ${file}: cannot read it (${reason})`);
  }
}

function tlsOf(options: ClientOptions, io: CliIo): ClientTlsOptions | undefined {
  const { tlsCaFile, tlsCertFile, tlsKeyFile } = options;
  if (!options.tls && !tlsCaFile && !tlsCertFile && !tlsKeyFile) return undefined;
  if (Boolean(tlsCertFile) !== Boolean(tlsKeyFile)) {
    throw new CliUsageError("--tls-cert-file and --tls-key-file go together (mutual TLS needs both)");
  }
  const tls: ClientTlsOptions = {};
  if (tlsCaFile) tls.ca = readPem(tlsCaFile, "--tls-ca-file", io);
  if (tlsCertFile) tls.cert = readPem(tlsCertFile, "--tls-cert-file", io);
  if (tlsKeyFile) tls.key = readPem(tlsKeyFile, "--tls-key-file", io);
  return tls;
}

/**
 * A registry client from the client options: `--registry` (replicas
 * comma-separated), TLS when `--tls` or a TLS file is given (plaintext
 * otherwise), the bearer `--token` on every call, `--timeout` as the
 * deadline of each call. Calls fail fast (no waiting for a connection): a
 * registry that is down answers UNAVAILABLE at once. Close it when done
 * ({@link withClient} does).
 */
export function openClient(options: ClientOptions, io: CliIo): RegistryClient {
  const registry = options.registry.trim();
  if (registry === "") throw new CliUsageError("--registry must name host:port");
  if (/^https?:\/\//i.test(registry)) {
    throw new CliUsageError(
      `--registry takes the registry's gRPC host:port, not a URL (got ${registry}; the REST gateway is not it)`,
    );
  }
  const token = options.token?.trim();
  if (token && !TOKEN68.test(token)) {
    throw new CliUsageError(
      "--token (MODELREG_TOKEN) is not a bearer token: only A-Z a-z 0-9 - . _ ~ + / and trailing = are allowed",
    );
  }
  const tls = tlsOf(options, io);
  return createRegistryClient({
    target: registry,
    ...(tls ? { tls } : { insecure: true }),
    ...(token ? { token } : {}),
    poolSize: 1,
    defaultTimeoutMs: options.timeout,
    waitForReady: false,
    retry: { maxAttempts: 2, initialBackoffMs: 200 },
  });
}

/** The error of a call, with the registry's address in the message when it could not be reached. */
function explained(error: unknown, options: ClientOptions): unknown {
  if (!(error instanceof RegistryError)) return error;
  if (error.code === Code.UNAVAILABLE && !/database/i.test(error.reason ?? "")) {
    return withMessage(error, `cannot reach the registry at ${options.registry}: ${error.message}`);
  }
  if (error.code === Code.DEADLINE_EXCEEDED) {
    return withMessage(
      error,
      `the registry at ${options.registry} did not answer within ${options.timeout} ms (--timeout): ${error.message}`,
    );
  }
  return error;
}

function withMessage(error: RegistryError, message: string): RegistryError {
  return new RegistryError(error.code, message, {
    violations: error.violations,
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    details: error.details,
    cause: error,
  });
}

/**
 * Runs `run` with a client from `options` and the options of each call
 * (deadline, and a signal aborted by SIGINT), then closes the client.
 * SIGINT fails the command with exit code 130, also while its output waits
 * on a full pipe ({@link withInterruption}); an unreachable registry is
 * reported with its address (exit code 4). The SIGINT listener is the
 * process's while `run` runs: a program embedding `runCli` shares it.
 */
export async function withClient<T>(
  options: ClientOptions,
  io: CliIo,
  run: (client: RegistryClient, call: CallOptions) => Promise<T>,
): Promise<T> {
  const client = openClient(options, io);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  try {
    const call = { signal: abort.signal, timeoutMs: options.timeout };
    // SIGINT also ends a write waiting on a full pipe (`modelreg models list --all --ndjson | less`).
    return await withInterruption(abort.signal, () => run(client, call));
  } catch (error) {
    if (abort.signal.aborted) throw new CliInterruptedError();
    throw explained(error, options);
  } finally {
    process.removeListener("SIGINT", onSigint);
    client.close();
  }
}
