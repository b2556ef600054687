import type { PeerCertificate } from "node:tls";
import type * as grpc from "@grpc/grpc-js";
import type { ModelService } from "@modelreg/proto";

/**
 * A method of a generated protobuf-ts service description: its proto and
 * local names, streaming kinds, message types and options (the protobuf-ts
 * `MethodInfo`, named through `ModelService` so that this package needs no
 * dependency of its own on `@protobuf-ts/runtime-rpc`).
 */
export type MethodInfo = (typeof ModelService.methods)[number];

/**
 * Who is calling, as established by authentication: an `authorize` hook (or
 * an interceptor) returns it, and handlers and later interceptors read it
 * from {@link CallContext.principal}.
 */
export interface Principal {
  /** The caller's identity, for example a token's `sub` or a certificate's subject. */
  readonly subject: string;
  /** What the caller may do, for example `["reader"]`; the meaning is the deployment's. */
  readonly roles: readonly string[];
}

/**
 * What a ModelService handler and every server interceptor know about the
 * call they serve. Built once per call by the gRPC binding.
 */
export interface CallContext {
  /** The generated description of the method called (`method.name` is `CreateModel`, ...). */
  readonly method: MethodInfo;
  /** When the caller stops waiting, in `Date.now()` milliseconds; `undefined` when it set no deadline. */
  readonly deadline: number | undefined;
  /**
   * Aborted when nobody waits for the result any more: the caller cancelled
   * the call, its deadline passed, or (for WatchModels) the server is
   * shutting down. Its `reason` is the `RegistryError` the call ends with
   * (CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE). Handlers hand it to storage
   * and stop their own loops when it aborts.
   */
  readonly signal: AbortSignal;
  /** The request headers (`authorization`, `traceparent`, ...). */
  readonly metadata: grpc.Metadata;
  /** The caller's address, for example `ipv4:127.0.0.1:53718`. */
  readonly peer: string;
  /** The authenticated caller, when an `authorize` hook or an interceptor established one. */
  readonly principal: Principal | undefined;
  /**
   * The client certificate the TLS handshake verified against the server's
   * `tls.ca` (mutual TLS), with its `subject` and `subjectaltname`;
   * `undefined` over plaintext or without one. Read on first use.
   */
  readonly peerCertificate: PeerCertificate | undefined;
  /**
   * Sets a response header (gRPC initial metadata) that a unary or
   * client-streaming call answers with, sent just before its response
   * message; a call that ends with an error sends none of them. Setting a
   * name again replaces its value. The write methods set
   * `x-modelreg-revision` (see `revisionHeader` in `@modelreg/proto`).
   * Names are lowercase ASCII (`-` and `_` allowed), values printable ASCII.
   */
  setHeader(name: string, value: string): void;
}

/** The full gRPC path of a method, for example `/modelregistry.v1.ModelService/CreateModel`. */
export function methodPath(method: MethodInfo): string {
  return `/${method.service.typeName}/${method.name}`;
}
