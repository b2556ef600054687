/**
 * Server-streaming and client-streaming calls over the pool, as protobuf-ts
 * calls. Never retried here: a stream's progress is the caller's to resume
 * (the resuming watch does so after the last revision it delivered).
 * Streams get no default deadline: they last as long as their data.
 *
 * @internal
 */
import type * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import {
  ClientStreamingCall,
  Deferred,
  type MethodInfo,
  type RpcInputStream,
  type RpcMetadata,
  type RpcOptions,
  type RpcStatus,
  ServerStreamingCall,
} from "@protobuf-ts/runtime-rpc";
import { onAbort } from "./abort";
import { abortError, fromServiceError } from "./errors";
import { fromGrpcMetadata } from "./metadata";
import { CallOutputStream } from "./output-stream";
import { deadlineOf, pathOf, type TransportContext } from "./transport-context";

/** How many unread messages a server stream holds before it pauses the call. */
const highWaterMark = 16;

/** The promises every call shares, settled from the call's final status. */
class CallResult {
  readonly headers = new Deferred<RpcMetadata>();
  readonly status = new Deferred<RpcStatus>();
  readonly trailers = new Deferred<RpcMetadata>();

  fail(error: RegistryError): void {
    for (const d of [this.headers, this.status, this.trailers]) d.rejectPending(error);
  }

  succeed(trailers: RpcMetadata): void {
    this.headers.resolvePending({});
    this.status.resolvePending({ code: "OK", detail: "" });
    this.trailers.resolvePending(trailers);
  }
}

/** The error a final status means, or undefined for OK. */
function errorOf(status: grpc.StatusObject, signal: AbortSignal | undefined): RegistryError | undefined {
  if (status.code === 0) return undefined;
  return signal?.aborted ? abortError(signal) : fromServiceError(status);
}

function callOptionsOf(options: RpcOptions): grpc.CallOptions {
  const deadline = deadlineOf(options, undefined);
  return deadline === undefined ? {} : { deadline };
}

/** Starts a server-streaming call; `responses` applies backpressure through its async iterator. */
export function startServerStreaming<I extends object, O extends object>(
  context: TransportContext,
  method: MethodInfo<I, O>,
  input: I,
  options: RpcOptions,
): ServerStreamingCall<I, O> {
  const result = new CallResult();
  const signal = options.abort;
  let call: grpc.ClientReadableStream<O> | undefined;
  let cancelled = false;
  const responses = new CallOutputStream<O>(highWaterMark, {
    pause: () => call?.pause(),
    resume: () => call?.resume(),
    cancel: () => {
      cancelled = true;
      call?.cancel();
    },
  });
  const fail = (error: unknown) => {
    const registryError = RegistryError.from(error, Code.UNKNOWN);
    responses.end(registryError);
    result.fail(registryError);
  };
  const start = (metadata: grpc.Metadata) => {
    if (signal?.aborted) return fail(abortError(signal));
    const started = context.pool.pick().makeServerStreamRequest(
      pathOf(method),
      (value: I) => Buffer.from(method.I.toBinary(value, options.binaryOptions)),
      (bytes: Buffer) => method.O.fromBinary(bytes, options.binaryOptions),
      input,
      metadata,
      callOptionsOf(options),
    );
    call = started;
    if (cancelled) started.cancel();
    const unsubscribe = signal ? onAbort(signal, () => started.cancel()) : () => {};
    let status: grpc.StatusObject | undefined;
    let ended = false;
    // grpc-js may emit the status before the last buffered messages: finish on both.
    const finish = () => {
      if (!status || !ended) return;
      unsubscribe();
      const error = errorOf(status, signal);
      if (error) return fail(error);
      responses.end();
      result.succeed(fromGrpcMetadata(status.metadata));
    };
    started.on("metadata", (received: grpc.Metadata) =>
      result.headers.resolvePending(fromGrpcMetadata(received)),
    );
    started.on("data", (message: O) => responses.push(message));
    // The status carries the same information; this keeps grpc-js's "error" event handled.
    started.on("error", () => {});
    started.on("status", (received: grpc.StatusObject) => {
      status = received;
      finish();
    });
    started.on("end", () => {
      ended = true;
      finish();
    });
  };
  // `start` may throw too (a closed client's pool): the stream must end with that error.
  context.metadataFor(options.meta).then(start).catch(fail);
  return new ServerStreamingCall(
    method,
    options.meta ?? {},
    input,
    result.headers.promise,
    responses,
    result.status.promise,
    result.trailers.promise,
  );
}

/**
 * The requests of a client-streaming call: `send()` resolves once grpc-js
 * accepts more (backpressure), `complete()` half-closes. Writers waiting for
 * "drain" are released once, also when the call ends.
 */
class CallInputStream<I extends object> implements RpcInputStream<I> {
  readonly #ready: Promise<grpc.ClientWritableStream<I>>;
  readonly #failure: () => RegistryError | undefined;
  readonly #waiters = new Set<() => void>();
  #settled = false;

  constructor(
    ready: Promise<grpc.ClientWritableStream<I>>,
    ended: Promise<unknown>,
    failure: () => RegistryError | undefined,
  ) {
    this.#ready = ready;
    this.#failure = failure;
    const release = () => {
      this.#settled = true;
      for (const wake of this.#waiters) wake();
      this.#waiters.clear();
    };
    ended.then(release, release);
  }

  async send(message: I): Promise<void> {
    const call = await this.#ready;
    this.#throwIfFailed();
    if (call.write(message) || this.#settled) return;
    // Wait until grpc-js has sent what it holds, or the call has ended.
    await new Promise<void>((resolve) => {
      const done = () => {
        call.off("drain", done);
        this.#waiters.delete(done);
        resolve();
      };
      call.on("drain", done);
      this.#waiters.add(done);
    });
    this.#throwIfFailed();
  }

  async complete(): Promise<void> {
    const call = await this.#ready;
    if (!this.#failure()) call.end();
  }

  #throwIfFailed(): void {
    const failure = this.#failure();
    if (failure) throw failure;
  }
}

/**
 * Starts a client-streaming call. `requests.send()` resolves once grpc-js
 * accepts more (backpressure) and rejects with the call's error once it has
 * ended; `complete()` half-closes the stream.
 */
export function startClientStreaming<I extends object, O extends object>(
  context: TransportContext,
  method: MethodInfo<I, O>,
  options: RpcOptions,
): ClientStreamingCall<I, O> {
  const result = new CallResult();
  const response = new Deferred<O>();
  const signal = options.abort;
  let failure: RegistryError | undefined;
  const fail = (error: unknown) => {
    failure ??= RegistryError.from(error, Code.UNKNOWN);
    response.rejectPending(failure);
    result.fail(failure);
  };
  const ready = context.metadataFor(options.meta).then((metadata) => {
    if (signal?.aborted) throw abortError(signal);
    let trailers: RpcMetadata = {};
    const call = context.pool.pick().makeClientStreamRequest(
      pathOf(method),
      (value: I) => Buffer.from(method.I.toBinary(value, options.binaryOptions)),
      (bytes: Buffer) => method.O.fromBinary(bytes, options.binaryOptions),
      metadata,
      callOptionsOf(options),
      (error, message) => {
        unsubscribe();
        if (error) return fail(signal?.aborted ? abortError(signal) : fromServiceError(error));
        // The status (and its trailers) follows the callback.
        queueMicrotask(() => {
          response.resolvePending(message ?? method.O.create());
          result.succeed(trailers);
        });
      },
    );
    call.on("metadata", (received: grpc.Metadata) =>
      result.headers.resolvePending(fromGrpcMetadata(received)),
    );
    call.on("status", (received: grpc.StatusObject) => {
      trailers = fromGrpcMetadata(received.metadata);
    });
    // Failures come through the callback; this keeps a write error from being unhandled.
    call.on("error", () => {});
    const unsubscribe = signal ? onAbort(signal, () => call.cancel()) : () => {};
    return call;
  });
  ready.catch(fail);
  const requests = new CallInputStream<I>(ready, response.promise, () => failure);
  return new ClientStreamingCall(
    method,
    options.meta ?? {},
    requests,
    result.headers.promise,
    response.promise,
    result.status.promise,
    result.trailers.promise,
  );
}
