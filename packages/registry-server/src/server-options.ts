import * as grpc from "@grpc/grpc-js";
import { resolveAdmission } from "./admission";
import type { RegistryServerOptions, TlsOptions } from "./server";

/** Throws TypeError for options the server cannot start with, naming the option. */
export function checkServerOptions(options: RegistryServerOptions): void {
  if (!options?.storage) throw new TypeError("createRegistryServer: `storage` is required");
  if (!options.tls && options.insecure !== true) {
    throw new TypeError(
      "createRegistryServer: pass `tls` certificates, or `insecure: true` to serve plaintext",
    );
  }
  const port = options.port ?? 9090;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`createRegistryServer: \`port\` must be an integer from 0 to 65535 (got ${port})`);
  }
  const { responseCacheBytes } = options;
  if (
    responseCacheBytes !== undefined &&
    !(Number.isSafeInteger(responseCacheBytes) && responseCacheBytes >= 0)
  ) {
    throw new TypeError(
      `createRegistryServer: \`responseCacheBytes\` must be a whole number of bytes, 0 or more (got ${responseCacheBytes})`,
    );
  }
  for (const name of ["healthCheckIntervalMs", "healthCheckTimeoutMs"] as const) {
    const ms = options[name];
    if (ms !== undefined && !(Number.isSafeInteger(ms) && ms >= 1 && ms <= 3_600_000)) {
      throw new TypeError(
        `createRegistryServer: \`${name}\` must be a whole number of milliseconds from 1 to 3600000 (got ${ms})`,
      );
    }
  }
  const interceptors: unknown = options.interceptors;
  if (
    interceptors !== undefined &&
    !(Array.isArray(interceptors) && interceptors.every((i) => typeof i === "function"))
  ) {
    throw new TypeError("createRegistryServer: `interceptors` must be an array of functions");
  }
  resolveAdmission(options.admission);
}

/** grpc-js options: message limits, keepalive (accepting the registry client's idle pings), then `grpcOptions`. */
export function grpcServerOptions(options: RegistryServerOptions): grpc.ServerOptions {
  const keepalive = options.keepalive ?? {};
  const optional = (name: string, value: number | undefined) =>
    value === undefined ? {} : { [name]: value };
  return {
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
    "grpc.max_send_message_length": options.maxSendMessageBytes ?? 16 * 1024 * 1024,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs ?? 20_000,
    "grpc.keepalive_permit_without_calls": 1,
    ...optional("grpc.keepalive_time_ms", keepalive.timeMs),
    ...optional("grpc.max_connection_idle_ms", keepalive.maxConnectionIdleMs),
    ...optional("grpc.max_connection_age_ms", keepalive.maxConnectionAgeMs),
    ...optional("grpc.max_connection_age_grace_ms", keepalive.maxConnectionAgeGraceMs),
    ...options.grpcOptions,
  };
}

/** TLS (mutual when `ca` is given, unless `requireClientCert` is false), or plaintext. */
export function serverCredentials(tls: TlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.ca ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.requireClientCert ?? tls.ca !== undefined,
  );
}

/** Binds `server` to `host:port` (an IPv6 host in brackets); resolves with the bound port. */
export function bindGrpcServer(
  server: grpc.Server,
  host: string,
  port: number,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
}

/**
 * Graceful stop of grpc-js: calls in flight get `graceMs` to finish, new
 * ones are refused (UNAVAILABLE); then every connection is closed.
 */
export function drainGrpcServer(
  server: grpc.Server,
  graceMs: number,
  logger: { warn(fields: Record<string, unknown>, message: string): void },
): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      logger.warn({ graceMs }, "calls still running after the grace period; closing connections");
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
