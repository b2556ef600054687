import {
  Code,
  type ModelServiceClient,
  RegistryError,
  WatchModelsRequest,
  type WatchModelsResponse,
} from "@modelreg/proto";
import { onAbort } from "./abort";
import { abortError, sleep } from "./errors";
import type { RegistryTransport } from "./transport";

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
  /**
   * Ask for a progress notification whenever nothing was sent for this many
   * milliseconds (sent as `progress_interval`), so a quiet stream can be told
   * from a broken one within a bounded time. A whole number of at least 100;
   * the registry caps it at its own interval (10 s by default). Unset: the
   * registry's. When set, every progress notification is yielded, also
   * those repeating the last revision (unset, only those that advance it).
   */
  progressIntervalMs?: number;
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

/** Validates and converts `afterRevision`. */
function toRevision(value: bigint | number | string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  let revision: bigint | undefined;
  if (typeof value === "bigint") revision = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) revision = BigInt(value);
  else if (typeof value === "string" && /^\d{1,19}$/.test(value)) revision = BigInt(value);
  if (revision === undefined || revision < 0n || revision > 0x7fff_ffff_ffff_ffffn) {
    // INVALID_ARGUMENT, not a TypeError: the value often comes from a caller (a query string, a file).
    const got = typeof value === "bigint" ? `${value}n` : JSON.stringify(value)?.slice(0, 40);
    throw new RegistryError(
      Code.INVALID_ARGUMENT,
      `watchModels: \`afterRevision\` must be a non-negative integer of at most 2^63-1 (a bigint, a safe integer number or a decimal string); got ${got}`,
      { violations: [{ field: "after_revision", description: "must be a non-negative integer revision" }] },
    );
  }
  return revision;
}

/** What watchModels needs from the client. @internal */
export interface WatchDependencies {
  /** The generated client the streams are opened with. */
  readonly service: ModelServiceClient;
  /** For waiting until a replica's connection is back. */
  readonly transport: RegistryTransport;
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
  const { progressIntervalMs } = request;
  if (
    progressIntervalMs !== undefined &&
    (typeof progressIntervalMs !== "number" ||
      !Number.isSafeInteger(progressIntervalMs) ||
      progressIntervalMs < 100)
  ) {
    throw new TypeError(
      `watchModels: \`progressIntervalMs\` must be a whole number of milliseconds, at least 100; got ${String(progressIntervalMs).slice(0, 40)}`,
    );
  }
  return watch(deps, after, { filter: request.filter ?? "", progressIntervalMs }, options);
}

/** What every stream of one watch asks for besides where to resume. */
interface StreamRequest {
  readonly filter: string;
  readonly progressIntervalMs: number | undefined;
}

/** The WatchModelsRequest of one stream, resuming after `after`. */
function streamRequest(ask: StreamRequest, after: bigint | undefined): WatchModelsRequest {
  const request = WatchModelsRequest.create({ filter: ask.filter });
  if (after !== undefined) request.afterRevision = after;
  if (ask.progressIntervalMs !== undefined) {
    const ms = ask.progressIntervalMs;
    request.progressInterval = { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
  }
  return request;
}

/** Where a watch has got to, shared by the streams it opens one after another. */
interface WatchState {
  /** The revision of the last message yielded (or the one asked for). */
  after: bigint | undefined;
  /** Whether anything was yielded yet: the first progress notification is, later ones that repeat a revision are not. */
  yieldedAny: boolean;
}

/** Reconnect timing: exponential backoff with equal jitter, bounded by a maximum downtime. */
class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly maxDowntimeMs: number;
  #attempt = 0;
  #failingSince: number | undefined;

  constructor(options: WatchReconnectOptions) {
    this.initialMs = options.initialBackoffMs ?? 100;
    this.maxMs = options.maxBackoffMs ?? 5000;
    this.maxDowntimeMs = options.maxDowntimeMs ?? 60_000;
  }

  /** A stream delivered a message: the next failure starts a new backoff. */
  established(): void {
    this.#attempt = 0;
    this.#failingSince = undefined;
  }

  /** The next reconnect's attempt number and delay; throws once the watch has been down too long. */
  next(error: RegistryError): { attempt: number; delayMs: number } {
    const now = Date.now();
    this.#failingSince ??= now;
    if (now - this.#failingSince >= this.maxDowntimeMs) {
      // A fixed message: the last error's may be grpc-js's text, which names addresses.
      throw new RegistryError(error.code, `The watch could not be resumed within ${this.maxDowntimeMs} ms.`, {
        details: error.details,
        cause: error,
        ...(error.reason === undefined ? {} : { reason: error.reason }),
      });
    }
    const attempt = ++this.#attempt;
    // Equal jitter: half fixed, half random, so a loop of failing streams never spins.
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** (attempt - 1));
    return { attempt, delayMs: Math.round(ceiling / 2 + (Math.random() * ceiling) / 2) };
  }
}

/**
 * A generator, so that `break` (the iterator's `return()`) runs the
 * `finally` that cancels the current stream.
 */
async function* watch(
  deps: WatchDependencies,
  startAfter: bigint | undefined,
  ask: StreamRequest,
  options: WatchOptions,
): AsyncGenerator<WatchModelsResponse, void, undefined> {
  const { signal } = options;
  const state: WatchState = { after: startAfter, yieldedAny: false };
  const backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect ?? {});
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    const error = yield* streamOnce(deps, state, ask, options, () => backoff?.established());
    if (backoff === undefined || !resumableCodes.has(error.code)) throw error;
    const { attempt, delayMs } = backoff.next(error);
    options.onReconnect?.({ attempt, error, afterRevision: state.after, delayMs });
    await sleep(delayMs, signal);
    // A restarting registry: wait for any replica's connection rather than fail at once.
    await deps.transport.waitForAnyReady(Date.now() + backoff.maxMs, signal);
  }
}

/**
 * One WatchModels stream, resuming after `state.after`: yields what the
 * consumer has not seen and returns why the stream ended. Throws only when
 * the watch's own signal aborted.
 */
async function* streamOnce(
  deps: WatchDependencies,
  state: WatchState,
  ask: StreamRequest,
  options: WatchOptions,
  onEstablished: () => void,
): AsyncGenerator<WatchModelsResponse, RegistryError, undefined> {
  const { signal } = options;
  const controller = new AbortController();
  const unsubscribe = signal ? onAbort(signal, () => controller.abort()) : () => {};
  const call = deps.service.watchModels(streamRequest(ask, state.after), {
    abort: controller.signal,
    ...(options.metadata ? { meta: options.metadata } : {}),
  });
  const responses = call.responses[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<WatchModelsResponse>;
      try {
        next = await responses.next();
      } catch (error) {
        if (signal?.aborted) throw abortError(signal);
        return RegistryError.from(error, Code.UNKNOWN);
      }
      if (signal?.aborted) throw abortError(signal);
      if (next.done) return new RegistryError(Code.UNAVAILABLE, "The registry ended the watch stream.");
      const response = next.value;
      onEstablished();
      const isDuplicate = state.after !== undefined && response.revision <= state.after;
      // Events are never yielded twice. Progress notifications repeating a
      // revision are yielded only to a caller that asked for them
      // (`progressIntervalMs`: they tell a quiet stream from a broken one).
      const wantsProgress = ask.progressIntervalMs !== undefined && response.revision === state.after;
      if (isDuplicate && (response.event !== undefined || (state.yieldedAny && !wantsProgress))) continue;
      state.after = response.revision;
      state.yieldedAny = true;
      yield response;
    }
  } finally {
    // break, return() or an error: nothing reads this stream any more.
    controller.abort();
    unsubscribe();
  }
}
