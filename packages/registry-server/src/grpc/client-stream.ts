import type * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";
import type { CallContext, MethodInfo } from "../context";
import { undecodable } from "../decode-failure";
import { CallScope } from "./call-scope";
import { answer, type BindingRuntime, noRequest, serveCall } from "./runtime";
import { toGrpcError } from "./status";

type NextCallback<T> = (message: T | undefined, error: Error | undefined, complete: boolean) => void;

/** The requests of a client-streaming call: protobuf-ts's `RpcOutputStream`. */
export interface RequestStream<T extends object> extends AsyncIterable<T> {
  onNext(callback: NextCallback<T>): () => void;
  onMessage(callback: (message: T) => void): () => void;
  onError(callback: (reason: Error) => void): () => void;
  onComplete(callback: () => void): () => void;
}

/**
 * A call's request stream, decoded item by item as the handler reads it
 * (`for await`: the caller's writes wait while the handler works, so memory
 * holds what the handler holds), or pushed to listeners. Read it once, one
 * way or the other. An item that does not decode arrives as a placeholder
 * (see `decodeFailureOf`), and the stream goes on. When the call is
 * abandoned, reading rejects with the signal's reason: a cancelled stream
 * must not look complete.
 */
class CallRequests<T extends object> implements RequestStream<T> {
  readonly #call: grpc.ServerReadableStream<Buffer, object>;
  readonly #type: IMessageType<T>;
  readonly #signal: AbortSignal;
  readonly #listeners = new Set<NextCallback<T>>();
  #read = false;

  constructor(call: grpc.ServerReadableStream<Buffer, object>, type: IMessageType<T>, signal: AbortSignal) {
    this.#call = call;
    this.#type = type;
    this.#signal = signal;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#read) throw new Error("A request stream can be read once.");
    this.#read = true;
    return this.#items();
  }

  async *#items(): AsyncGenerator<T> {
    try {
      for await (const bytes of this.#call as AsyncIterable<Buffer>) {
        this.#signal.throwIfAborted();
        yield this.#decode(bytes);
      }
    } catch (error) {
      // grpc-js ends a cancelled call's stream with a premature-close error.
      this.#signal.throwIfAborted();
      throw error;
    }
    this.#signal.throwIfAborted();
  }

  #decode(bytes: Buffer): T {
    try {
      return this.#type.fromBinary(bytes);
    } catch (cause) {
      const message = `The item is not a valid ${this.#type.typeName} message.`;
      return undecodable(this.#type, new RegistryError(Code.INVALID_ARGUMENT, message, { cause }));
    }
  }

  onNext(callback: NextCallback<T>): () => void {
    this.#listeners.add(callback);
    if (!this.#read) void this.#push();
    return () => this.#listeners.delete(callback);
  }

  onMessage(callback: (message: T) => void): () => void {
    return this.onNext((message) => message && callback(message));
  }

  onError(callback: (reason: Error) => void): () => void {
    return this.onNext((_, error) => error && callback(error));
  }

  onComplete(callback: () => void): () => void {
    return this.onNext((_message, _error, complete) => complete && callback());
  }

  async #push(): Promise<void> {
    const emit: NextCallback<T> = (message, error, complete) => {
      for (const listener of this.#listeners) listener(message, error, complete);
    };
    try {
      for await (const message of this) emit(message, undefined, false);
      emit(undefined, undefined, true);
    } catch (error) {
      emit(undefined, error instanceof Error ? error : new Error(String(error)), false);
    }
  }
}

/**
 * The grpc-js handler of a client-streaming method (ImportModels): answers
 * the handler's response, or a status when it rejects (unless the caller
 * cancelled: nobody to tell).
 */
export function serveClientStream<I extends object, O extends object>(
  method: MethodInfo,
  runtime: BindingRuntime,
  input: IMessageType<I>,
  handle: (requests: RequestStream<I>, context: CallContext) => Promise<O>,
): grpc.handleClientStreamingCall<Buffer, object> {
  return (call, callback) => {
    const scope = new CallScope(method, call);
    const requests = new CallRequests(call, input, scope.context.signal);
    serveCall(runtime, scope, noRequest, (_none, context) => handle(requests, context))
      .then(
        (response) => answer(runtime, scope, callback, response),
        (error: unknown) => {
          if (!scope.cancelled) callback(toGrpcError(error));
        },
      )
      .finally(() => scope.close());
  };
}
