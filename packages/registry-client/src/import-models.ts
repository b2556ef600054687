import { ImportModelsRequest, type ImportModelsResponse, type ModelServiceClient } from "@modelreg/proto";
import type { PartialMessage } from "@protobuf-ts/runtime";
import type { ClientStreamingCall, RpcMetadata } from "@protobuf-ts/runtime-rpc";
import { onAbort } from "./abort";
import { abortError } from "./errors";

/** One model to import: `{ model, requestId? }`, as `ImportModelsRequest`. */
export type ImportItem = PartialMessage<ImportModelsRequest>;

/** What {@link ImportOptions.onProgress} is told. */
export interface ImportProgress {
  /** Items handed to the stream so far. */
  readonly sent: number;
}

/** Options of {@link RegistryClient.importModels}. */
export interface ImportOptions {
  /** Cancels the import (the registry stops reading; items already written stay). */
  signal?: AbortSignal;
  /** Absolute deadline (a Date or epoch ms). Wins over `timeoutMs`. Default: none. */
  deadline?: Date | number;
  /** Relative deadline. Default: none, since an import lasts as long as its source. */
  timeoutMs?: number;
  /** Headers for this call, added to the client's. */
  metadata?: Record<string, string>;
  /** Called every `progressEvery` items and once when the source is exhausted. */
  onProgress?: (progress: ImportProgress) => void;
  /** How often `onProgress` is called, in items. Default 100. */
  progressEvery?: number;
  /**
   * Called with the registry's response headers before the import resolves,
   * e.g. for its `x-modelreg-revision` (the consistency token of the writes).
   */
  onHeaders?: (headers: RpcMetadata) => void;
}

type Source = Iterable<ImportItem> | AsyncIterable<ImportItem>;

function iteratorOf(items: Source): Iterator<ImportItem> | AsyncIterator<ImportItem> {
  if (items !== null && typeof items === "object") {
    if (Symbol.asyncIterator in items) return items[Symbol.asyncIterator]();
    if (Symbol.iterator in items) return items[Symbol.iterator]();
  }
  throw new TypeError(
    "importModels: `items` must be an iterable or an async iterable of { model, requestId? }",
  );
}

/** `deadline` / `timeoutMs` as protobuf-ts's `timeout`; none by default, since an import lasts as long as its source. */
function timeoutOf(options: ImportOptions): Date | number | undefined {
  if (options.deadline !== undefined) return new Date(options.deadline);
  return options.timeoutMs;
}

/** The call's response, once `onHeaders` has been given its response headers. */
async function withHeaders(
  call: ClientStreamingCall<ImportModelsRequest, ImportModelsResponse>,
  onHeaders: (headers: RpcMetadata) => void,
): Promise<ImportModelsResponse> {
  const [response, headers] = await Promise.all([call.response, call.headers]);
  onHeaders(headers);
  return response;
}

/**
 * The client-streaming import behind `RegistryClient.importModels`. Never
 * retried: the caller decides, and re-sending items with request ids is safe.
 *
 * @internal
 */
export async function importModels(
  service: ModelServiceClient,
  items: Source,
  options: ImportOptions = {},
): Promise<ImportModelsResponse> {
  const { signal } = options;
  const progressEvery = options.progressEvery ?? 100;
  if (!Number.isInteger(progressEvery) || progressEvery < 1) {
    throw new TypeError(`importModels: \`progressEvery\` must be a positive integer (got ${progressEvery})`);
  }
  const iterator = iteratorOf(items);
  if (signal?.aborted) throw abortError(signal);
  // Our own controller: the source failing must cancel the call too.
  const controller = new AbortController();
  const unsubscribe = signal ? onAbort(signal, () => controller.abort()) : () => {};
  const timeout = timeoutOf(options);
  const call = service.importModels({
    abort: controller.signal,
    ...(options.metadata ? { meta: options.metadata } : {}),
    ...(timeout === undefined ? {} : { timeout }),
  });
  const answered = options.onHeaders ? withHeaders(call, options.onHeaders) : call.response;
  const result = answered.then(
    (response) => response,
    (error: unknown) => {
      throw signal?.aborted ? abortError(signal) : error;
    },
  );
  // Settles when the registry answers or the call fails, possibly before the source is exhausted.
  const ended = result.then(
    () => undefined,
    () => undefined,
  );
  try {
    const sent = await pump(iterator, call, ended, options, progressEvery);
    if (sent !== undefined && options.onProgress && (sent === 0 || sent % progressEvery !== 0)) {
      options.onProgress({ sent });
    }
  } catch (sourceError) {
    // The source (or an item in it) failed: the registry must not take the
    // stream as complete, so cancel it rather than end it.
    controller.abort();
    result.catch(() => {});
    throw sourceError;
  } finally {
    unsubscribe();
  }
  return result;
}

/**
 * Sends the source's items as the stream accepts them. Returns how many
 * were sent when the source was exhausted, or undefined when the call ended
 * first; throws what the source throws.
 */
async function pump(
  iterator: Iterator<ImportItem> | AsyncIterator<ImportItem>,
  call: ClientStreamingCall<ImportModelsRequest, ImportModelsResponse>,
  ended: Promise<undefined>,
  options: ImportOptions,
  progressEvery: number,
): Promise<number | undefined> {
  let sent = 0;
  let exhausted = false;
  try {
    for (;;) {
      // Race the source against the call, so an abort or an early answer does
      // not wait for a slow source to produce its next item.
      const next = await Promise.race([iterator.next(), ended]);
      if (next === undefined) return undefined;
      if (next.done) {
        exhausted = true;
        await call.requests.complete();
        return sent;
      }
      const message = ImportModelsRequest.create(next.value);
      // Resolves once grpc-js accepts more (backpressure); rejects once the call has ended.
      const accepted = await Promise.race([
        call.requests.send(message).then(
          () => true,
          () => undefined,
        ),
        ended,
      ]);
      if (accepted === undefined) return undefined;
      sent++;
      if (options.onProgress && sent % progressEvery === 0) options.onProgress({ sent });
    }
  } finally {
    if (!exhausted) {
      // Stop a source that is still producing; do not wait for it (a
      // generator busy in an await would hold us up).
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => {});
    }
  }
}
