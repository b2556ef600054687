import * as grpc from "@grpc/grpc-js";
import { ImportModelsRequest, ImportModelsResponse, ModelService } from "@modelreg/proto";
import type { PartialMessage } from "@protobuf-ts/runtime";
import { onAbort } from "./abort";
import { abortError, fromServiceError } from "./errors";
import type { ChannelPool } from "./pool";

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
}

/** What importModels needs from the client. @internal */
export interface ImportDependencies {
  readonly pool: ChannelPool;
  readonly headers: (extra: Record<string, string> | undefined) => Promise<Record<string, string>>;
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

/**
 * The client-streaming import behind `RegistryClient.importModels`. Never
 * retried: the caller decides, and re-sending items with request ids is safe.
 *
 * @internal
 */
export async function importModels(
  deps: ImportDependencies,
  items: Source,
  options: ImportOptions = {},
): Promise<ImportModelsResponse> {
  const { signal, onProgress } = options;
  const progressEvery = options.progressEvery ?? 100;
  if (!Number.isInteger(progressEvery) || progressEvery < 1) {
    throw new TypeError(`importModels: \`progressEvery\` must be a positive integer (got ${progressEvery})`);
  }
  const iterator = iteratorOf(items);
  if (signal?.aborted) throw abortError(signal);
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(await deps.headers(options.metadata))) metadata.set(key, value);
  const deadline =
    options.deadline !== undefined
      ? options.deadline instanceof Date
        ? options.deadline.getTime()
        : options.deadline
      : options.timeoutMs !== undefined
        ? Date.now() + options.timeoutMs
        : undefined;

  // Settles when the registry answers (or the call fails), possibly before the source is exhausted.
  let finished = false;
  let wakeWriter: () => void = () => {};
  let unsubscribe: () => void = () => {};
  let call: grpc.ClientWritableStream<ImportModelsRequest> | undefined;
  const result = new Promise<ImportModelsResponse>((resolve, reject) => {
    call = deps.pool.pick().makeClientStreamRequest(
      `/${ModelService.typeName}/ImportModels`,
      (value: ImportModelsRequest) => Buffer.from(ImportModelsRequest.toBinary(value)),
      (bytes: Buffer) => ImportModelsResponse.fromBinary(bytes),
      metadata,
      deadline === undefined ? {} : { deadline },
      (error, response) => {
        finished = true;
        unsubscribe();
        wakeWriter();
        if (error) reject(signal?.aborted ? abortError(signal) : fromServiceError(error));
        else resolve(response ?? ImportModelsResponse.create());
      },
    );
  });
  const stream = call as unknown as grpc.ClientWritableStream<ImportModelsRequest>;
  // Failures come through the callback; this keeps a write error from being unhandled.
  stream.on("error", () => {});
  unsubscribe = signal ? onAbort(signal, () => stream.cancel()) : () => {};
  const ended = new Promise<void>((resolve) => {
    result.then(
      () => resolve(),
      () => resolve(),
    );
  });

  let sent = 0;
  let exhausted = false;
  try {
    for (;;) {
      // Race the source against the call, so an abort or an early answer does
      // not wait for a slow source to produce its next item.
      const next = await Promise.race([iterator.next(), ended.then(() => undefined)]);
      if (next === undefined || finished) break;
      if (next.done) {
        exhausted = true;
        stream.end();
        break;
      }
      const message = ImportModelsRequest.create(next.value);
      if (!stream.write(message)) {
        // Backpressure: wait until grpc-js has sent what it holds, or the call ends.
        await new Promise<void>((resolve) => {
          const drained = () => {
            stream.off("drain", drained);
            wakeWriter = () => {};
            resolve();
          };
          wakeWriter = drained;
          stream.on("drain", drained);
        });
      }
      sent++;
      if (onProgress && sent % progressEvery === 0) onProgress({ sent });
    }
  } catch (sourceError) {
    // The source (or an item in it) failed: the registry must not take the
    // stream as complete, so cancel it rather than end it.
    stream.cancel();
    result.catch(() => {});
    throw sourceError;
  } finally {
    if (!exhausted) {
      // Stop a source that is still producing; do not wait for it (a
      // generator busy in an await would hold us up).
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => {});
    }
  }
  if (onProgress && exhausted && (sent === 0 || sent % progressEvery !== 0)) onProgress({ sent });
  return result;
}
