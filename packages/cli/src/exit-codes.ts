import { Code } from "@modelreg/registry-client";

/**
 * The `modelreg` exit codes. Stable: scripts may test them. Documented in
 * the package README ("Exit codes"); a new code is added at the end, an
 * existing one never changes meaning.
 */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** Usage: an unknown command or option, a missing or malformed argument, a bad config file or value. */
  USAGE: 1,
  /** The model, alias or version does not exist (NOT_FOUND). */
  NOT_FOUND: 2,
  /** Conflict: it already exists, or it changed meanwhile (ALREADY_EXISTS, ABORTED, FAILED_PRECONDITION). */
  CONFLICT: 3,
  /** The registry (or its database) cannot be reached, or did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). */
  UNAVAILABLE: 4,
  /** The registry refused the request (INVALID_ARGUMENT, OUT_OF_RANGE): what to fix is in the message. */
  INVALID: 5,
  /** Not allowed: no or a bad token (UNAUTHENTICATED), or a missing role (PERMISSION_DENIED). */
  DENIED: 6,
  /** Anything else: an internal error, an interrupted stream, a server that failed to start. */
  FAILURE: 7,
  /** Stopped by SIGINT (128 + 2, as shells report it). */
  INTERRUPTED: 130,
} as const;

/** One of {@link ExitCode}'s values. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const exitCodeByGrpcCode: Readonly<Partial<Record<Code, ExitCode>>> = {
  [Code.OK]: ExitCode.OK,
  [Code.NOT_FOUND]: ExitCode.NOT_FOUND,
  [Code.ALREADY_EXISTS]: ExitCode.CONFLICT,
  [Code.ABORTED]: ExitCode.CONFLICT,
  [Code.FAILED_PRECONDITION]: ExitCode.CONFLICT,
  [Code.UNAVAILABLE]: ExitCode.UNAVAILABLE,
  [Code.DEADLINE_EXCEEDED]: ExitCode.UNAVAILABLE,
  [Code.RESOURCE_EXHAUSTED]: ExitCode.UNAVAILABLE,
  [Code.INVALID_ARGUMENT]: ExitCode.INVALID,
  [Code.OUT_OF_RANGE]: ExitCode.INVALID,
  [Code.UNAUTHENTICATED]: ExitCode.DENIED,
  [Code.PERMISSION_DENIED]: ExitCode.DENIED,
};

/** The exit code for a registry call that failed with gRPC status `code`. */
export function exitCodeOfGrpcCode(code: Code): ExitCode {
  return exitCodeByGrpcCode[code] ?? ExitCode.FAILURE;
}
