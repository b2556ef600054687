// `modelreg gateway`: the API Gateway, REST/JSON on --host:--port (127.0.0.1:8080), every call
// forwarded over gRPC to the registry at --registry, reads served from a cache kept exact by the
// registry's change feed (--cache-url).
import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import {
  type CacheOptions,
  createRegistryClient,
  type RegistryClient,
  type SharedCacheStore,
} from "@modelreg/registry-client";
import { createRedisCacheStore } from "@modelreg/registry-client/redis";
import type { Logger } from "pino";
import type { CliIo } from "../context";
import { CliError } from "../errors";
import { ExitCode } from "../exit-codes";
import { appOf, type GatewayAdmission, listen } from "./gateway-http";
import { serverLogger } from "./logger";
import {
  ConfigError,
  flagNames,
  integer,
  logLevel,
  logLevelOption,
  type OptionNames,
  type OptionSpec,
  type ResolvedOptions,
  readableFile,
  resolveOptions,
  text,
  type ValueParser,
} from "./options";

/** The web page's title: text of up to 200 characters (what the page's middleware takes). */
const uiTitle: ValueParser<string | undefined> = (raw, name, cwd) => {
  const value = text(raw, name, cwd);
  if (value !== undefined && value.length > 200) {
    throw new ConfigError(`${name} must be at most 200 characters (got ${value.length})`);
  }
  return value;
};

/** Every option of `modelreg gateway`: flag, environment variable, default, check. */
export const gatewayOptionSpecs = {
  port: {
    flags: "--port <port>",
    env: "GATEWAY_PORT",
    description: "HTTP port (0 picks a free one)",
    fallback: 8080,
    parse: integer(0, 65535),
  },
  host: {
    flags: "--host <host>",
    env: "GATEWAY_HOST",
    description: "HTTP listen address; only this machine can connect unless you say otherwise",
    fallback: "127.0.0.1",
    parse: text,
  },
  registry: {
    flags: "--registry <address>",
    env: "REGISTRY_ADDRESS",
    description: "the registry, host:port; replicas as a comma-separated list",
    fallback: "localhost:9090",
    parse: text,
  },
  poolSize: {
    flags: "--pool-size <n>",
    env: "REGISTRY_POOL_SIZE",
    description: "gRPC connections per replica",
    fallback: 2,
    parse: integer(1, 64),
  },
  keepaliveMs: {
    flags: "--keepalive-ms <ms>",
    env: "REGISTRY_KEEPALIVE_MS",
    description: "keepalive ping interval (20 s timeout, also when idle)",
    fallback: 10_000,
    parse: integer(1000, 3_600_000),
  },
  timeoutMs: {
    flags: "--timeout-ms <ms>",
    env: "REGISTRY_TIMEOUT_MS",
    description: "deadline of each call (a Grpc-Timeout header can shorten it)",
    fallback: 30_000,
    parse: integer(100, 600_000),
  },
  registryTlsCaFile: {
    flags: "--registry-tls-ca-file <file>",
    env: "REGISTRY_TLS_CA_FILE",
    description: "PEM CA of the registry's certificate: TLS to the registry",
    parse: readableFile,
  },
  registryTlsCertFile: {
    flags: "--registry-tls-cert-file <file>",
    env: "REGISTRY_TLS_CERT_FILE",
    description: "PEM client certificate for mutual TLS to the registry",
    parse: readableFile,
  },
  registryTlsKeyFile: {
    flags: "--registry-tls-key-file <file>",
    env: "REGISTRY_TLS_KEY_FILE",
    description: "PEM private key of --registry-tls-cert-file",
    parse: readableFile,
  },
  maxConcurrentRequests: {
    flags: "--max-concurrent-requests <n>",
    env: "GATEWAY_MAX_CONCURRENT_REQUESTS",
    description: "admission control: requests served at once (watches not counted); 0 turns it off",
    fallback: 64,
    parse: integer(0, 1_000_000),
  },
  maxQueuedRequests: {
    flags: "--max-queued-requests <n>",
    env: "GATEWAY_MAX_QUEUED_REQUESTS",
    description: "requests that may wait for a slot",
    fallback: 64,
    parse: integer(0, 1_000_000),
  },
  maxQueueWaitMs: {
    flags: "--max-queue-wait-ms <ms>",
    env: "GATEWAY_MAX_QUEUE_WAIT_MS",
    description: "how long a request may wait for a slot (then 429 with Retry-After: 1)",
    fallback: 1000,
    parse: integer(1, 600_000),
  },
  shutdownGraceMs: {
    flags: "--shutdown-grace-ms <ms>",
    env: "SHUTDOWN_GRACE_MS",
    description: "how long requests in flight may finish after SIGTERM (watch streams end at once)",
    fallback: 10_000,
    parse: integer(0, 600_000),
  },
  cacheUrl: {
    flags: "--cache-url <url>",
    env: "CACHE_URL",
    description: "read cache: memory: (in process), redis://[[user]:password@]host[:port][/db] (shared), off",
    fallback: "memory:",
    parse: text,
  },
  uiTitle: {
    flags: "--ui-title <title>",
    env: "MODELREG_UI_TITLE",
    description: "the web page's title (header and browser tab), up to 200 characters",
    fallback: "modelreg",
    parse: uiTitle,
  },
  logLevel: logLevelOption,
} as const satisfies Record<string, OptionSpec>;

/** The settings of {@link serveGateway}; each is the flag of the same name (defaults as `modelreg gateway`). */
export interface GatewayServeOptions {
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  /** The registry's address (`--registry`, `REGISTRY_ADDRESS`). */
  readonly registry?: string | undefined;
  readonly poolSize?: number | undefined;
  readonly keepaliveMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
  readonly registryTlsCaFile?: string | undefined;
  readonly registryTlsCertFile?: string | undefined;
  readonly registryTlsKeyFile?: string | undefined;
  readonly maxConcurrentRequests?: number | undefined;
  readonly maxQueuedRequests?: number | undefined;
  readonly maxQueueWaitMs?: number | undefined;
  readonly shutdownGraceMs?: number | undefined;
  readonly cacheUrl?: string | undefined;
  readonly logLevel?: string | undefined;
  /** The web page's title (`--ui-title`). */
  readonly uiTitle?: string | undefined;
  /** `false`: no web page at `/` (`--no-ui`, `MODELREG_UI=false`, config `ui: false`). Default true. */
  readonly ui?: boolean | undefined;
  /** How messages name each setting (the command passes the flag or variable a value came from). */
  readonly names?: Partial<OptionNames<keyof typeof gatewayOptionSpecs>> | undefined;
  /** The logger (default: pino JSON lines on io.stdout at logLevel). */
  readonly logger?: Logger | undefined;
}

/** A started gateway: where it listens, and how to stop it. */
export interface RunningGateway {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  readonly logger: Logger;
  /**
   * Stops accepting requests, ends open watch streams, lets the other
   * requests in flight finish (for up to shutdownGraceMs, then their
   * connections are closed), closes the client and the shared cache store.
   */
  stop(): Promise<void>;
}

type Resolved = ResolvedOptions<typeof gatewayOptionSpecs>;

/** Where the gateway's read cache lives: in process, in process plus Redis, or nowhere. */
export type CacheSetting =
  | { readonly kind: "memory" }
  | { readonly kind: "redis"; readonly url: string; readonly where: string }
  | { readonly kind: "off" };

/**
 * A cache URL: `memory:`, `redis://host[:port][/db]` or `rediss://...`, or
 * `off`. A bad value is a ConfigError naming `name`, never repeating a password.
 */
export function parseCacheUrl(raw: string, name = "CACHE_URL"): CacheSetting {
  if (raw === "memory:") return { kind: "memory" };
  if (raw === "off") return { kind: "off" };
  const expected = `${name} must be memory:, off, or redis://[[user]:password@]host[:port][/db]`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${expected} (got a value that is not a URL)`);
  }
  const shown = `${url.protocol}//${url.host}${url.pathname}`;
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConfigError(`${expected} (got the scheme "${url.protocol}")`);
  }
  if (url.hostname === "") throw new ConfigError(`${expected} (got no host)`);
  if (!/^(?:\/?|\/\d{1,2})$/.test(url.pathname) || url.search !== "" || url.hash !== "") {
    throw new ConfigError(`${expected}: the path is a database number, nothing follows it (got ${shown})`);
  }
  return { kind: "redis", url: raw, where: shown };
}

/** The client's cache: in process (L1), plus Redis shared by every gateway (L2), or none. */
function cacheOf(setting: CacheSetting, logger: Logger): CacheOptions | undefined {
  if (setting.kind === "off") return undefined;
  const cacheLogger = logger.child({ component: "cache" });
  if (setting.kind === "memory") return { logger: cacheLogger };
  return { logger: cacheLogger, shared: createRedisCacheStore({ url: setting.url, logger: cacheLogger }) };
}

/** The client of the registry, and its cache's shared store, if any. */
function clientOf(
  o: Resolved,
  cacheSetting: CacheSetting,
  logger: Logger,
): { client: RegistryClient; shared: SharedCacheStore | undefined } {
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  const [ca, cert, key] = [
    read(o.registryTlsCaFile),
    read(o.registryTlsCertFile),
    read(o.registryTlsKeyFile),
  ];
  const cache = cacheOf(cacheSetting, logger);
  const client = createRegistryClient({
    target: o.registry,
    ...(ca || cert
      ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } }
      : { insecure: true }),
    poolSize: o.poolSize,
    keepalive: { timeMs: o.keepaliveMs },
    defaultTimeoutMs: o.timeoutMs,
    ...(cache ? { cache } : {}),
  });
  logger.info(
    { cache: cacheSetting.kind, ...(cacheSetting.kind === "redis" ? { redis: cacheSetting.where } : {}) },
    cacheSetting.kind === "off" ? "read cache off" : "read cache on",
  );
  return { client, shared: cache?.shared };
}

/**
 * Logs `Connected to Model Registry gRPC service` as soon as a connection
 * to the registry is READY (again after it was lost), and a warning every
 * 5 s while none is. Returns the function that stops it.
 */
function watchRegistry(client: RegistryClient, address: string, logger: Logger): () => void {
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const warnUntilReady = () => {
    timer = setInterval(() => {
      attempt++;
      logger.warn(
        { address, attempt, channels: client.channels() },
        "Model Registry not reachable yet; retrying",
      );
    }, 5000);
    timer.unref();
  };
  const stop = client.onReadyChange((ready) => {
    clearInterval(timer);
    if (ready) {
      logger.info({ address, channels: client.channels() }, "Connected to Model Registry gRPC service");
    } else {
      logger.warn({ address }, "Lost the connection to the Model Registry; reconnecting");
      warnUntilReady();
    }
  });
  warnUntilReady();
  return () => {
    clearInterval(timer);
    stop();
  };
}

/** Every option checked (under its name) and defaulted. */
export function resolveGatewayOptions(options: GatewayServeOptions, cwd: string): Resolved {
  return resolveOptions(
    gatewayOptionSpecs,
    options,
    { ...flagNames(gatewayOptionSpecs), ...options.names },
    cwd,
  );
}

/**
 * Starts the API Gateway as `modelreg gateway` does. It serves at once,
 * also while the registry is down (503 for registry calls, answered without
 * waiting), and logs when the first connection to the registry is READY.
 * Start failures are logged (error level) and rethrown; a bad setting is a
 * {@link ConfigError}.
 */
export async function serveGateway(options: GatewayServeOptions, io: CliIo): Promise<RunningGateway> {
  const names = { ...flagNames(gatewayOptionSpecs), ...options.names };
  const logger =
    options.logger ??
    serverLogger("gateway", logLevel(options.logLevel ?? "info", names.logLevel, io.cwd), io);
  try {
    const o = resolveGatewayOptions(options, io.cwd);
    const cacheSetting = parseCacheUrl(o.cacheUrl, names.cacheUrl);
    const admission: GatewayAdmission =
      o.maxConcurrentRequests === 0
        ? false
        : {
            maxConcurrentRequests: o.maxConcurrentRequests,
            maxQueuedRequests: o.maxQueuedRequests,
            maxQueueWaitMs: o.maxQueueWaitMs,
          };
    const { client, shared } = clientOf(o, cacheSetting, logger);
    const failed = async (what: string, error: unknown) => {
      client.close();
      await shared?.close().catch(() => {});
      return new CliError(`${what}: ${(error as Error).message}`, ExitCode.FAILURE, { cause: error });
    };
    let app: ReturnType<typeof appOf>;
    try {
      // Before listening: a missing prebuilt page is not a port problem.
      app = appOf(client, logger, admission, options.ui === false ? false : { title: o.uiTitle });
    } catch (error) {
      throw await failed("the gateway cannot start", error);
    }
    let server: Server;
    try {
      server = await listen(app, o.port, o.host, logger);
    } catch (error) {
      throw await failed(`the gateway cannot listen on ${o.host}:${o.port}`, error);
    }
    logger.info({ address: o.registry }, "Connecting to Model Registry gRPC service...");
    return running(o, logger, server, client, shared, watchRegistry(client, o.registry, logger));
  } catch (error) {
    if (error instanceof CliError) logger.error(error.message);
    else logger.error({ err: error }, "the gateway could not start");
    throw error;
  }
}

/**
 * The sockets of the open watch streams (`GET /api/v1/models:watch`): they
 * never end by themselves, and a server's close waits for them.
 */
function watchSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (!/:watch(?:\?|$)/.test(req.url ?? "")) return;
    sockets.add(req.socket);
    res.once("close", () => sockets.delete(req.socket));
  });
  return sockets;
}

function running(
  o: Resolved,
  logger: Logger,
  server: Server,
  client: RegistryClient,
  shared: SharedCacheStore | undefined,
  stopWatching: () => void,
): RunningGateway {
  const bound = server.address();
  const port = typeof bound === "object" && bound ? bound.port : o.port;
  const watches = watchSockets(server);
  let stopped: Promise<void> | undefined;
  return {
    host: o.host,
    port,
    url: `http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${port}`,
    logger,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        stopWatching();
        // Requests that do not finish within the grace period have their connections closed.
        const cutOff = setTimeout(() => {
          logger.warn(
            { graceMs: o.shutdownGraceMs },
            "requests still in flight after the grace period: closed",
          );
          server.closeAllConnections();
        }, o.shutdownGraceMs);
        server.close(() => {
          clearTimeout(cutOff);
          client.close();
          // Bounded: the store's commands (QUIT too) time out after its commandTimeoutMs.
          const closed = shared ? shared.close() : Promise.resolve();
          closed
            .catch((error: unknown) =>
              logger.warn({ err: { message: (error as Error).message } }, "cache store not closed cleanly"),
            )
            .finally(() => {
              logger.info("gateway stopped");
              resolve();
            });
        });
        server.closeIdleConnections();
        // Watchers reconnect (to another gateway): their streams end now, as the registry's do.
        if (watches.size > 0) logger.info({ watches: watches.size }, "ending open watch streams");
        for (const socket of watches) socket.destroy();
      });
      return stopped;
    },
  };
}
