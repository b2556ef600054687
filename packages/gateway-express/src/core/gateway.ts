/**
 * The gateway core: routes from the contract's HTTP rules, each request
 * matched, rate limited, dispatched by the kind of its RPC and logged.
 * Framework-neutral: adapters (node:http, Express) turn their requests into
 * a {@link GatewayRequest} and write back the {@link GatewayResponse}.
 */
import { Code, RegistryError } from "@modelreg/proto";
import { GatewayAdmission, type GatewayAdmissionStats, resolveGatewayAdmission } from "./admission";
import { errorResponse, HttpError } from "./errors";
import { dispatchImport } from "./import";
import { JsonCache } from "./json-cache";
import { apiHeaders } from "./json-response";
import { requestIdOf } from "./metadata";
import { exhausted } from "./retry-after";
import { buildRoutes, matchRoute, type RouteMatch } from "./routes";
import { openApiResponder } from "./serve-openapi";
import type {
  Gateway,
  GatewayContext,
  GatewayOptions,
  GatewayRequest,
  GatewayResponse,
  RateLimitInfo,
  RouteCall,
} from "./types";
import { dispatchUnary, isUnaryClient } from "./unary";
import { dispatchWatch } from "./watch";

/** Room for the JSON of a few thousand models. */
const modelJsonCacheBytes = 8 * 1024 * 1024;

/** The gateway's settings from its options, with the defaults filled in. */
function contextOf(options: GatewayOptions): GatewayContext {
  if (!options?.client || !isUnaryClient(options.client)) {
    throw new TypeError("createGateway: `client` must be a registry client (createRegistryClient)");
  }
  const admission = resolveGatewayAdmission(options.admission);
  return {
    client: options.client,
    logger: options.logger,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
    maxTimeoutMs: options.maxTimeoutMs ?? 60_000,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    forwardCookies: options.forwardCookies === true,
    modelJson: new JsonCache(modelJsonCacheBytes),
    admission: admission && new GatewayAdmission(admission),
  };
}

/** Refuses the request with 429 when the hook says so. */
async function checkRateLimit(
  rateLimit: GatewayOptions["rateLimit"],
  { request, route }: RouteCall,
): Promise<void> {
  if (!rateLimit) return;
  const info: RateLimitInfo = {
    method: request.method,
    path: request.path,
    rpc: route.rpc,
    headers: request.headers,
    remoteAddress: request.remoteAddress,
  };
  const verdict = await rateLimit(info);
  if (verdict === true) return;
  const message = "Too many requests; slow down and retry later.";
  const seconds = typeof verdict === "object" && verdict !== null ? verdict.retryAfterSeconds : undefined;
  if (seconds === undefined || !Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RegistryError(Code.RESOURCE_EXHAUSTED, message);
  }
  throw exhausted(message, seconds);
}

/** A matched request, by the kind of its RPC. Throws (synchronously, too) what it refuses. */
function dispatch(
  context: GatewayContext,
  options: GatewayOptions,
  call: RouteCall,
): Promise<GatewayResponse> {
  const { request, route } = call;
  if (route.clientStreaming && route.serverStreaming) {
    throw new RegistryError(
      Code.UNIMPLEMENTED,
      `${request.method} ${route.template} is a bidirectional stream, which HTTP/1.1 cannot carry.`,
    );
  }
  if (options.rateLimit) return checkRateLimit(options.rateLimit, call).then(() => admit(context, call));
  return admit(context, call);
}

/** A request the rate limit let through: a watch at once, other routes through admission control. */
function admit(context: GatewayContext, call: RouteCall): Promise<GatewayResponse> {
  // Watches are not counted against admission: each lasts long and holds no more than its stream.
  if (call.route.serverStreaming) return dispatchWatch(context, call);
  const { admission } = context;
  return admission ? admission.run(call.request, () => serve(context, call)) : serve(context, call);
}

/** A unary or client-streaming route, once admitted. */
function serve(context: GatewayContext, call: RouteCall): Promise<GatewayResponse> {
  return call.route.clientStreaming ? dispatchImport(context, call) : dispatchUnary(context, call);
}

/** 404 for an unknown path, 405 (with `Allow`) for a known path with another method. */
function refuseUnmatched(request: GatewayRequest, matched: Exclude<RouteMatch, { kind: "found" }>): never {
  if (matched.kind === "notFound") {
    throw new RegistryError(Code.NOT_FOUND, `No route for ${request.method} ${request.path}.`);
  }
  const allowed = matched.allowed.join(", ");
  throw new HttpError(
    405,
    new RegistryError(
      Code.UNIMPLEMENTED,
      `${request.method} is not allowed on ${request.path}; use ${allowed}.`,
    ),
    { allow: allowed },
  );
}

/**
 * The framework-independent gateway: routes from the contract's
 * `google.api.http` rules, HTTP -> gRPC request transcoding, errors -> HTTP
 * statuses. For adapters to other frameworks; Express and node:http have
 * theirs (`createGatewayMiddleware`, `createGatewayHandler`).
 */
export function createGateway(options: GatewayOptions): Gateway {
  return { handle: buildGateway(options).handle };
}

/** A gateway, and the answer to a request it is too full to take, if it is. @internal */
export interface GatewayCore extends Gateway {
  /**
   * The 429 for a request while the gateway is full (every slot taken, the
   * queue full), to be sent without reading the body or building a
   * request: refusing costs the least it can. `undefined` when the gateway
   * has room, or the request is not one admission control counts.
   */
  refuseIfFull(method: string, path: string, headers: GatewayRequest["headers"]): GatewayResponse | undefined;
  /** Admission control's counts now; undefined when it is off. */
  admissionStats(): GatewayAdmissionStats | undefined;
}

/** {@link createGateway} with the early refusal the node:http handler uses. @internal */
export function buildGateway(options: GatewayOptions): GatewayCore {
  const context = contextOf(options);
  const routes = buildRoutes();
  const openApi = options.openApi === false ? undefined : openApiResponder(routes);

  // Not async: each async layer that only returns another promise costs the request microtask turns.
  function respond(request: GatewayRequest, requestId: string, matched: RouteMatch) {
    const document = openApi?.(request);
    if (document) return document;
    if (matched.kind !== "found") refuseUnmatched(request, matched);
    return dispatch(context, options, { request, requestId, route: matched.route, params: matched.params });
  }

  async function handle(request: GatewayRequest): Promise<GatewayResponse> {
    const started = Date.now();
    const requestId = requestIdOf(request.headers);
    const matched = matchRoute(routes, request.method, request.path);
    const rpc = matched.kind === "found" ? matched.route.rpc : undefined;
    let response: GatewayResponse;
    try {
      response = await respond(request, requestId, matched);
    } catch (error) {
      response = errorResponse(error, options.logger, { requestId, rpc });
    }
    options.logger?.info(
      {
        requestId,
        method: request.method,
        path: request.path,
        rpc,
        status: response.status,
        durationMs: Date.now() - started,
      },
      "request",
    );
    // Object.assign, not spreads: node 20 takes microseconds to spread two objects into one literal.
    const headers: Record<string, string> = Object.assign({}, response.headers, apiHeaders);
    headers["x-request-id"] = requestId;
    return response.stream === undefined
      ? { status: response.status, headers, body: response.body }
      : { status: response.status, headers, body: response.body, stream: response.stream };
  }

  function refuseIfFull(method: string, path: string, headers: GatewayRequest["headers"]) {
    const { admission } = context;
    if (!admission?.full) return undefined;
    const matched = matchRoute(routes, method, path);
    if (matched.kind !== "found" || matched.route.serverStreaming) return undefined;
    return admission.refusal(requestIdOf(headers));
  }

  return { handle, refuseIfFull, admissionStats: () => context.admission?.stats() };
}
