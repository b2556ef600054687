/**
 * The Express adapter: Express's `req` and `res` are node's
 * `IncomingMessage` and `ServerResponse`, so the middleware hands them to
 * the node:http handler as they are. Express 4 and 5 alike.
 */
import type { NextFunction, Request, Response } from "express";
import { createGatewayHandler, type GatewayHandlerOptions } from "./node/handler";

/** Options for {@link createGatewayMiddleware}: those of the node:http handler, `pathPrefix` included. */
export type GatewayMiddlewareOptions = GatewayHandlerOptions;

/**
 * Express middleware (Express 4 or 5) that serves the registry's REST
 * gateway: each HTTP call on `/api/v1/models...` becomes a gRPC call through
 * `options.client`; other paths go to `next()`. Mounted under a path
 * (`app.use("/registry", ...)`), the routes move with it. Mount it before
 * any JSON body parser, or after one: a body `express.json()` parsed is
 * taken as is.
 *
 * ```ts
 * app.use(createGatewayMiddleware({ client: createRegistryClient({ target: "localhost:9090", insecure: true }) }));
 * ```
 */
export function createGatewayMiddleware(options: GatewayMiddlewareOptions) {
  const handle = createGatewayHandler(options);
  const middleware = function modelregGateway(req: Request, res: Response, next: NextFunction): void {
    // req.url is relative to the mount point, as the handler expects.
    handle(req, res, next);
  };
  /** What admission control is doing now and has refused so far; undefined when it is off. */
  return Object.assign(middleware, { admissionStats: handle.admissionStats });
}
