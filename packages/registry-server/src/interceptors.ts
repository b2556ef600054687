import type { CallContext, MethodInfo } from "./context";

/** One call, as server interceptors see it. */
export interface ServerCall {
  /** The generated description of the method called. */
  readonly method: MethodInfo;
  /**
   * The call's context. An interceptor may pass a changed copy to `next`
   * (`{ ...call, context: { ...call.context, principal } }`): the handler
   * and the interceptors inside it get that copy.
   */
  readonly context: CallContext;
  /**
   * The decoded request of a unary or server-streaming call, to read (the
   * handler gets the decoded message whatever is set here); `undefined` for
   * ImportModels (a client stream) and for a request that could not be
   * decoded (the call then fails INVALID_ARGUMENT).
   */
  readonly request: object | undefined;
}

/**
 * Serves a call. Resolves with the response message of a unary or
 * client-streaming call and with `undefined` once a server-streaming call
 * (WatchModels) has sent everything; rejects with the error that ends the
 * call.
 */
export type ServerCallHandler = (call: ServerCall) => Promise<unknown>;

/**
 * Wraps every ModelService call, unary and streaming alike: receives the
 * next handler and returns one that runs around it (before, after, on
 * failure), can refuse the call by rejecting, or pass `next` a changed
 * context. Interceptors run outermost first, inside the server's own error
 * policy and `authorize` hook:
 *
 * ```ts
 * const timing: ServerInterceptor = (next) => async (call) => {
 *   const started = performance.now();
 *   try {
 *     return await next(call);
 *   } finally {
 *     histogram.record(performance.now() - started, { method: call.method.name });
 *   }
 * };
 * ```
 */
export type ServerInterceptor = (next: ServerCallHandler) => ServerCallHandler;

/**
 * `terminal` wrapped in `interceptors`, the first one outermost. `adopt`
 * turns whatever context an interceptor passes on into the call's own (a
 * spread copy keeps its fields and gets the call's signal back) before the
 * next one, or the handler, sees it.
 */
export function applyInterceptors(
  interceptors: readonly ServerInterceptor[],
  terminal: ServerCallHandler,
  adopt: (context: CallContext) => CallContext = (context) => context,
): ServerCallHandler {
  const adopting =
    (next: ServerCallHandler): ServerCallHandler =>
    (call) => {
      const context = adopt(call.context);
      return next(context === call.context ? call : { ...call, context });
    };
  let handler = adopting(terminal);
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i];
    if (interceptor) handler = adopting(interceptor(handler));
  }
  return handler;
}

/** Runs `handler`; a handler that throws instead of rejecting rejects all the same. */
export function runHandler(handler: ServerCallHandler, call: ServerCall): Promise<unknown> {
  try {
    return handler(call);
  } catch (error) {
    return Promise.reject(error);
  }
}
