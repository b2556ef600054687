/**
 * `@modelreg/gateway-express`: Express middleware that mounts the Model
 * Registry's REST/JSON gateway on any app and turns each HTTP call into a
 * gRPC call through `@modelreg/registry-client`. Routes come from the
 * contract's `google.api.http` annotations.
 *
 * @packageDocumentation
 */
export { createGatewayMiddleware, type GatewayMiddlewareOptions } from "./express";
export {
  createGateway,
  type Gateway,
  type GatewayLogger,
  type GatewayOptions,
  type GatewayRequest,
  type GatewayResponse,
  type RateLimitInfo,
} from "./gateway";
export { type ErrorBody, errorBody, httpStatusOf } from "./http-status";
export { buildOpenApiDocument } from "./openapi";
export { buildRoutes, matchRoute, type Route, type RouteMatch, type Segment } from "./routes";
