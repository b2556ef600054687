/**
 * A unary call over the pool: one logical call, made of attempts. Retries
 * happen here, below the interceptors (which see the call once), and only
 * for calls that are safe to repeat.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import type { FieldInfo } from "@protobuf-ts/runtime";
import {
  Deferred,
  type MethodInfo,
  type RpcMetadata,
  type RpcOptions,
  type RpcStatus,
  UnaryCall,
} from "@protobuf-ts/runtime-rpc";
import { onAbort } from "./abort";
import { abortError, fromServiceError, sleep } from "./errors";
import { fromGrpcMetadata } from "./metadata";
import { deadlineOf, pathOf, type TransportContext, waitForReadyOf } from "./transport-context";

/** What one attempt came to. `neverSent`: the channel had no connection, so no server saw the request. */
type Attempt<O> =
  | { ok: true; response: O; headers: RpcMetadata; trailers: RpcMetadata }
  | { ok: false; error: RegistryError; neverSent: boolean };

const requestIdFields = new WeakMap<MethodInfo, FieldInfo | null>();

/**
 * Whether a call may be sent twice: methods the contract marks
 * `idempotency_level` (reads), and requests that carry a non-empty
 * `request_id` (AIP-155: the server answers a repeat with the first result).
 */
function isIdempotent(method: MethodInfo, input: object): boolean {
  if (method.idempotency !== undefined) return true;
  let field = requestIdFields.get(method);
  if (field === undefined) {
    field = method.I.fields.find((f) => f.name === "request_id" && f.kind === "scalar") ?? null;
    requestIdFields.set(method, field);
  }
  if (field === null) return false;
  const value = (input as Record<string, unknown>)[field.localName];
  return typeof value === "string" && value !== "";
}

/** Starts a unary call; its promises settle when the last attempt does. */
export function startUnary<I extends object, O extends object>(
  context: TransportContext,
  method: MethodInfo<I, O>,
  input: I,
  options: RpcOptions,
): UnaryCall<I, O> {
  return unaryCallOf(method, input, options, runUnary(context, method, input, options));
}

/**
 * A protobuf-ts UnaryCall whose headers, response, status and trailers
 * settle with `outcome`; a failure rejects each as a `RegistryError`.
 *
 * @internal
 */
export function unaryCallOf<I extends object, O extends object>(
  method: MethodInfo<I, O>,
  input: I,
  options: RpcOptions,
  outcome: Promise<{ headers: RpcMetadata; response: O; trailers: RpcMetadata }>,
): UnaryCall<I, O> {
  const headers = new Deferred<RpcMetadata>();
  const response = new Deferred<O>();
  const status = new Deferred<RpcStatus>();
  const trailers = new Deferred<RpcMetadata>();
  outcome.then(
    (result) => {
      headers.resolve(result.headers);
      response.resolve(result.response);
      status.resolve({ code: "OK", detail: "" });
      trailers.resolve(result.trailers);
    },
    (error: unknown) => {
      const registryError = RegistryError.from(error, Code.UNKNOWN);
      for (const d of [headers, response, status, trailers]) d.rejectPending(registryError);
    },
  );
  return new UnaryCall(
    method,
    options.meta ?? {},
    input,
    headers.promise,
    response.promise,
    status.promise,
    trailers.promise,
  );
}

async function runUnary<I extends object, O extends object>(
  context: TransportContext,
  method: MethodInfo<I, O>,
  input: I,
  options: RpcOptions,
): Promise<{ response: O; headers: RpcMetadata; trailers: RpcMetadata }> {
  const deadline = deadlineOf(options, context.defaultTimeoutMs) ?? Number.POSITIVE_INFINITY;
  const signal = options.abort;
  const idempotent = isIdempotent(method, input);
  const waitForReady = waitForReadyOf(options, context.waitForReady);
  const { retry, pool } = context;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortError(signal);
    // Fresh metadata per attempt: grpc-js takes ownership of what it sends.
    const metadata = await context.metadataFor(options.meta);
    if (waitForReady) await waitForConnection(context, deadline, signal);
    if (signal?.aborted) throw abortError(signal);
    const outcome = await sendOnce(context, method, input, options, metadata, deadline);
    if (outcome.ok) {
      retry.recordSuccess();
      return outcome;
    }
    const { error, neverSent } = outcome;
    if (error.code === Code.UNAVAILABLE && !neverSent) retry.recordFailure();
    const backoff = retry.backoffMs(attempt);
    if (!idempotent || !retry.shouldRetry(error, attempt, neverSent) || Date.now() + backoff >= deadline) {
      throw error;
    }
    if (neverSent) {
      // No connection on that channel. Another replica's READY one takes the
      // retry at once; with none, fail fast (UNAVAILABLE now, not after the
      // backoffs) unless the caller asked to wait, which the next attempt does.
      if (!waitForReady && !pool.anyReady()) throw error;
    } else {
      await sleep(backoff, signal);
    }
  }
}

/** Waits for the next channel to be READY; rejects DEADLINE_EXCEEDED at `deadline`, CANCELLED when `signal` aborts. */
function waitForConnection(
  context: TransportContext,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const unsubscribe = signal ? onAbort(signal, () => reject(abortError(signal))) : () => {};
    context.pool.pick().waitForReady(deadline, (error) => {
      unsubscribe();
      if (!error) return resolve();
      reject(
        new RegistryError(Code.DEADLINE_EXCEEDED, "No connection became ready before the deadline.", {
          cause: error,
        }),
      );
    });
  });
}

function sendOnce<I extends object, O extends object>(
  context: TransportContext,
  method: MethodInfo<I, O>,
  input: I,
  options: RpcOptions,
  metadata: grpc.Metadata,
  deadline: number,
): Promise<Attempt<O>> {
  const signal = options.abort;
  const channel = context.pool.pick();
  const neverSent = channel.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY;
  return new Promise((resolve) => {
    let headers: RpcMetadata = {};
    let trailers: RpcMetadata | undefined;
    let result: Attempt<O> | undefined;
    // grpc-js runs the callback, then emits the status (with the trailers): settle on the later of the two.
    const settle = () => {
      if (result === undefined || trailers === undefined) return;
      resolve(result.ok ? { ...result, trailers } : result);
    };
    const call = channel.makeUnaryRequest(
      pathOf(method),
      (value: I) => Buffer.from(method.I.toBinary(value, options.binaryOptions)),
      (bytes: Buffer) => method.O.fromBinary(bytes, options.binaryOptions),
      input,
      metadata,
      { deadline },
      (error, response) => {
        unsubscribe();
        result = error
          ? { ok: false, error: signal?.aborted ? abortError(signal) : fromServiceError(error), neverSent }
          : { ok: true, response: response ?? method.O.create(), headers, trailers: {} };
        settle();
      },
    );
    call.on("metadata", (received: grpc.Metadata) => {
      headers = fromGrpcMetadata(received);
    });
    call.on("status", (received: grpc.StatusObject) => {
      trailers = fromGrpcMetadata(received.metadata);
      settle();
    });
    const unsubscribe = signal ? onAbort(signal, () => call.cancel()) : () => {};
  });
}
