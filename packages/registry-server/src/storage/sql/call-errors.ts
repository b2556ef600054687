import { Code, RegistryError } from "@modelreg/proto";
import { deadlineExceeded } from "../stopped";
import type { SqlErrorKind } from "./dialect";

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
