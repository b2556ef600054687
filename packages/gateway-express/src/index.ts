/**
 * `@modelreg/gateway-express`: the Model Registry's REST/JSON gateway, which
 * turns each HTTP call into a gRPC call through `@modelreg/registry-client`.
 * Routes come from the contract's `google.api.http` annotations.
 *
 * Three layers, each on the one below: {@link createGatewayMiddleware}
 * (Express 4 and 5), {@link createGatewayHandler} (node:http, no framework),
 * and {@link createGateway} (a framework-neutral core, request in, response
 * out, for adapters to other frameworks).
 *
 * @packageDocumentation
 */

/** The gateway's admission control (`GatewayOptions.admission`): requests at once, a short queue, 429 beyond. */
/** Admission control's counts (`admissionStats()` of the handler and the middleware): in flight, queued, refused. */
export type { GatewayAdmissionOptions, GatewayAdmissionStats } from "./core/admission";
export { createGateway } from "./core/gateway";
export { challengeHeaders, type ErrorBody, errorBody, httpStatusOf } from "./core/http-status";
export { buildOpenApiDocument, type OpenApiInfo } from "./core/openapi";
export type {
  Gateway,
  GatewayClient,
  GatewayOptions,
  GatewayRequest,
  GatewayRequestBody,
  GatewayResponse,
  RateLimitInfo,
  RateLimitRefusal,
} from "./core/types";
export type { UnaryClient } from "./core/unary";
export { createGatewayMiddleware, type GatewayMiddlewareOptions } from "./express";
export { createGatewayHandler, type GatewayHandler, type GatewayHandlerOptions } from "./node/handler";
