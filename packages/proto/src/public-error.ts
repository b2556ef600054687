import type { Logger } from "./logger";
import { Code, genericMessage, RegistryError } from "./registry-error";

/**
 * Codes whose message may have been written below modelreg (by grpc-js, a
 * proxy, a database driver) and so may name hosts, ports or statements:
 * without an `ErrorInfo` reason, the caller gets a fixed message instead.
 */
const scrubbedCodes: ReadonlySet<Code> = new Set([
  Code.UNKNOWN,
  Code.INTERNAL,
  Code.DATA_LOSS,
  Code.UNAVAILABLE,
  Code.DEADLINE_EXCEEDED,
]);

/** Failures that point at a bug (or a peer's), logged as errors. */
const unexpectedCodes: ReadonlySet<Code> = new Set([Code.UNKNOWN, Code.INTERNAL, Code.DATA_LOSS]);

/**
 * The one public-error policy of modelreg, applied wherever an error leaves
 * for a caller (the registry's gRPC status, the gateway's JSON error body):
 *
 * 1. Anything that is not a {@link RegistryError} is a bug: the caller gets
 *    INTERNAL with a generic message; the log gets the error (level error).
 * 2. UNKNOWN, INTERNAL, DATA_LOSS, UNAVAILABLE and DEADLINE_EXCEEDED keep
 *    their message only when the error carries a `reason`, the mark of an
 *    error that modelreg code wrote for the caller; otherwise the message is
 *    replaced by the code's generic one (details are kept). The first three
 *    are logged as errors, UNAVAILABLE as a warning with its cause.
 * 3. Every other RegistryError is the caller's to read, and is not logged.
 *
 * `fields` are added to the log line (the method, a request id).
 */
export function toPublicError(
  error: unknown,
  logger: Logger | undefined,
  fields: Record<string, unknown> = {},
): RegistryError {
  const registryError = RegistryError.from(error);
  const { code } = registryError;
  if (registryError !== error || unexpectedCodes.has(code)) {
    logger?.error({ ...fields, err: error }, "unexpected error");
  } else if (code === Code.UNAVAILABLE) {
    logger?.warn({ ...fields, err: registryError.cause ?? registryError }, registryError.message);
  }
  if (!scrubbedCodes.has(code) || registryError.reason !== undefined) return registryError;
  const message = genericMessage(code);
  if (registryError.message === message) return registryError;
  return new RegistryError(code, message, { details: registryError.details, cause: registryError });
}
