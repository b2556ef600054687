import * as grpc from "@grpc/grpc-js";
import { Code, ModelService, RegistryError, WatchModelsRequest, WatchModelsResponse } from "@modelreg/proto";
import { onAbort } from "./abort";
import { abortError, fromServiceError, sleep } from "./errors";
import type { ChannelPool } from "./pool";

/** Where a watch starts and what it delivers. */
export interface WatchRequest {
  /**
   * Deliver every change with a revision greater than this one: the
   * `revision` of the last message a previous watch yielded. Unset means
   * "from now". A decimal string is accepted too (a revision read back from
   * a file or a database).
   */
  afterRevision?: bigint | number | string;
  /** Deliver only changes whose model matches this filter (the `listModels` syntax). */
  filter?: string;
}

/** How a watch reconnects after its stream fails. */
export interface WatchReconnectOptions {
  /** Backoff before the first reconnect. Default 100 ms. */
  initialBackoffMs?: number;
  /** Upper bound of one backoff (and of one wait for a ready connection). Default 5000 ms. */
  maxBackoffMs?: number;
  /**
   * Give up when no stream could be re-established for this long since the
   * failure (a stream counts as established once it delivers its first
   * message). The iterator then throws the last error. Default 60 000 ms.
   */
  maxDowntimeMs?: number;
}

/** What {@link WatchOptions.onReconnect} is told before each reconnect. */
export interface WatchReconnectInfo {
  /** Consecutive reconnects since the last established stream, from 1. */
  readonly attempt: number;
  /** Why the stream ended. */
  readonly error: RegistryError;
  /** The revision the new stream resumes after; undefined if no message was received yet. */
  readonly afterRevision: bigint | undefined;
  /** How long the watch waits before reconnecting, in ms. */
  readonly delayMs: number;
}

/** Options of {@link RegistryClient.watchModels}. */
export interface WatchOptions {
  /** Ends the watch: the gRPC stream is cancelled and the iterator throws CANCELLED. */
  signal?: AbortSignal;
  /** Headers for the stream, added to the client's (sent again on every reconnect). */
  metadata?: Record<string, string>;
  /** Reconnect settings, or `false` to throw on the first failure. */
  reconnect?: WatchReconnectOptions | false;
  /**
   * Called before each reconnect (for logs and metrics). Throwing from it
   * stops the watch: the iterator throws that error.
   */
  onReconnect?: (info: WatchReconnectInfo) => void;
}

/**
 * Codes after which a watch resumes: the registry going away or restarting
 * (UNAVAILABLE, or a stream cut without a status, which grpc-js reports as
 * UNAVAILABLE or INTERNAL), a proxy resetting the stream (INTERNAL,
 * CANCELLED), a consumer that fell too far behind (RESOURCE_EXHAUSTED).
 * Anything else (OUT_OF_RANGE, INVALID_ARGUMENT, PERMISSION_DENIED,
 * UNAUTHENTICATED, ...) would fail again the same way.
 */
const resumableCodes: ReadonlySet<Code> = new Set([
  Code.OK,
  Code.UNAVAILABLE,
  Code.RESOURCE_EXHAUSTED,
  Code.INTERNAL,
  Code.CANCELLED,
]);

/** Pause reading from the network when this many messages wait for the consumer (HTTP/2 flow control then slows the server). */
const highWaterMark = 16;

type Next = { done: false; value: WatchModelsResponse } | { done: true; status: grpc.StatusObject };

/** One WatchModels call: its messages as a pull queue, and its final status. */
class WatchCall {
  readonly #call: grpc.ClientReadableStream<WatchModelsResponse>;
  readonly #queue: WatchModelsResponse[] = [];
  #status: grpc.StatusObject | undefined;
  #ended = false;
  #waiter: { resolve: () => void } | undefined;

  constructor(channel: grpc.Client, request: WatchModelsRequest, metadata: grpc.Metadata) {
    this.#call = channel.makeServerStreamRequest(
      `/${ModelService.typeName}/WatchModels`,
      (value: WatchModelsRequest) => Buffer.from(WatchModelsRequest.toBinary(value)),
      (bytes: Buffer) => WatchModelsResponse.fromBinary(bytes),
      request,
      metadata,
      {},
    );
    this.#call.on("data", (message: WatchModelsResponse) => {
      this.#queue.push(message);
      if (this.#queue.length >= highWaterMark) this.#call.pause();
      this.#wake();
    });
    // The status event carries the same information; this listener only keeps
    // grpc-js's "error" event from being unhandled.
    this.#call.on("error", () => {});
    this.#call.on("status", (status: grpc.StatusObject) => {
      this.#status = status;
      this.#wake();
    });
    // grpc-js pushes the end of the stream before it emits the status, but
    // messages still buffered come out before "end": wait for both.
    this.#call.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve();
  }

  async next(): Promise<Next> {
    for (;;) {
      const value = this.#queue.shift();
      if (value !== undefined) {
        if (this.#queue.length === 0 && this.#call.isPaused()) this.#call.resume();
        return { done: false, value };
      }
      if (this.#status !== undefined && this.#ended) return { done: true, status: this.#status };
      if (this.#call.isPaused()) this.#call.resume();
      await new Promise<void>((resolve) => {
        this.#waiter = { resolve };
      });
    }
  }

  /** Wakes a pending `next()`, which then sees whatever ended the call. */
  interrupt(): void {
    this.#wake();
  }

  /** Cancels the call if it is still running. */
  cancel(): void {
    if (this.#status === undefined) this.#call.cancel();
  }
}

/** Validates and converts `afterRevision`. */
function toRevision(value: bigint | number | string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  let revision: bigint | undefined;
  if (typeof value === "bigint") revision = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) revision = BigInt(value);
  else if (typeof value === "string" && /^\d{1,19}$/.test(value)) revision = BigInt(value);
  if (revision === undefined || revision < 0n || revision > 0x7fff_ffff_ffff_ffffn) {
    throw new TypeError(
      `watchModels: \`afterRevision\` must be a non-negative integer (a bigint, a safe integer number or a decimal string); got ${typeof value === "bigint" ? `${value}n` : JSON.stringify(value)}`,
    );
  }
  return revision;
}

/** What watchModels needs from the client. @internal */
export interface WatchDependencies {
  readonly pool: ChannelPool;
  /** The client's headers merged with the call's, resolved per attempt. */
  readonly headers: (extra: Record<string, string> | undefined) => Promise<Record<string, string>>;
}

/**
 * The resuming watch behind `RegistryClient.watchModels`. Checks the
 * arguments at once; the stream starts with the first `next()`.
 *
 * @internal
 */
export function watchModels(
  deps: WatchDependencies,
  request: WatchRequest = {},
  options: WatchOptions = {},
): AsyncGenerator<WatchModelsResponse, void, undefined> {
  const after = toRevision(request.afterRevision);
  if (request.filter !== undefined && typeof request.filter !== "string") {
    throw new TypeError("watchModels: `filter` must be a string");
  }
  return watch(deps, after, request.filter ?? "", options);
}

/**
 * A generator, so that `break` (the iterator's `return()`) runs the
 * `finally` that cancels the current call.
 */
async function* watch(
  deps: WatchDependencies,
  startAfter: bigint | undefined,
  filter: string,
  options: WatchOptions,
): AsyncGenerator<WatchModelsResponse, void, undefined> {
  let after = startAfter;
  const { signal } = options;
  const reconnect = options.reconnect === false ? undefined : (options.reconnect ?? {});
  const initialBackoffMs = reconnect?.initialBackoffMs ?? 100;
  const maxBackoffMs = reconnect?.maxBackoffMs ?? 5000;
  const maxDowntimeMs = reconnect?.maxDowntimeMs ?? 60_000;

  // The first progress notification tells the consumer where the watch
  // starts; the ones that open a resumed stream repeat a revision it already
  // has, and are left out.
  let yieldedAny = false;
  let attempt = 0;
  let failingSince: number | undefined;
  let current: WatchCall | undefined;
  const unsubscribe = signal
    ? onAbort(signal, () => {
        current?.cancel();
        current?.interrupt();
      })
    : () => {};

  try {
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(await deps.headers(options.metadata))) {
        metadata.set(key, value);
      }
      const message = WatchModelsRequest.create({ filter });
      if (after !== undefined) message.afterRevision = after;
      const call = new WatchCall(deps.pool.pick(), message, metadata);
      current = call;
      let status: grpc.StatusObject;
      try {
        for (;;) {
          const next = await call.next();
          if (signal?.aborted) throw abortError(signal);
          if (next.done) {
            status = next.status;
            break;
          }
          const response = next.value;
          // The stream is established: the next failure starts a new backoff.
          attempt = 0;
          failingSince = undefined;
          const isDuplicate = after !== undefined && response.revision <= after;
          if (isDuplicate && (response.event !== undefined || yieldedAny)) continue;
          after = response.revision;
          yieldedAny = true;
          yield response;
        }
      } finally {
        // break, return() or an error in the loop: nothing reads this call any more.
        call.cancel();
        current = undefined;
      }

      const error =
        status.code === grpc.status.OK
          ? new RegistryError(Code.UNAVAILABLE, "The registry ended the watch stream.")
          : fromServiceError(status);
      if (reconnect === undefined || !resumableCodes.has(status.code as number as Code)) throw error;
      const now = Date.now();
      failingSince ??= now;
      if (now - failingSince >= maxDowntimeMs) {
        throw new RegistryError(
          error.code,
          `The watch could not be resumed within ${maxDowntimeMs} ms: ${error.message}`,
          { details: error.details, cause: error },
        );
      }
      attempt++;
      // Equal jitter: half fixed, half random, so a loop of failing streams never spins.
      const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1));
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      options.onReconnect?.({ attempt, error, afterRevision: after, delayMs });
      await sleep(delayMs, signal);
      // A restarting registry: wait for any replica's connection rather than fail at once.
      await deps.pool.waitForAnyReady(Date.now() + maxBackoffMs, signal);
    }
  } finally {
    unsubscribe();
  }
}
