import type * as grpc from "@grpc/grpc-js";
import type { IMessageType } from "@protobuf-ts/runtime";
import type { CallContext, MethodInfo } from "../context";
import { EncodedModelCache } from "../encoded-cache";
import { CallScope } from "./call-scope";
import { answer, type BindingRuntime, decode, serveCall } from "./runtime";
import { toGrpcError } from "./status";

/** The grpc-js handler of a unary method: decode, interceptors, handler, encoded answer or status. */
export function serveUnary<I extends object, O extends object>(
  method: MethodInfo,
  runtime: BindingRuntime,
  input: IMessageType<I>,
  handle: (request: I, context: CallContext) => Promise<O>,
): grpc.handleUnaryCall<Buffer, object> {
  const encode = EncodedModelCache.canCache(method.O)
    ? (response: object) => runtime.cache.encode(method.O, response)
    : undefined;
  return (call, callback) => {
    const scope = new CallScope(method, call);
    serveCall(runtime, scope, decode(input, call.request), handle)
      .then(
        (response) => answer(runtime, scope, callback, response, encode),
        (error: unknown) => callback(toGrpcError(error)),
      )
      .finally(() => scope.close());
  };
}
