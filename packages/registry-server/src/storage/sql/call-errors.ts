import { Code, RegistryError } from "@modelreg/proto";
import type { StorageCallOptions } from "../adapter";
import type { SqlErrorKind } from "./dialect";

/** DEADLINE_EXCEEDED: the call's deadline passed before the work was done, or the database cancelled a statement at it. */
export const deadlineExceeded = (cause?: unknown): RegistryError =>
  new RegistryError(
    Code.DEADLINE_EXCEEDED,
    "The call's deadline passed before the database finished; the statement was cancelled.",
    cause === undefined ? {} : { cause },
  );

/** CANCELLED: the call's signal aborted before its transaction committed, so it was rolled back. */
export const cancelled = (): RegistryError =>
  new RegistryError(
    Code.CANCELLED,
    "The call was cancelled before the database finished it; nothing was changed.",
  );

/**
 * Why a call whose signal has aborted stops: DEADLINE_EXCEEDED when its
 * deadline has passed (the signal also aborts then), CANCELLED otherwise.
 */
export function abortedError(options: StorageCallOptions | undefined): RegistryError {
  const deadline = options?.deadline;
  return deadline !== undefined && deadline - Date.now() <= 0 ? deadlineExceeded() : cancelled();
}

/**
 * Throws if the call must not start (another) transaction: its deadline has
 * passed (checked first, so a past deadline is always DEADLINE_EXCEEDED) or
 * its signal has aborted.
 */
export function throwIfStopped(options: StorageCallOptions | undefined): void {
  const deadline = options?.deadline;
  if (deadline !== undefined && deadline - Date.now() <= 0) throw deadlineExceeded();
  if (options?.signal?.aborted) throw cancelled();
}

/**
 * The error a caller sees for a driver error of this kind: UNAVAILABLE,
 * DEADLINE_EXCEEDED, ABORTED, or the error itself (reported as INTERNAL).
 * UNAVAILABLE carries a reason, so the public-error policy passes its
 * message on (it names no host, only that the database is down).
 */
export function translate(error: unknown, kind: SqlErrorKind | undefined): unknown {
  switch (kind) {
    case "unavailable":
      return new RegistryError(Code.UNAVAILABLE, "The model database is unavailable; try again later.", {
        reason: "DATABASE_UNAVAILABLE",
        cause: error,
      });
    case "timeout":
      return deadlineExceeded(error);
    case "retryable":
      return new RegistryError(
        Code.ABORTED,
        "The write kept conflicting with concurrent writes and was not made; retry it.",
        { cause: error, reason: "TRANSACTION_CONFLICT" },
      );
    default:
      return error;
  }
}
