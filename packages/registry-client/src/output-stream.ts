/**
 * The messages of a server-streaming call as a protobuf-ts `RpcOutputStream`
 * with backpressure: once iterated, the async iterator holds at most
 * `highWaterMark` unread messages, then pauses the grpc-js call, so HTTP/2
 * flow control slows the server instead of memory growing. Before the
 * iterator exists messages are queued for it as protobuf-ts's own stream
 * does (a caller awaiting only the call's status must not stall it).
 * Listeners (`onNext`, `onMessage`) get every message as it arrives; while
 * only listeners are registered nothing is queued. After the iterator's
 * `return()` (a `break`), the call is cancelled and what still arrives is
 * dropped.
 *
 * @internal
 */
import type { RpcOutputStream } from "@protobuf-ts/runtime-rpc";

type NextCallback<T> = (message: T | undefined, error: Error | undefined, complete: boolean) => void;

/** What the stream may ask of the call that feeds it. */
export interface FlowControl {
  pause(): void;
  resume(): void;
  /** The consumer stopped iterating (`break`): nobody reads the call any more. */
  cancel(): void;
}

export class CallOutputStream<T extends object> implements RpcOutputStream<T> {
  readonly #listeners = new Set<NextCallback<T>>();
  readonly #queue: T[] = [];
  readonly #highWaterMark: number;
  readonly #control: FlowControl;
  #iterating = false;
  #returned = false;
  #paused = false;
  #end: { error: Error | undefined } | undefined;
  #wake: (() => void) | undefined;

  constructor(highWaterMark: number, control: FlowControl) {
    this.#highWaterMark = highWaterMark;
    this.#control = control;
  }

  /** Whether the stream has ended (completed or failed). */
  get closed(): boolean {
    return this.#end !== undefined;
  }

  /** A message from the call. */
  push(message: T): void {
    if (this.#end) return;
    for (const listener of this.#listeners) listener(message, undefined, false);
    if (this.#returned || (!this.#iterating && this.#listeners.size > 0)) return;
    this.#queue.push(message);
    if (this.#iterating && this.#queue.length >= this.#highWaterMark && !this.#paused) {
      this.#paused = true;
      this.#control.pause();
    }
    this.#notify();
  }

  /** The call ended: completed without `error`, failed with it. */
  end(error?: Error): void {
    if (this.#end) return;
    this.#end = { error };
    for (const listener of this.#listeners) listener(undefined, error, error === undefined);
    this.#listeners.clear();
    this.#notify();
  }

  onNext(callback: NextCallback<T>): () => void {
    this.#listeners.add(callback);
    return () => this.#listeners.delete(callback);
  }

  onMessage(callback: (message: T) => void): () => void {
    return this.onNext((message) => {
      if (message !== undefined) callback(message);
    });
  }

  onError(callback: (reason: Error) => void): () => void {
    return this.onNext((_, error) => {
      if (error !== undefined) callback(error);
    });
  }

  onComplete(callback: () => void): () => void {
    return this.onNext((_, __, complete) => {
      if (complete) callback();
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#iterating) throw new Error("The stream can be iterated only once.");
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.#returned = true;
        this.#queue.length = 0;
        if (!this.#end) this.#control.cancel();
        // A paused call never emits "end": let it flow so it can finish.
        if (this.#paused) {
          this.#paused = false;
          this.#control.resume();
        }
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<T>> {
    for (;;) {
      const value = this.#queue.shift();
      if (value !== undefined) {
        if (this.#paused && this.#queue.length === 0) {
          this.#paused = false;
          this.#control.resume();
        }
        return { done: false, value };
      }
      if (this.#end) {
        if (this.#end.error) throw this.#end.error;
        return { done: true, value: undefined };
      }
      if (this.#paused) {
        this.#paused = false;
        this.#control.resume();
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
