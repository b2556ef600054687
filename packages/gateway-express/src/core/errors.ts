/**
 * The error responses: every failure becomes the AIP-193 JSON body, through
 * modelreg's one public-error policy (`toPublicError`).
 */
import { type Logger, type RegistryError, toPublicError } from "@modelreg/proto";
import { challengeHeaders, errorBody, httpStatusOf } from "./http-status";
import { jsonResponse } from "./json-response";
import { retryAfterHeader } from "./retry-after";
import type { GatewayResponse } from "./types";

/**
 * A refusal of the gateway's own with an HTTP status that no gRPC code maps
 * to (405, 413, 415); the error body carries that status. Its message is
 * the gateway's, written for the caller, so the policy has nothing to scrub.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly error: RegistryError;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, error: RegistryError, headers: Readonly<Record<string, string>> = {}) {
    super(error.message, { cause: error });
    this.name = "HttpError";
    this.status = status;
    this.error = error;
    this.headers = headers;
  }
}

/**
 * The response for a failure. Anything but an {@link HttpError} goes
 * through `toPublicError`: no transport or storage internals reach the
 * caller, and unexpected errors are logged with `fields` (the request id, the RPC).
 */
export function errorResponse(
  error: unknown,
  logger: Logger | undefined,
  fields: { readonly requestId: string; readonly rpc?: string | undefined },
): GatewayResponse {
  if (error instanceof HttpError)
    return jsonResponse(error.status, errorBody(error.error, error.status), error.headers);
  const publicError = toPublicError(error, logger, { ...fields });
  const status = httpStatusOf(publicError.code);
  return jsonResponse(status, errorBody(publicError), {
    ...retryAfterHeader(publicError),
    ...challengeHeaders(status),
  });
}

/** The error body for a failure in a stream that has started, after the same policy. */
export function streamErrorBody(
  error: unknown,
  logger: Logger | undefined,
  fields: { readonly requestId: string; readonly rpc: string },
) {
  return errorBody(toPublicError(error, logger, { ...fields }));
}
