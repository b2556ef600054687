import type { NextFunction, Request, Response } from "express";
import { createGateway, type GatewayOptions, type GatewayResponse } from "./gateway";

/** Options for {@link createGatewayMiddleware}. */
export interface GatewayMiddlewareOptions extends GatewayOptions {
  /** Only paths under this prefix are handled; others go to `next()`. Default `/api/v1/`. */
  pathPrefix?: string;
}

/** Reads the raw body, at most `limit + 1` bytes (so the core can answer 413). */
function readBody(req: Request, limit: number): Promise<Buffer | undefined> {
  // A body parser that ran before us already consumed the stream.
  if (req.body !== undefined && (req as { _body?: boolean })._body === true) {
    return Promise.resolve(Buffer.from(JSON.stringify(req.body)));
  }
  // A request has a body only with one of these (RFC 9112, section 6.3):
  // most are GETs without, and waiting for their `end` cost ~3% of a GET.
  if (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined) {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      if (size > limit) return;
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on("end", () => resolve(size === 0 ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** A body a parser that ran before us already consumed, as bytes; undefined if none did. */
function parsedBody(req: Request): Buffer | undefined {
  if (req.body === undefined || (req as { _body?: boolean })._body !== true) return undefined;
  if (Buffer.isBuffer(req.body)) return req.body;
  return Buffer.from(typeof req.body === "string" ? req.body : JSON.stringify(req.body));
}

/**
 * Sends a streamed response: headers at once, then each chunk flushed as it
 * comes, waiting for the socket to drain (a slow HTTP client slows the
 * stream, and through it the gRPC call). Stops when the client goes away.
 */
async function sendStream(
  res: Response,
  response: GatewayResponse,
  stream: AsyncIterable<string>,
  signal: AbortSignal,
) {
  res.status(response.status).set(response.headers);
  res.flushHeaders();
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (signal.aborted) break;
      const writable = res.write(next.value);
      // A compression middleware buffers until told to flush.
      (res as { flush?: () => void }).flush?.();
      if (!writable && !signal.aborted) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        });
      }
    }
  } finally {
    await iterator.return?.();
    if (!res.writableEnded) res.end();
  }
}

/**
 * Express middleware (Express 4 or 5) that serves the registry's REST
 * gateway: each HTTP call on `/api/v1/models...` becomes a gRPC call through
 * `options.client`. Only adapts Express's req/res; the work is in the core.
 *
 * ```ts
 * app.use(createGatewayMiddleware({ client: createRegistryClient({ target: "localhost:9090", insecure: true }) }));
 * ```
 */
export function createGatewayMiddleware(options: GatewayMiddlewareOptions) {
  const gateway = createGateway(options);
  const prefix = options.pathPrefix ?? "/api/v1/";

  return function modelregGateway(req: Request, res: Response, next: NextFunction): void {
    // Split the request target as Express's router does. Not `new URL(target, base)`:
    // it reads `//host/api/v1/...` as a host plus `/api/v1/...` (serving a path that
    // the app's own `/api/v1` middleware never saw) and throws on targets like `//[`.
    // req.url is relative to where the app mounted us, so app.use("/registry", mw)
    // serves /registry/api/v1/models.
    const target = req.url;
    const queryStart = target.indexOf("?");
    const pathname = queryStart === -1 ? target : target.slice(0, queryStart);
    if (!pathname.startsWith(prefix)) {
      next();
      return;
    }
    const query = new URLSearchParams(queryStart === -1 ? "" : target.slice(queryStart + 1));
    const controller = new AbortController();
    // The HTTP client went away before we answered: cancel the gRPC call.
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    // The NDJSON import is read as it arrives, not into memory first.
    const streamingBody = gateway.takesStreamingBody(req.method, pathname);
    const preParsed = streamingBody ? parsedBody(req) : undefined;
    (streamingBody ? Promise.resolve(preParsed) : readBody(req, gateway.maxBodyBytes))
      .then((body) =>
        gateway.handle({
          method: req.method,
          path: pathname,
          query,
          headers: req.headers,
          body,
          bodyStream: streamingBody && preParsed === undefined ? req : undefined,
          signal: controller.signal,
          remoteAddress: req.socket.remoteAddress,
        }),
      )
      .then(async (response) => {
        if (controller.signal.aborted || res.headersSent) {
          await response.stream?.[Symbol.asyncIterator]().return?.();
          return;
        }
        if (response.stream) {
          await sendStream(res, response, response.stream, controller.signal);
          return;
        }
        // end(), not send(): the body is final JSON, and Express must not add its own ETag.
        res
          .status(response.status)
          .set(response.headers)
          .end(req.method === "HEAD" ? undefined : response.body);
      })
      .catch((error: unknown) => {
        // Reading the body failed (the client sent a broken stream): still JSON, never an HTML page.
        if (res.headersSent) return next(error);
        res
          .status(400)
          .type("application/json")
          .end(
            JSON.stringify({
              error: {
                code: 400,
                message: "The request body could not be read.",
                status: "INVALID_ARGUMENT",
                details: [],
              },
            }),
          );
      });
  };
}
