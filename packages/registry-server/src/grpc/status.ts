import * as grpc from "@grpc/grpc-js";
import { type Logger, Status, toPublicError } from "@modelreg/proto";
import { methodPath } from "../context";
import type { ServerInterceptor } from "../interceptors";

/**
 * The error/logging policy as the outermost interceptor: every failure
 * leaves as `toPublicError` makes it (unexpected errors logged and
 * scrubbed, UNAVAILABLE logged as a warning), so the interceptors inside
 * see the handler's own error.
 */
export function errorPolicy(logger: Logger): ServerInterceptor {
  return (next) => async (call) => {
    try {
      return await next(call);
    } catch (error) {
      throw toPublicError(error, logger, { method: methodPath(call.method) });
    }
  };
}

/** What grpc-js sends for a failed call; never a plain Error, which grpc-js would send with its raw message. */
export interface GrpcError {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata;
}

/**
 * The gRPC status of `error`: the public-error policy (logging only when
 * given a logger: errors that passed the error policy interceptor were
 * logged there), then the numeric code, the message and the
 * `google.rpc.Status` in `grpc-status-details-bin`.
 */
export function toGrpcError(error: unknown, logger?: Logger, fields?: Record<string, unknown>): GrpcError {
  const publicError = toPublicError(error, logger, fields);
  const metadata = new grpc.Metadata();
  if (publicError.details.length > 0) {
    metadata.set("grpc-status-details-bin", Buffer.from(Status.toBinary(publicError.toStatus())));
  }
  return { code: publicError.code as number as grpc.status, details: publicError.message, metadata };
}
