import type { GatewayResponse } from "./types";

const jsonHeaders = { "content-type": "application/json; charset=utf-8" } as const;

/** A JSON response whose body is already serialized (a cached answer, the OpenAPI document). */
export function jsonTextResponse(
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): GatewayResponse {
  return { status, headers: { ...jsonHeaders, ...headers }, body: text };
}

/** A JSON response. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): GatewayResponse {
  return jsonTextResponse(status, JSON.stringify(body), headers);
}
