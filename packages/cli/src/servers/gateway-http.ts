// The gateway process's HTTP parts around the gateway middleware: JSON answers for everything else
// (404s, Express's own errors, requests node cannot parse) and `Expect: 100-continue`.
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { challengeHeaders, createGatewayMiddleware, errorBody } from "@modelreg/gateway-express";
import { Code, type RegistryClient, RegistryError } from "@modelreg/registry-client";
import { createRegistryUi, type RegistryUiOptions } from "@modelreg/registry-ui";
import express, { type ErrorRequestHandler, type Response } from "express";
import type { Logger } from "pino";
import { metricsOf } from "./metrics";

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
const jsonErrorHandler =
  (logger: Logger): ErrorRequestHandler =>
  (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const declared = (error as { status?: unknown; statusCode?: unknown } | null)?.status;
    const status = typeof declared === "number" && declared >= 400 && declared < 500 ? declared : 500;
    if (status === 500) logger.error({ err: error, method: req.method, path: req.path }, "unhandled error");
    const message =
      status === 500
        ? "Internal error."
        : `${STATUS_CODES[status] ?? "Bad request"}: the request was refused.`;
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

/** Admission control of the gateway middleware: its limits, or false (off). */
export type GatewayAdmission = Parameters<typeof createGatewayMiddleware>[0]["admission"];

/**
 * The Express app: the gateway, /healthz, /metrics, the web page at `/`
 * (unless `ui` is false), and JSON answers for everything else.
 */
export function appOf(
  client: RegistryClient,
  logger: Logger,
  admission: GatewayAdmission,
  ui: RegistryUiOptions | false = false,
): express.Express {
  const gateway = createGatewayMiddleware({ client, logger, admission, maxBodyBytes });
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
  // The web page (`/`, `/index.html`, `/assets/*`, GET and HEAD only): it passes the rest on.
  if (ui !== false) {
    app.use(createRegistryUi(ui));
    logger.info({ path: "/" }, "web page on");
  }
  // Everything the gateway does not serve is JSON too: a 404 for other
  // paths, and the error body for what fails before or around it.
  app.use((req, res) => {
    sendJsonError(
      res,
      404,
      new RegistryError(Code.NOT_FOUND, `No route for ${req.method} ${req.path.slice(0, 200)}.`),
    );
  });
  app.use(jsonErrorHandler(logger));
  return app;
}

/** Serves `app` on host:port, answering unparsable requests and `Expect: 100-continue` itself. */
export async function listen(
  app: express.Express,
  port: number,
  host: string,
  logger: Logger,
): Promise<Server> {
  const server: Server = await new Promise((resolve, reject) => {
    // Express 5 calls back with the error too (EADDRINUSE): that is not listening.
    const s = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(s)));
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
