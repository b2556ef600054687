// The API Gateway process: REST/JSON on GATEWAY_PORT (8080), every call
// forwarded over gRPC to the registry at REGISTRY_ADDRESS. Stops cleanly on
// SIGINT/SIGTERM, closing its gRPC connections.
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { challengeHeaders, createGatewayMiddleware, errorBody } from "@modelreg/gateway-express";
import {
  type CacheOptions,
  Code,
  createRegistryClient,
  type RegistryClient,
  RegistryError,
  type SharedCacheStore,
} from "@modelreg/registry-client";
import { createRedisCacheStore } from "@modelreg/registry-client/redis";
import express, { type ErrorRequestHandler, type Response } from "express";
import { pino } from "pino";
import { type CacheSetting, ConfigError, envCache, envFile, envInt, envString } from "./env";
import { metricsOf } from "./metrics";

// Asynchronous writes: one line per request must not cost one write(2) each under load (while a
// write is in flight, lines queue and go out together); pino flushes what is queued at exit.
const logger = pino(
  { base: { service: "gateway" }, level: envString("LOG_LEVEL", "info") },
  pino.destination({ dest: 1, sync: false }),
);

/** The largest request body (or NDJSON line) the gateway reads: its default, 1 MiB. */
const maxBodyBytes = 1024 * 1024;

/** What every answer of this process carries, as the gateway's own API answers do. */
const apiHeaders = { "x-content-type-options": "nosniff", "cache-control": "no-store" } as const;

function sendJsonError(res: Response, status: number, error: RegistryError): void {
  res
    .status(status)
    .set({ ...apiHeaders, ...challengeHeaders(status) })
    .json(errorBody(error, status));
}

/** gRPC codes for the HTTP statuses Express's own errors carry (body parsers, bad URLs). */
const codeByStatus: Readonly<Record<number, Code>> = {
  400: Code.INVALID_ARGUMENT,
  401: Code.UNAUTHENTICATED,
  403: Code.PERMISSION_DENIED,
  404: Code.NOT_FOUND,
  408: Code.DEADLINE_EXCEEDED,
  413: Code.INVALID_ARGUMENT,
  415: Code.INVALID_ARGUMENT,
  429: Code.RESOURCE_EXHAUSTED,
};

/**
 * Errors from Express or middleware before the gateway, as the JSON error
 * body: a 4xx keeps its status with the standard reason phrase (never the
 * error's own message, which may be an engine's); anything else is a 500, logged.
 */
const jsonErrorHandler: ErrorRequestHandler = (error: unknown, req, res, next) => {
  if (res.headersSent) return next(error);
  const declared = (error as { status?: unknown; statusCode?: unknown } | null)?.status;
  const status = typeof declared === "number" && declared >= 400 && declared < 500 ? declared : 500;
  if (status === 500) logger.error({ err: error, method: req.method, path: req.path }, "unhandled error");
  const message =
    status === 500 ? "Internal error." : `${STATUS_CODES[status] ?? "Bad request"}: the request was refused.`;
  sendJsonError(res, status, new RegistryError(codeByStatus[status] ?? Code.INTERNAL, message));
};

/**
 * A request node cannot parse (a malformed request line or header, headers
 * too large, a request that took too long) answered with the JSON error
 * body too; node's default is a bare 400 without a body.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === "HPE_HEADER_OVERFLOW" ? 431 : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
  const message =
    status === 431
      ? "The request's headers are too large."
      : status === 408
        ? "The request took too long to arrive."
        : "The request is not valid HTTP/1.1.";
  const body = JSON.stringify(
    errorBody(
      new RegistryError(status === 408 ? Code.DEADLINE_EXCEEDED : Code.INVALID_ARGUMENT, message),
      status,
    ),
  );
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Logs `Connected to Model Registry gRPC service` as soon as a connection
 * to the registry is READY (again after it was lost), and a warning every
 * 5 s while none is. Returns the function that stops it.
 */
function watchRegistry(client: RegistryClient, address: string): () => void {
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

/** Admission control from GATEWAY_MAX_CONCURRENT_REQUESTS (0 turns it off), _MAX_QUEUED_REQUESTS, _MAX_QUEUE_WAIT_MS. */
function admissionFromEnv() {
  const maxConcurrentRequests = envInt("GATEWAY_MAX_CONCURRENT_REQUESTS", 64, 0, 1_000_000);
  if (maxConcurrentRequests === 0) return false as const;
  return {
    maxConcurrentRequests,
    maxQueuedRequests: envInt("GATEWAY_MAX_QUEUED_REQUESTS", 64, 0, 1_000_000),
    maxQueueWaitMs: envInt("GATEWAY_MAX_QUEUE_WAIT_MS", 1000, 1, 600_000),
  };
}

/** The client's cache for CACHE_URL: in process (L1), plus Redis shared by every gateway (L2), or none. */
function cacheOf(setting: CacheSetting): CacheOptions | undefined {
  if (setting.kind === "off") return undefined;
  const cacheLogger = logger.child({ component: "cache" });
  if (setting.kind === "memory") return { logger: cacheLogger };
  return { logger: cacheLogger, shared: createRedisCacheStore({ url: setting.url, logger: cacheLogger }) };
}

/** The client of the registry at `address` (REGISTRY_*, CACHE_URL), and its cache's shared store, if any. */
function clientFromEnv(address: string): { client: RegistryClient; shared: SharedCacheStore | undefined } {
  const ca = envFile("REGISTRY_TLS_CA_FILE");
  const cert = envFile("REGISTRY_TLS_CERT_FILE");
  const key = envFile("REGISTRY_TLS_KEY_FILE");
  const cacheSetting = envCache("CACHE_URL");
  const cache = cacheOf(cacheSetting);
  const client = createRegistryClient({
    target: address,
    ...(ca || cert
      ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } }
      : { insecure: true }),
    poolSize: envInt("REGISTRY_POOL_SIZE", 2, 1, 64),
    keepalive: { timeMs: envInt("REGISTRY_KEEPALIVE_MS", 10_000, 1000, 3_600_000) },
    defaultTimeoutMs: envInt("REGISTRY_TIMEOUT_MS", 30_000, 100, 600_000),
    ...(cache ? { cache } : {}),
  });
  logger.info(
    { cache: cacheSetting.kind, ...(cacheSetting.kind === "redis" ? { redis: cacheSetting.where } : {}) },
    cacheSetting.kind === "off" ? "read cache off" : "read cache on",
  );
  return { client, shared: cache?.shared };
}

/** The Express app: the gateway, /healthz, /metrics, and JSON answers for everything else. */
function appOf(client: RegistryClient): express.Express {
  const gateway = createGatewayMiddleware({ client, logger, admission: admissionFromEnv(), maxBodyBytes });
  const metrics = metricsOf(client, gateway.admissionStats);

  const app = express();
  app.disable("x-powered-by");
  // The gateway first: API calls (nearly every request) skip the other routes; it passes
  // everything outside /api/v1/ on to them.
  app.use(gateway);
  app.get("/healthz", (_req, res) => {
    res.set(apiHeaders).json({ status: "ok" });
  });
  app.get("/metrics", (_req, res, next) => {
    metrics.text().then((text) => res.set(apiHeaders).type(metrics.contentType).send(text), next);
  });
  // Everything the gateway does not serve is JSON too: a 404 for other
  // paths, and the error body for what fails before or around it.
  app.use((req, res) => {
    sendJsonError(
      res,
      404,
      new RegistryError(Code.NOT_FOUND, `No route for ${req.method} ${req.path.slice(0, 200)}.`),
    );
  });
  app.use(jsonErrorHandler);
  return app;
}

/** Serves `app` on host:port, answering unparsable requests and `Expect: 100-continue` itself. */
async function listen(app: express.Express, port: number, host: string): Promise<Server> {
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once("error", reject);
  });
  server.on("clientError", answerClientError);
  // `Expect: 100-continue` (curl sends it for bodies over 1 MiB): say "continue" only to a body
  // the gateway would read; a larger one gets its 413 before the client sends any of it.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (!(Number(req.headers["content-length"]) > maxBodyBytes)) res.writeContinue();
    app(req, res);
  });
  const bound = server.address();
  logger.info(
    { host, port: typeof bound === "object" && bound ? bound.port : port },
    "API gateway listening",
  );
  return server;
}

/**
 * On the first SIGINT/SIGTERM: stops accepting requests, lets those in
 * flight finish, then closes the client and after it the shared cache store
 * (whose owner this process is), and exits.
 */
function stopOnSignal(
  server: Server,
  client: RegistryClient,
  shared: SharedCacheStore | undefined,
  stopWatching: () => void,
): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stopWatching();
      logger.info({ signal }, "stopping");
      server.close(() => {
        client.close();
        // Bounded: the store's commands (QUIT too) time out after its commandTimeoutMs.
        const closed = shared ? shared.close() : Promise.resolve();
        closed
          .catch((error: unknown) =>
            logger.warn({ err: { message: (error as Error).message } }, "cache store not closed cleanly"),
          )
          .finally(() => {
            logger.info("gateway stopped");
            process.exit(0);
          });
      });
      server.closeIdleConnections();
    });
  }
}

async function main() {
  const port = envInt("GATEWAY_PORT", 8080, 0, 65535);
  // Loopback unless told otherwise: put TLS (a reverse proxy) in front, or set GATEWAY_HOST=0.0.0.0.
  const host = envString("GATEWAY_HOST", "127.0.0.1");
  const address = envString("REGISTRY_ADDRESS", "localhost:9090");
  const { client, shared } = clientFromEnv(address);
  const server = await listen(appOf(client), port, host);

  // The gateway serves at once (503 for registry calls, answered without
  // waiting) and logs when the first connection to the registry is READY.
  logger.info({ address }, "Connecting to Model Registry gRPC service...");
  stopOnSignal(server, client, shared, watchRegistry(client, address));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) logger.error(error.message);
  else logger.error({ err: error }, "the gateway could not start");
  process.exit(1);
});
