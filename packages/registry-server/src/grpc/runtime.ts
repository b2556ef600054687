import type * as grpc from "@grpc/grpc-js";
import { Code, type Logger, RegistryError } from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";
import { type CallContext, type MethodInfo, methodPath } from "../context";
import type { EncodedModelCache } from "../encoded-cache";
import {
  applyInterceptors,
  runHandler,
  type ServerCallHandler,
  type ServerInterceptor,
} from "../interceptors";
import type { CallScope, OpenStreams } from "./call-scope";
import { toGrpcError } from "./status";

/** What every method's grpc-js handler shares. */
export interface BindingRuntime {
  /** Outermost first; the error policy is the first. */
  readonly interceptors: readonly ServerInterceptor[];
  readonly logger: Logger;
  readonly cache: EncodedModelCache;
  readonly watchStallTimeoutMs: number;
  readonly openStreams: OpenStreams;
}

/** A method's handler, typed by its request message, to be turned into a grpc-js handler. */
export interface MethodBinding {
  readonly kind: "unary" | "serverStreaming" | "clientStreaming";
  /** The request type the handler takes; must be the method's own. */
  readonly input: IMessageType<object>;
  implement(method: MethodInfo, runtime: BindingRuntime): grpc.UntypedHandleCall;
}

/** A decoded request, or why it could not be decoded. */
export type Decoded<T> =
  | { readonly ok: true; readonly message: T }
  | { readonly ok: false; readonly error: unknown };

/** Decodes a request; a malformed one is INVALID_ARGUMENT (not grpc-js's INTERNAL). */
export function decode<T extends object>(type: IMessageType<T>, bytes: Buffer): Decoded<T> {
  try {
    return { ok: true, message: type.fromBinary(bytes) };
  } catch (cause) {
    const message = `The request is not a valid ${type.typeName} message.`;
    return { ok: false, error: new RegistryError(Code.INVALID_ARGUMENT, message, { cause }) };
  }
}

/** What a client-streaming call has instead of a decoded request. */
export const noRequest: Decoded<undefined> = { ok: true, message: undefined };

/**
 * Runs one call through the interceptors to `terminal`, which gets the
 * request and the context the innermost interceptor passed on. A request
 * that did not decode still goes through them (to be traced, and refused by
 * `authorize` first), and fails at the end.
 */
export function serveCall<T extends object | undefined>(
  runtime: BindingRuntime,
  scope: CallScope,
  request: Decoded<T>,
  terminal: (message: T, context: CallContext) => Promise<unknown>,
): Promise<unknown> {
  const last: ServerCallHandler = request.ok
    ? (call) => terminal(request.message, call.context)
    : () => Promise.reject(request.error);
  const handler = applyInterceptors(runtime.interceptors, last, (context) => scope.adopt(context));
  const { context } = scope;
  return runHandler(handler, {
    method: context.method,
    context,
    request: request.ok ? request.message : undefined,
  });
}

/**
 * Answers a unary or client-streaming call with what the interceptors
 * resolved with: a message, encoded by `encode` when given, after the
 * response headers the handler set (none when it fails).
 */
export function answer(
  runtime: BindingRuntime,
  scope: CallScope,
  callback: grpc.sendUnaryData<object>,
  response: unknown,
  encode?: (message: object) => object,
): void {
  const { method } = scope.context;
  try {
    if (typeof response !== "object" || response === null) {
      throw new RegistryError(Code.INTERNAL, `The ${method.name} handler answered no message.`);
    }
    const message = encode ? encode(response) : response;
    scope.sendHeaders();
    callback(null, message);
  } catch (error) {
    // Past the interceptors, so the policy is applied here, logging included.
    callback(toGrpcError(error, runtime.logger, { method: methodPath(method) }));
  }
}
