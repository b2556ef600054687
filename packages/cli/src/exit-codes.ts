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

/**
 * The one table between exit codes and gRPC codes. Each row: an exit code,
 * the gRPC code it is reported as with `--json` (whose HTTP status the JSON
 * error body carries: 409 for a conflict, 503 unavailable, 400 usage or
 * invalid, 500 failure), and the gRPC codes of a failed call that exit with it.
 */
const exitCodeTable: readonly { exitCode: ExitCode; reportedAs: Code; from: readonly Code[] }[] = [
  { exitCode: ExitCode.OK, reportedAs: Code.OK, from: [Code.OK] },
  { exitCode: ExitCode.USAGE, reportedAs: Code.INVALID_ARGUMENT, from: [] },
  { exitCode: ExitCode.NOT_FOUND, reportedAs: Code.NOT_FOUND, from: [Code.NOT_FOUND] },
  {
    exitCode: ExitCode.CONFLICT,
    reportedAs: Code.ABORTED,
    from: [Code.ALREADY_EXISTS, Code.ABORTED, Code.FAILED_PRECONDITION],
  },
  {
    exitCode: ExitCode.UNAVAILABLE,
    reportedAs: Code.UNAVAILABLE,
    from: [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED],
  },
  {
    exitCode: ExitCode.INVALID,
    reportedAs: Code.INVALID_ARGUMENT,
    from: [Code.INVALID_ARGUMENT, Code.OUT_OF_RANGE],
  },
  {
    exitCode: ExitCode.DENIED,
    reportedAs: Code.PERMISSION_DENIED,
    from: [Code.UNAUTHENTICATED, Code.PERMISSION_DENIED],
  },
  // Every other gRPC code (INTERNAL, UNKNOWN, CANCELLED by the server, ...) is a failure.
  { exitCode: ExitCode.FAILURE, reportedAs: Code.INTERNAL, from: [] },
  { exitCode: ExitCode.INTERRUPTED, reportedAs: Code.CANCELLED, from: [] },
];

/** The exit code for a registry call that failed with gRPC status `code`. */
export function exitCodeOfGrpcCode(code: Code): ExitCode {
  return exitCodeTable.find((row) => row.from.includes(code))?.exitCode ?? ExitCode.FAILURE;
}

/**
 * The gRPC code an error with exit code `exitCode` is reported as in the
 * `--json` error body (its `status`, and through it the HTTP `code`): the
 * reverse of {@link exitCodeOfGrpcCode}, from the same table. An unknown
 * exit code is INTERNAL.
 */
export function grpcCodeOfExitCode(exitCode: number): Code {
  return exitCodeTable.find((row) => row.exitCode === exitCode)?.reportedAs ?? Code.INTERNAL;
}
