/**
 * The gateway on node:http: a `(req, res, next?)` handler that a plain
 * `http.createServer` (or `http2`'s compatibility API, or any framework on
 * node's request and response) can mount.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Code, RegistryError, toPublicError } from "@modelreg/proto";
import type { GatewayAdmissionStats } from "../core/admission";
import { buildGateway } from "../core/gateway";
import { challengeHeaders, errorBody, httpStatusOf } from "../core/http-status";
import { apiHeaders } from "../core/json-response";
import type { GatewayOptions, GatewayResponse } from "../core/types";
import { requestBodyOf } from "./body";
import { closeIfBodyUnread, sendResponse } from "./send";

/** Options for {@link createGatewayHandler}. */
export interface GatewayHandlerOptions extends GatewayOptions {
  /**
   * Only paths under this prefix are the gateway's; others go to `next()`,
   * or, without one, get a JSON 404. Default `/api/v1/`.
   */
  pathPrefix?: string;
}

/**
 * A node:http request handler. `next`, if given, is called for paths
 * outside the prefix, and with the error if sending a response failed
 * after it started (Connect-style middleware chains, Express).
 */
export interface GatewayHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /**
   * What admission control is doing now (requests in flight and queued)
   * and has refused so far, for metrics; undefined when it is off.
   */
  admissionStats(): GatewayAdmissionStats | undefined;
}

/** A JSON error written directly, for what never reaches the core. */
function sendError(req: IncomingMessage, res: ServerResponse, status: number, error: RegistryError): void {
  closeIfBodyUnread(req, res);
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  const headers = { ...apiHeaders, ...challengeHeaders(status) };
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(JSON.stringify(errorBody(error, status)));
}

/** A whole response written at once (the 429 of a full gateway); a body left unread closes the connection. */
function sendRefusal(req: IncomingMessage, res: ServerResponse, response: GatewayResponse): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  closeIfBodyUnread(req, res);
  res.end(response.body);
}

/** The query of a request without one: never changed by the core, so one serves them all. */
const noQuery = new URLSearchParams();

/**
 * A request's cancellation, whose AbortSignal is made only when asked for:
 * node takes microseconds to create one, more than the rest of a cached
 * answer, and only calls to the registry and waits for a slot need it.
 */
class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;

  /** Whether the HTTP client went away before the answer was sent. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborted once {@link abort} is called, whether it was made before or after. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  abort(): void {
    this.#aborted = true;
    this.#controller?.abort();
  }
}

/**
 * Splits the request target as Express's router does. Not `new URL(target, base)`:
 * it reads `//host/api/v1/...` as a host plus `/api/v1/...` (serving a path
 * that the app's own `/api/v1` middleware never saw) and throws on targets like `//[`.
 */
function splitTarget(target: string): { pathname: string; search: string } {
  const queryStart = target.indexOf("?");
  return queryStart === -1
    ? { pathname: target, search: "" }
    : { pathname: target.slice(0, queryStart), search: target.slice(queryStart + 1) };
}

/**
 * The registry's REST gateway as a node:http handler: each HTTP call on
 * `/api/v1/models...` becomes a gRPC call through `options.client`. It reads
 * the body (within `maxBodyBytes`, or as it arrives for the NDJSON import;
 * a body that `express.json()` or another parser already read is taken as
 * is), streams the watch with backpressure (flushed through `compression`),
 * and cancels the gRPC call when the HTTP client goes away.
 *
 * ```ts
 * const client = createRegistryClient({ target: "localhost:9090", insecure: true });
 * http.createServer(createGatewayHandler({ client })).listen(8080);
 * ```
 */
export function createGatewayHandler(options: GatewayHandlerOptions): GatewayHandler {
  const gateway = buildGateway(options);
  const prefix = options.pathPrefix ?? "/api/v1/";

  const handler = function modelregGateway(
    req: IncomingMessage,
    res: ServerResponse,
    next?: (error?: unknown) => void,
  ): void {
    // Relative to where a framework mounted us: app.use("/registry", ...) serves /registry/api/v1/models.
    const { pathname, search } = splitTarget(req.url ?? "/");
    const method = req.method ?? "GET";
    if (!pathname.startsWith(prefix)) {
      if (next) next();
      else sendError(req, res, 404, new RegistryError(Code.NOT_FOUND, `No route for ${method} ${pathname}.`));
      return;
    }
    // Full: answered before anything is read or built for the request (the 429 a queued one would get).
    const refusal = gateway.refuseIfFull(method, pathname, req.headers);
    if (refusal) {
      sendRefusal(req, res, refusal);
      return;
    }
    const cancel = new LazyAbort();
    // The HTTP client went away before we answered: cancel the gRPC call.
    res.on("close", () => {
      if (!res.writableFinished) cancel.abort();
    });
    gateway
      .handle({
        method,
        path: pathname,
        query: search === "" ? noQuery : new URLSearchParams(search),
        headers: req.headers,
        body: requestBodyOf(req),
        get signal() {
          return cancel.signal;
        },
        remoteAddress: req.socket.remoteAddress,
      })
      .then((response) => sendResponse(req, res, response, cancel))
      .catch((error: unknown) => {
        // Only sending can fail (the core answers every failure): end the response as best we can.
        if (res.headersSent) {
          if (next) next(error);
          else res.destroy(error instanceof Error ? error : undefined);
          return;
        }
        const publicError = toPublicError(error, options.logger, { method, path: pathname });
        sendError(req, res, httpStatusOf(publicError.code), publicError);
      });
  };
  return Object.assign(handler, { admissionStats: gateway.admissionStats });
}
