import { Any } from "./gen/google/protobuf/any";
import { BadRequest, ErrorInfo } from "./gen/google/rpc/error_details";
import { Status } from "./gen/google/rpc/status";

/**
 * gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
 * The numbers are the wire values; match on these, never on message text.
 */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** One invalid field of a request, as in `google.rpc.BadRequest.FieldViolation`. */
export interface FieldViolation {
  /** Path to the field in the request, for example `model.tags[2]` (AIP-193). */
  field: string;
  /** What is wrong and how to fix it. */
  description: string;
}

/** Options for {@link RegistryError}. */
export interface RegistryErrorOptions {
  /** Field violations, sent as a `google.rpc.BadRequest` detail. */
  violations?: readonly FieldViolation[];
  /** A machine-readable reason, sent as a `google.rpc.ErrorInfo` detail (UPPER_SNAKE_CASE). */
  reason?: string;
  /** Any other `google.rpc` details, already packed. */
  details?: readonly Any[];
  /** The underlying error. Logged by servers, never sent to a caller. */
  cause?: unknown;
}

const brand = Symbol.for("@modelreg/RegistryError");
const errorInfoDomain = "modelreg.dev";

/**
 * The one error type of modelreg, on both sides of the wire: a gRPC status
 * code, a message meant for the caller, and `google.rpc` details (AIP-193).
 *
 * `instanceof RegistryError` works across two installed copies of this
 * package (the check looks for a shared brand, not the class identity).
 */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  /** The gRPC status code. */
  readonly code: Code;
  /** Field violations from a `google.rpc.BadRequest` detail; empty if none. */
  readonly violations: readonly FieldViolation[];
  /** The `google.rpc.ErrorInfo` reason, if any. */
  readonly reason: string | undefined;
  /** Every detail of the status, packed, including the BadRequest and ErrorInfo ones. */
  readonly details: readonly Any[];

  constructor(code: Code, message: string, options: RegistryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.violations = options.violations ?? [];
    this.reason = options.reason;
    const details = [...(options.details ?? [])];
    if (this.violations.length > 0 && !details.some((d) => Any.contains(d, BadRequest))) {
      details.push(
        Any.pack(
          BadRequest.create({
            fieldViolations: this.violations.map((v) => ({ field: v.field, description: v.description })),
          }),
          BadRequest,
        ),
      );
    }
    if (this.reason !== undefined && !details.some((d) => Any.contains(d, ErrorInfo))) {
      details.push(Any.pack(ErrorInfo.create({ reason: this.reason, domain: errorInfoDomain }), ErrorInfo));
    }
    this.details = details;
    Object.defineProperty(this, brand, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /**
   * Returns `error` if it is a RegistryError; otherwise a RegistryError with
   * `fallbackCode` (INTERNAL by default), a generic message that reveals
   * nothing about the original, and the original as `cause`.
   */
  static from(error: unknown, fallbackCode: Code = Code.INTERNAL): RegistryError {
    if (error instanceof RegistryError) return error;
    return new RegistryError(fallbackCode, genericMessage(fallbackCode), { cause: error });
  }

  /** Builds the error a `google.rpc.Status` describes, reading BadRequest and ErrorInfo details. */
  static fromStatus(status: Status): RegistryError {
    const violations: FieldViolation[] = [];
    let reason: string | undefined;
    for (const detail of status.details) {
      if (Any.contains(detail, BadRequest)) {
        for (const v of Any.unpack(detail, BadRequest).fieldViolations) {
          violations.push({ field: v.field, description: v.description });
        }
      } else if (Any.contains(detail, ErrorInfo)) {
        reason = Any.unpack(detail, ErrorInfo).reason;
      }
    }
    const code = status.code in Code ? (status.code as Code) : Code.UNKNOWN;
    return new RegistryError(code, status.message, {
      violations,
      ...(reason === undefined ? {} : { reason }),
      details: status.details,
    });
  }

  /** The `google.rpc.Status` for this error, as sent in `grpc-status-details-bin`. */
  toStatus(): Status {
    return Status.create({ code: this.code, message: this.message, details: [...this.details] });
  }
}

/**
 * A message for an error whose real message must not reach the caller.
 *
 * @internal
 */
export function genericMessage(code: Code): string {
  switch (code) {
    case Code.UNAVAILABLE:
      return "The service is unavailable; try again later.";
    case Code.DEADLINE_EXCEEDED:
      return "The deadline expired before the operation completed.";
    default:
      return "Internal error.";
  }
}
