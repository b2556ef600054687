/**
 * Internal helpers shared by unary and streaming calls: grpc-js errors to
 * RegistryError, the error of an aborted call, an abortable sleep.
 *
 * @internal
 */
import type * as grpc from "@grpc/grpc-js";
import { Code, RegistryError, Status } from "@modelreg/proto";
import { onAbort } from "./abort";

/** A grpc-js error (or final status) as a RegistryError, with the rich details of `grpc-status-details-bin`. */
export function fromServiceError(
  error: Pick<grpc.ServiceError, "code" | "details" | "metadata">,
): RegistryError {
  const [details] = error.metadata?.get("grpc-status-details-bin") ?? [];
  let status: Status | undefined;
  if (Buffer.isBuffer(details)) {
    try {
      status = Status.fromBinary(details);
    } catch {
      // A malformed details header: fall back to the plain status.
    }
  }
  const registryError = RegistryError.fromStatus(
    status ?? Status.create({ code: error.code, message: error.details }),
  );
  Object.defineProperty(registryError, "cause", { value: error, enumerable: false });
  return registryError;
}

export function abortError(signal: AbortSignal): RegistryError {
  return new RegistryError(Code.CANCELLED, "The call was cancelled by its AbortSignal.", {
    cause: signal.reason,
  });
}

/** Resolves after `ms`; rejects with {@link abortError} when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      unsubscribe();
      resolve();
    }, ms);
    const unsubscribe = signal
      ? onAbort(signal, () => {
          clearTimeout(timer);
          reject(abortError(signal));
        })
      : () => {};
  });
}
