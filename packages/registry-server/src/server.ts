import type { Server as HttpServer } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { getFileDescriptorSet, Health, type Logger, ModelService } from "@modelreg/proto";
import { Admission, type AdmissionOptions, type AdmissionStats, resolveAdmission } from "./admission";
import type { Authorize } from "./authorize";
import { bindModelService } from "./grpc/model-service";
import { addHealthService } from "./health";
import { closeHttpServer, listenHttpHealth } from "./http-health";
import type { ServerInterceptor } from "./interceptors";
import { createDefaultLogger } from "./logger";
import type { AliasPolicy } from "./policy/policy";
import { addReflectionService } from "./reflection";
import {
  bindGrpcServer,
  checkServerOptions,
  drainGrpcServer,
  grpcServerOptions,
  serverCredentials,
} from "./server-options";
import { createModelService } from "./service/model-service";
import type { StreamSettings } from "./service/settings";
import type { StorageAdapter } from "./storage/adapter";
import { StorageHealth } from "./storage-health";

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
  /**
   * Runs before every ModelService call, streams included; refuse with
   * UNAUTHENTICATED / PERMISSION_DENIED, or return the caller's `Principal`
   * for handlers and interceptors to read as `context.principal`.
   */
  authorize?: Authorize;
  /**
   * Wrap every ModelService call, unary and streaming (tracing, metrics,
   * authentication of your own), outermost first. They run inside the
   * server's error policy and `authorize`, so they see the handler's own
   * errors and the principal. Default: none.
   */
  interceptors?: readonly ServerInterceptor[];
  /** Largest request accepted, in bytes. Default 4 MiB. */
  maxReceiveMessageBytes?: number;
  /** Largest response sent, in bytes. Default 16 MiB. */
  maxSendMessageBytes?: number;
  /** Keepalive and connection limits; see {@link KeepaliveOptions}. */
  keepalive?: KeepaliveOptions;
  /**
   * How often storage is pinged to keep health status (gRPC health, `/readyz`)
   * current: between the end of one ping and the next, while SERVING; at
   * least every 100 ms while NOT_SERVING, so readiness returns soon after
   * storage does. Default 250 ms.
   */
  healthCheckIntervalMs?: number;
  /**
   * A ping that takes longer counts as failed: NOT_SERVING. A bound for
   * adapters that have none of their own; the PostgreSQL and MySQL adapters'
   * pings time out sooner (`circuitBreaker.probeTimeoutMs`, 750 ms), so
   * readiness turns NOT_SERVING within ~1 s of the database going silent.
   * Default 1000 ms.
   */
  healthCheckTimeoutMs?: number;
  /** Also serve HTTP `GET /healthz` and `/readyz` on this port (0 picks one). Default: no HTTP server. */
  httpPort?: number;
  /**
   * Bytes of encoded responses kept, per (model id, etag), so a model read
   * repeatedly is encoded once per revision. 0 disables it. Default 8 MiB.
   */
  responseCacheBytes?: number;
  /**
   * Admission control: calls served at once, a short queue, and
   * RESOURCE_EXHAUSTED (with a retry delay) for calls beyond both; see
   * {@link AdmissionOptions}. On by default (64 at once, 64 queued for at
   * most 1000 ms); `false` turns it off.
   */
  admission?: AdmissionOptions | false;
  /** The streaming methods (WatchModels, ImportModels); see {@link StreamOptions}. */
  streams?: StreamOptions;
  /**
   * The promotion policy: protected aliases, and the role and evidence a
   * move of one needs (see {@link AliasPolicy}; `loadAliasPolicy` reads one
   * from a JSON or YAML file). Checked in the move's transaction; refused
   * moves are recorded in the history. Default: no alias is protected.
   */
  aliasPolicy?: AliasPolicy;
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
  /** Calls running and queued now, and refused so far, by admission control; `undefined` when it is off. */
  admissionStats(): AdmissionStats | undefined;
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
  checkServerOptions(options);
  const port = options.port ?? 9090;
  const host = options.host ?? "0.0.0.0";
  const logger = options.logger ?? createDefaultLogger();
  const credentials = serverCredentials(options.tls);
  const server = new grpc.Server(grpcServerOptions(options));
  const service = createModelService(options.storage, options.streams, { aliasPolicy: options.aliasPolicy });
  const limits = resolveAdmission(options.admission);
  const admission = limits && new Admission(limits);
  const { definition, implementation, endWatches } = bindModelService(service, {
    logger,
    authorize: options.authorize,
    interceptors: options.interceptors,
    watchStallTimeoutMs: options.streams?.watchStallTimeoutMs,
    responseCacheBytes: options.responseCacheBytes,
    admission,
  });
  server.addService(definition, implementation);

  const health = addHealthService(server, { "": "NOT_SERVING", [ModelService.typeName]: "NOT_SERVING" });
  const reflection = addReflectionService(server, {
    fileDescriptorSet: getFileDescriptorSet(),
    services: () => [...serviceNames, Health.typeName],
  });

  const storageHealth = new StorageHealth(options.storage, logger, (status) => {
    health.setStatus("", status);
    health.setStatus(ModelService.typeName, status);
  });
  let stopping: Promise<void> | undefined;
  let httpServer: HttpServer | undefined;

  return {
    grpcServer: server,
    admissionStats: () => admission?.stats,

    async listen() {
      logger.info({ port, host }, "gRPC server starting");
      const result: ListenResult = { port: await bindGrpcServer(server, host, port, credentials) };
      await storageHealth.start({
        intervalMs: options.healthCheckIntervalMs ?? 250,
        timeoutMs: options.healthCheckTimeoutMs ?? 1000,
      });
      if (options.httpPort !== undefined) {
        const probes = { ready: () => storageHealth.serving, live: () => !stopping };
        const http = await listenHttpHealth(options.httpPort, host, probes);
        httpServer = http.server;
        result.httpPort = http.port;
      }
      logger.info({ ...result }, "gRPC server listening");
      return result;
    },

    shutdown({ graceMs = 10_000 } = {}) {
      stopping ??= (async () => {
        logger.info({ graceMs }, "gRPC server shutting down");
        storageHealth.stop();
        // Open streams (WatchModels, health Watch, which has just sent
        // NOT_SERVING, and reflection) never end by themselves, and grpc-js's
        // tryShutdown would wait for them: they end now, and clients resume
        // them on another replica.
        endWatches();
        health.close();
        reflection.close();
        service.close();
        await drainGrpcServer(server, graceMs, logger);
        await closeHttpServer(httpServer);
        logger.info("gRPC server stopped");
      })();
      return stopping;
    },
  };
}
