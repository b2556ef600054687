import type { IMessageType } from "@protobuf-ts/runtime";
import {
  BadRequest,
  DebugInfo,
  ErrorInfo,
  Help,
  LocalizedMessage,
  PreconditionFailure,
  QuotaFailure,
  RequestInfo,
  ResourceInfo,
  RetryInfo,
} from "./gen/google/rpc/error_details";

/**
 * The `google.rpc` error detail messages (AIP-193), as a protobuf-ts type
 * registry. Pass it as `typeRegistry` to `Status.toJson` / `Status.fromJson`
 * so that the `google.protobuf.Any` values in `Status.details` are written
 * and read as JSON objects with an `@type` field.
 */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds message types of every shape.
export const errorDetailTypes: readonly IMessageType<any>[] = [
  BadRequest,
  DebugInfo,
  ErrorInfo,
  Help,
  LocalizedMessage,
  PreconditionFailure,
  QuotaFailure,
  RequestInfo,
  ResourceInfo,
  RetryInfo,
];
