import type * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";
import type { CallContext, MethodInfo } from "../context";
import { CallScope } from "./call-scope";
import { type BindingRuntime, decode, serveCall } from "./runtime";
import { toGrpcError } from "./status";

/** Where a server-streaming handler sends its messages: protobuf-ts's `RpcInputStream`. */
export interface ResponseStream<T> {
  /** Sends a message; resolves once the transport can take another. */
  send(message: T): Promise<void>;
  /** Nothing more will be sent; the binding ends the call when the handler returns. */
  complete(): Promise<void>;
}

const watcherTooSlow = (stallTimeoutMs: number) =>
  new RegistryError(
    Code.RESOURCE_EXHAUSTED,
    `The watcher read nothing for ${stallTimeoutMs} ms, so the watch was ended; resume it after the last revision received.`,
    { reason: "WATCHER_TOO_SLOW" },
  );

/**
 * The call's responses, with backpressure: `send` resolves at once while
 * grpc-js buffers take more, else on `drain`; rejects with the signal's
 * reason once the call is abandoned, and with RESOURCE_EXHAUSTED when the
 * caller read nothing for `stallTimeoutMs` (memory per call stays bounded).
 */
function callResponses<T extends object>(
  call: grpc.ServerWritableStream<Buffer, object>,
  signal: AbortSignal,
  stallTimeoutMs: number,
): ResponseStream<T> {
  const send = (message: T) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (call.write(message)) return resolve();
      const settle = (error: unknown, failed: boolean) => {
        clearTimeout(timer);
        call.removeListener("drain", onDrain);
        signal.removeEventListener("abort", onAbort);
        if (failed) reject(error);
        else resolve();
      };
      const onDrain = () => settle(undefined, false);
      const onAbort = () => settle(signal.reason, true);
      const timer = setTimeout(() => settle(watcherTooSlow(stallTimeoutMs), true), stallTimeoutMs);
      call.on("drain", onDrain);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  return { send, complete: () => Promise.resolve() };
}

/**
 * The grpc-js handler of a server-streaming method (WatchModels): ends the
 * call when the handler returns, with a status when it rejects (unless the
 * caller cancelled: nobody to tell), and at shutdown through
 * `runtime.openStreams`: it never hangs.
 */
export function serveServerStream<I extends object, O extends object>(
  method: MethodInfo,
  runtime: BindingRuntime,
  input: IMessageType<I>,
  handle: (request: I, responses: ResponseStream<O>, context: CallContext) => Promise<void>,
): grpc.handleServerStreamingCall<Buffer, object> {
  return (call) => {
    const scope = new CallScope(method, call, runtime.openStreams);
    const responses = callResponses<O>(call, scope.context.signal, runtime.watchStallTimeoutMs);
    serveCall(runtime, scope, decode(input, call.request), (request, context) =>
      handle(request, responses, context),
    )
      .then(
        () => call.end(),
        (error: unknown) => {
          if (!scope.cancelled) call.emit("error", toGrpcError(error));
        },
      )
      .finally(() => scope.close());
  };
}
