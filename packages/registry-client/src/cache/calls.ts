/**
 * A cached answer as a protobuf-ts UnaryCall, and the caller's own deadline
 * and cancellation applied to a read it shares with others.
 *
 * @internal
 */
import { Code, RegistryError } from "@modelreg/proto";
import type { MethodInfo, RpcOptions, UnaryCall } from "@protobuf-ts/runtime-rpc";
import { onAbort } from "../abort";
import { abortError } from "../errors";
import { deadlineOf } from "../transport-context";
import { unaryCallOf } from "../unary-call";

/** A UnaryCall that settles with `answer` (no headers or trailers: the cache answered, or a shared read). */
export function callOf<I extends object, O extends object>(
  method: MethodInfo<I, O>,
  input: I,
  options: RpcOptions,
  answer: Promise<O>,
): UnaryCall<I, O> {
  return unaryCallOf(
    method,
    input,
    options,
    answer.then((response) => ({ headers: {}, response, trailers: {} })),
  );
}

/**
 * `shared` bounded by this caller's deadline (`options.timeout`, else
 * `defaultTimeoutMs`) and `options.abort`: the caller stops waiting (with
 * DEADLINE_EXCEEDED or CANCELLED) while the shared read goes on for others;
 * `gaveUp` is called then.
 */
export function withCallerLimits<T>(
  shared: Promise<T>,
  options: RpcOptions,
  defaultTimeoutMs: number,
  gaveUp: () => void = () => {},
): Promise<T> {
  const deadline = deadlineOf(options, defaultTimeoutMs) ?? Number.POSITIVE_INFINITY;
  const signal = options.abort;
  if (signal === undefined && deadline === Number.POSITIVE_INFINITY) return shared;
  return new Promise<T>((resolve, reject) => {
    const timer =
      deadline === Number.POSITIVE_INFINITY
        ? undefined
        : setTimeout(
            () => {
              gaveUp();
              reject(
                new RegistryError(
                  Code.DEADLINE_EXCEEDED,
                  "The deadline expired before the operation completed.",
                ),
              );
            },
            Math.max(0, deadline - Date.now()),
          );
    const unsubscribe = signal
      ? onAbort(signal, () => {
          gaveUp();
          reject(abortError(signal));
        })
      : () => {};
    shared.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      unsubscribe();
    });
  });
}
