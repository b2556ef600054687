import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { getFileDescriptorSet, Health, ModelService } from "@modelreg/proto";
import { type Authorize, bindModelService } from "./grpc-service";
import { addHealthService } from "./health";
import { createDefaultLogger, type Logger } from "./logger";
import { addReflectionService } from "./reflection";
import { ModelServiceHandlers, type StreamSettings } from "./service";
import type { StorageAdapter } from "./storage/adapter";

/** TLS material for the gRPC port. */
export interface TlsOptions {
  /** PEM certificate chain of the server. */
  cert: Buffer;
  /** PEM private key of the server. */
  key: Buffer;
  /** PEM CA certificates to verify client certificates with (mutual TLS). */
  ca?: Buffer;
  /** Refuse clients without a certificate signed by `ca`. Default: true when `ca` is given. */
  requireClientCert?: boolean;
}

/** Options for {@link createRegistryServer}. */
export interface RegistryServerOptions {
  /** Where models are stored: `createMemoryStorage()`, `createSqliteStorage(...)` or your own adapter. The server does not close it. */
  storage: StorageAdapter;
  /** Interface to listen on. Default `0.0.0.0`. */
  host?: string;
  /** gRPC port. Default 9090; 0 picks a free port (see `listen()`'s result). */
  port?: number;
  /** TLS for the gRPC port. Either this or `insecure: true` must be given. */
  tls?: TlsOptions;
  /** Serve plaintext gRPC (development, or behind a TLS-terminating proxy). */
  insecure?: boolean;
  /** A pino-compatible logger. Default: JSON lines on stdout at `LOG_LEVEL` (info). */
  logger?: Logger;
  /** Runs before every ModelService call; refuse with UNAUTHENTICATED / PERMISSION_DENIED. */
  authorize?: Authorize;
  /** Largest request accepted, in bytes. Default 4 MiB. */
  maxReceiveMessageBytes?: number;
  /** Largest response sent, in bytes. Default 16 MiB. */
  maxSendMessageBytes?: number;
  /** Keepalive and connection limits; see {@link KeepaliveOptions}. */
  keepalive?: KeepaliveOptions;
  /** How often the storage is pinged to keep health status current. Default 5000 ms. */
  healthCheckIntervalMs?: number;
  /** Also serve HTTP `GET /healthz` and `/readyz` on this port (0 picks one). Default: no HTTP server. */
  httpPort?: number;
  /**
   * Bytes of encoded responses kept, per (model id, etag), so a model read
   * repeatedly is encoded once per revision. 0 disables it. Default 8 MiB.
   */
  responseCacheBytes?: number;
  /** The streaming methods (WatchModels, ImportModels); see {@link StreamOptions}. */
  streams?: StreamOptions;
  /** Extra grpc-js server options, applied last. */
  grpcOptions?: grpc.ServerOptions;
}

/** Tuning of WatchModels and ImportModels. */
export interface StreamOptions extends StreamSettings {
  /**
   * How long a watcher may leave the transport's buffers full (not reading)
   * before its watch ends with RESOURCE_EXHAUSTED. Memory per watch stays
   * bounded meanwhile: changes are read from storage only as fast as they
   * are sent. Default 30 000 ms.
   */
  watchStallTimeoutMs?: number;
}

/** Keepalive settings. The defaults accept the registry client's pings (every 10 s, also when idle). */
export interface KeepaliveOptions {
  /** Server-to-client ping interval. Default 2 hours (grpc-js default). */
  timeMs?: number;
  /** How long to wait for a ping answer before closing the connection. Default 20 s. */
  timeoutMs?: number;
  /** Close connections idle for this long. Default: never. */
  maxConnectionIdleMs?: number;
  /** Close connections older than this (spreads load after scaling out). Default: never. */
  maxConnectionAgeMs?: number;
  /** Grace period for calls on a connection closed for its age. Default: unlimited. */
  maxConnectionAgeGraceMs?: number;
}

/** Where a started server listens. */
export interface ListenResult {
  /** The bound gRPC port. */
  port: number;
  /** The bound HTTP health port, when `httpPort` was given. */
  httpPort?: number;
}

/** A registry server; see {@link createRegistryServer}. */
export interface RegistryServer {
  /** Binds and starts serving. Resolves with the bound ports. Call once. */
  listen(): Promise<ListenResult>;
  /**
   * Graceful stop: health turns NOT_SERVING, open watches end with
   * UNAVAILABLE (clients resume elsewhere), new calls are refused with
   * UNAVAILABLE, calls in flight get `graceMs` (default 10 s) to finish,
   * then every connection is closed. Safe to call twice.
   */
  shutdown(options?: { graceMs?: number }): Promise<void>;
  /** The grpc-js server, to add your own services before `listen()`. */
  readonly grpcServer: grpc.Server;
}

const serviceNames = [ModelService.typeName];

/**
 * Creates the Model Registry gRPC server: ModelService over `storage`, plus
 * `grpc.health.v1` health checks and server reflection (v1 and v1alpha)
 * that grpcurl can use.
 *
 * ```ts
 * const server = createRegistryServer({ storage: createMemoryStorage(), insecure: true, port: 0 });
 * const { port } = await server.listen();
 * ```
 */
export function createRegistryServer(options: RegistryServerOptions): RegistryServer {
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
  const logger = options.logger ?? createDefaultLogger();
  const host = options.host ?? "0.0.0.0";
  const keepalive = options.keepalive ?? {};
  const grpcOptions: grpc.ServerOptions = {
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
    "grpc.max_send_message_length": options.maxSendMessageBytes ?? 16 * 1024 * 1024,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs ?? 20_000,
    "grpc.keepalive_permit_without_calls": 1,
    ...(keepalive.timeMs === undefined ? {} : { "grpc.keepalive_time_ms": keepalive.timeMs }),
    ...(keepalive.maxConnectionIdleMs === undefined
      ? {}
      : { "grpc.max_connection_idle_ms": keepalive.maxConnectionIdleMs }),
    ...(keepalive.maxConnectionAgeMs === undefined
      ? {}
      : { "grpc.max_connection_age_ms": keepalive.maxConnectionAgeMs }),
    ...(keepalive.maxConnectionAgeGraceMs === undefined
      ? {}
      : { "grpc.max_connection_age_grace_ms": keepalive.maxConnectionAgeGraceMs }),
    ...options.grpcOptions,
  };

  const server = new grpc.Server(grpcOptions);
  const handlers = new ModelServiceHandlers(options.storage, options.streams);
  const { definition, implementation, endWatches } = bindModelService(handlers, {
    logger,
    authorize: options.authorize,
    watchStallTimeoutMs: options.streams?.watchStallTimeoutMs,
    responseCacheBytes: options.responseCacheBytes,
  });
  server.addService(definition, implementation);

  const health = addHealthService(server, { "": "NOT_SERVING", [ModelService.typeName]: "NOT_SERVING" });
  addReflectionService(server, {
    fileDescriptorSet: getFileDescriptorSet(),
    services: () => [...serviceNames, Health.typeName],
  });

  let serving = false;
  let stopping: Promise<void> | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  let httpServer: HttpServer | undefined;

  const setServing = (value: boolean) => {
    if (serving === value) return;
    serving = value;
    const status = value ? "SERVING" : "NOT_SERVING";
    health.setStatus("", status);
    health.setStatus(ModelService.typeName, status);
    logger.info({ status }, "health status changed");
  };

  const checkStorage = async () => {
    try {
      await options.storage.ping();
      if (!stopping) setServing(true);
    } catch (error) {
      if (serving) logger.warn({ err: error }, "storage is unreachable");
      setServing(false);
    }
  };

  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(
        options.tls.ca ?? null,
        [{ cert_chain: options.tls.cert, private_key: options.tls.key }],
        options.tls.requireClientCert ?? options.tls.ca !== undefined,
      )
    : grpc.ServerCredentials.createInsecure();

  return {
    grpcServer: server,

    async listen() {
      logger.info({ port, host }, "gRPC server starting");
      const boundPort = await new Promise<number>((resolve, reject) => {
        server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, credentials, (error, bound) =>
          error ? reject(error) : resolve(bound),
        );
      });
      await checkStorage();
      healthTimer = setInterval(checkStorage, options.healthCheckIntervalMs ?? 5000);
      healthTimer.unref();

      const result: ListenResult = { port: boundPort };
      if (options.httpPort !== undefined) {
        httpServer = createHttpServer((req, res) => {
          const path = req.url?.split("?")[0];
          const ready = path === "/readyz" ? serving : path === "/healthz" ? !stopping : undefined;
          res.setHeader("content-type", "application/json");
          if (ready === undefined || req.method !== "GET") {
            res.writeHead(404).end(JSON.stringify({ error: "not found; try GET /healthz or /readyz" }));
            return;
          }
          res.writeHead(ready ? 200 : 503).end(JSON.stringify({ status: ready ? "SERVING" : "NOT_SERVING" }));
        });
        const http = httpServer;
        result.httpPort = await new Promise<number>((resolve, reject) => {
          http.once("error", reject);
          http.listen(options.httpPort, host, () => {
            const address = http.address();
            resolve(typeof address === "object" && address ? address.port : 0);
          });
        });
      }
      logger.info({ ...result }, "gRPC server listening");
      return result;
    },

    shutdown({ graceMs = 10_000 } = {}) {
      stopping ??= (async () => {
        logger.info({ graceMs }, "gRPC server shutting down");
        if (healthTimer) clearInterval(healthTimer);
        setServing(false);
        // Open watches (WatchModels, and health Watch, which has just sent
        // NOT_SERVING) never end by themselves, and grpc-js's tryShutdown
        // would wait for them: they end now with UNAVAILABLE, and clients
        // resume them on another replica.
        endWatches();
        health.close();
        handlers.close();
        await new Promise<void>((resolve) => {
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
        await new Promise<void>((resolve) => (httpServer ? httpServer.close(() => resolve()) : resolve()));
        logger.info("gRPC server stopped");
      })();
      return stopping;
    },
  };
}
