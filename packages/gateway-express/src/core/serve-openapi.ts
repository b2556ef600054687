import { jsonTextResponse } from "./json-response";
import { openApiDocumentOf } from "./openapi";
import type { Route } from "./routes";
import type { GatewayRequest, GatewayResponse } from "./types";

/** Where the gateway serves its OpenAPI document. */
const openApiPath = "/api/v1/openapi.json";

/**
 * Serves `GET /api/v1/openapi.json` (and HEAD): the routes' OpenAPI
 * document, written on the first request and then reused. Answers
 * undefined for every other request.
 */
export function openApiResponder(
  routes: readonly Route[],
): (request: GatewayRequest) => GatewayResponse | undefined {
  let document: string | undefined;
  return (request) => {
    if (request.path !== openApiPath || !/^(GET|HEAD)$/i.test(request.method)) return undefined;
    document ??= JSON.stringify(openApiDocumentOf(routes));
    return jsonTextResponse(200, document);
  };
}
