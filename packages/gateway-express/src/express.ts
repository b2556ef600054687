import type { NextFunction, Request, Response } from "express";
import { createGateway, type GatewayOptions } from "./gateway";

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
    readBody(req, gateway.maxBodyBytes)
      .then((body) =>
        gateway.handle({
          method: req.method,
          path: pathname,
          query,
          headers: req.headers,
          body,
          signal: controller.signal,
          remoteAddress: req.socket.remoteAddress,
        }),
      )
      .then((response) => {
        if (controller.signal.aborted || res.headersSent) return;
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
