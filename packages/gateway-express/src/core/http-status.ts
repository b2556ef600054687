import { Code, errorDetailTypes, type RegistryError, Status } from "@modelreg/proto";
import type { JsonValue } from "@protobuf-ts/runtime";

/**
 * gRPC code -> HTTP status: the one table, the same as grpc-gateway's and
 * Connect's (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto).
 */
const httpStatusByCode: Readonly<Record<Code, number>> = {
  [Code.OK]: 200,
  [Code.CANCELLED]: 499,
  [Code.UNKNOWN]: 500,
  [Code.INVALID_ARGUMENT]: 400,
  [Code.DEADLINE_EXCEEDED]: 504,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.PERMISSION_DENIED]: 403,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.ABORTED]: 409,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNIMPLEMENTED]: 501,
  [Code.INTERNAL]: 500,
  [Code.UNAVAILABLE]: 503,
  [Code.DATA_LOSS]: 500,
  [Code.UNAUTHENTICATED]: 401,
};

/** The HTTP status for a gRPC code. */
export function httpStatusOf(code: Code): number {
  return httpStatusByCode[code] ?? 500;
}

/**
 * Headers an error answer with `status` must carry: a 401 names the scheme
 * that would be accepted (RFC 9110, section 15.5.2), `www-authenticate: Bearer`.
 */
export function challengeHeaders(status: number): Record<string, string> {
  return status === 401 ? { "www-authenticate": "Bearer" } : {};
}

/** The error body of Google's REST APIs (AIP-193): `{"error":{"code","message","status","details"}}`. */
export interface ErrorBody {
  error: { code: number; message: string; status: string; details: JsonValue[] };
}

/**
 * The JSON error body for a RegistryError; details become JSON objects with
 * `@type`. `httpStatus` overrides the table for statuses gRPC has no code for
 * (405, 413, 415).
 */
export function errorBody(error: RegistryError, httpStatus: number = httpStatusOf(error.code)): ErrorBody {
  let details: JsonValue[] = [];
  try {
    const status = Status.toJson(error.toStatus(), { typeRegistry: errorDetailTypes }) as {
      details?: JsonValue[];
    };
    details = status.details ?? [];
  } catch {
    // A detail type this gateway does not know: leave the details out rather than fail the response.
  }
  return {
    error: { code: httpStatus, message: error.message, status: Code[error.code] ?? "UNKNOWN", details },
  };
}
