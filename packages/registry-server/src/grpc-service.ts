import * as grpc from "@grpc/grpc-js";
import {
  Code,
  ImportModelsRequest,
  ModelService,
  RegistryError,
  Status,
  type WatchModelsRequest,
} from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";
import { EncodedModelCache } from "./encoded-cache";
import type { Logger } from "./logger";
import type { ModelServiceHandlers, WatchSink } from "./service";
import type { StorageCallOptions } from "./storage/adapter";

/** What an {@link Authorize} hook sees of a call. */
export interface CallInfo {
  /** The full method path, for example `/modelregistry.v1.ModelService/CreateModel`. */
  readonly method: string;
  /** The request headers; read `authorization` here. */
  readonly metadata: grpc.Metadata;
  /** The caller's address. */
  readonly peer: string;
}

/**
 * Runs before every ModelService call. Throw (or reject with) a
 * `RegistryError` with `Code.UNAUTHENTICATED` or `Code.PERMISSION_DENIED` to
 * refuse the call; anything else thrown refuses it as INTERNAL.
 */
export type Authorize = (call: CallInfo) => void | Promise<void>;

/** The call's deadline in `Date.now()` milliseconds, or `undefined` when the caller set none. */
function deadlineOf(call: { getDeadline(): grpc.Deadline }): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Turns any error into what grpc-js sends: a numeric code, a safe message, and google.rpc.Status details. */
function toServiceError(error: unknown, method: string, logger: Logger): Partial<grpc.StatusObject> {
  const registryError = RegistryError.from(error);
  if (
    registryError !== error ||
    registryError.code === Code.INTERNAL ||
    registryError.code === Code.UNKNOWN
  ) {
    // Unexpected: the caller gets a generic message, the log gets the rest.
    logger.error({ method, err: error }, "unexpected error in handler");
  } else if (registryError.code === Code.UNAVAILABLE) {
    logger.warn({ method, err: registryError.cause ?? registryError }, registryError.message);
  }
  const metadata = new grpc.Metadata();
  if (registryError.details.length > 0) {
    metadata.set("grpc-status-details-bin", Buffer.from(Status.toBinary(registryError.toStatus())));
  }
  return { code: registryError.code as number as grpc.status, details: registryError.message, metadata };
}

/**
 * Builds the grpc-js service definition and handlers for ModelService from
 * the generated protobuf-ts description. Our own adapter instead of
 * @protobuf-ts/grpc-backend: errors must reach grpc-js as numeric codes with
 * details and never with a raw exception message, and a request that fails
 * to decode must be INVALID_ARGUMENT, not INTERNAL.
 */
export function bindModelService(
  handlers: ModelServiceHandlers,
  options: {
    logger: Logger;
    authorize?: Authorize | undefined;
    watchStallTimeoutMs?: number | undefined;
    responseCacheBytes?: number | undefined;
  },
): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Ends every open watch with UNAVAILABLE (shutdown). */
  endWatches(): void;
} {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  const { logger, authorize } = options;
  const stallTimeoutMs = options.watchStallTimeoutMs ?? 30_000;
  const cache = new EncodedModelCache(options.responseCacheBytes ?? 8 * 1024 * 1024);
  /** Open watches, so shutdown can end them (grpc-js would wait for them forever). */
  const watches = new Set<AbortController>();
  let shuttingDown = false;

  const decode = <T extends object>(type: IMessageType<T>, bytes: Buffer): T => {
    try {
      return type.fromBinary(bytes);
    } catch (cause) {
      throw new RegistryError(Code.INVALID_ARGUMENT, `The request is not a valid ${type.typeName} message.`, {
        cause,
      });
    }
  };

  /** WatchModels over grpc-js: writes with backpressure, ends with a status, never hangs. */
  function watch(call: grpc.ServerWritableStream<Buffer, object>, type: IMessageType<object>, path: string) {
    const controller = new AbortController();
    watches.add(controller);
    // A watch whose request arrived while the server began to stop.
    if (shuttingDown) controller.abort();
    let cancelled = false;
    call.on("cancelled", () => {
      cancelled = true;
      controller.abort();
    });
    const stopped = () =>
      shuttingDown
        ? new RegistryError(
            Code.UNAVAILABLE,
            "The server is shutting down; resume the watch after the last revision received, on another replica.",
          )
        : new RegistryError(Code.CANCELLED, "The watch was cancelled.");
    const sink: WatchSink = {
      send: (message) =>
        new Promise<void>((resolve, reject) => {
          if (controller.signal.aborted) return reject(stopped());
          if (call.write(message)) return resolve();
          // The transport's buffers are full: wait for the watcher to read, but not forever.
          const done = (error?: RegistryError) => {
            clearTimeout(timer);
            call.off("drain", onDrain);
            controller.signal.removeEventListener("abort", onAbort);
            if (error) reject(error);
            else resolve();
          };
          const onDrain = () => done();
          const onAbort = () => done(stopped());
          const timer = setTimeout(
            () =>
              done(
                new RegistryError(
                  Code.RESOURCE_EXHAUSTED,
                  `The watcher read nothing for ${stallTimeoutMs} ms, so the watch was ended; resume it after the last revision received.`,
                  { reason: "WATCHER_TOO_SLOW" },
                ),
              ),
            stallTimeoutMs,
          );
          call.on("drain", onDrain);
          controller.signal.addEventListener("abort", onAbort, { once: true });
        }),
    };
    const run = async () => {
      if (authorize) await authorize({ method: path, metadata: call.metadata, peer: call.getPeer() });
      await handlers.watchModels(decode(type, call.request) as WatchModelsRequest, sink, controller.signal);
      if (controller.signal.aborted) throw stopped();
    };
    run()
      .then(
        () => call.end(),
        (error: unknown) => {
          if (cancelled) return; // the caller has gone: nobody to tell
          call.emit("error", toServiceError(error, path, logger));
        },
      )
      .finally(() => watches.delete(controller));
  }

  /** ImportModels over grpc-js: items decoded one by one, as fast as they are written. */
  function importModels(
    call: grpc.ServerReadableStream<Buffer, object>,
    callback: grpc.sendUnaryData<object>,
    path: string,
  ) {
    let cancelled = false;
    call.on("cancelled", () => {
      cancelled = true;
    });
    async function* items(): AsyncGenerator<ImportModelsRequest | RegistryError> {
      for await (const bytes of call as AsyncIterable<Buffer>) {
        if (cancelled) break;
        try {
          yield ImportModelsRequest.fromBinary(bytes);
        } catch (cause) {
          yield new RegistryError(
            Code.INVALID_ARGUMENT,
            "The item is not a valid modelregistry.v1.ImportModelsRequest message.",
            { cause },
          );
        }
      }
      // A stream the caller cancelled is not complete: write nothing more of it.
      if (cancelled) throw new RegistryError(Code.CANCELLED, "The import was cancelled.");
    }
    const run = async () => {
      if (authorize) await authorize({ method: path, metadata: call.metadata, peer: call.getPeer() });
      return handlers.importModels(items(), { deadline: deadlineOf(call) });
    };
    run().then(
      (response) => callback(null, response),
      (error: unknown) => {
        if (!cancelled) callback(toServiceError(error, path, logger));
      },
    );
  }

  for (const method of ModelService.methods) {
    const path = `/${ModelService.typeName}/${method.name}`;
    definition[method.name] = {
      path,
      originalName: method.localName,
      requestStream: method.clientStreaming,
      responseStream: method.serverStreaming,
      // Decoded in the handler, so a malformed message becomes INVALID_ARGUMENT.
      requestSerialize: (value: object) => value as Buffer,
      requestDeserialize: (bytes: Buffer) => bytes as object,
      // Unary handlers below hand over responses already encoded.
      responseSerialize: (value: object) =>
        Buffer.isBuffer(value) ? value : Buffer.from(method.O.toBinary(value)),
      responseDeserialize: (bytes: Buffer) => method.O.fromBinary(bytes),
    };

    const handle = (
      handlers as unknown as Record<
        string,
        ((request: object, call: StorageCallOptions) => Promise<object>) | undefined
      >
    )[method.localName]?.bind(handlers);

    if (method.name === "WatchModels") {
      implementation[method.name] = (call: grpc.ServerWritableStream<Buffer, object>) =>
        watch(call, method.I, path);
      continue;
    }
    if (method.name === "ImportModels") {
      implementation[method.name] = (
        call: grpc.ServerReadableStream<Buffer, object>,
        callback: grpc.sendUnaryData<object>,
      ) => importModels(call, callback, path);
      continue;
    }
    if (method.clientStreaming || method.serverStreaming || !handle) {
      throw new Error(`bindModelService: no handler for ${method.name}`);
    }
    const cacheable = EncodedModelCache.canCache(method.O);

    implementation[method.name] = (
      call: grpc.ServerUnaryCall<Buffer, object>,
      callback: grpc.sendUnaryData<object>,
    ) => {
      const respond = (response: object) => {
        try {
          callback(null, cacheable ? cache.encode(method.O, response) : response);
        } catch (error) {
          callback(toServiceError(error, path, logger));
        }
      };
      const fail = (error: unknown) => callback(toServiceError(error, path, logger));
      if (authorize) {
        // A hook may throw or reject: both refuse the call.
        Promise.resolve()
          .then(() => authorize({ method: path, metadata: call.metadata, peer: call.getPeer() }))
          .then(() => handle(decode(method.I, call.request), { deadline: deadlineOf(call) }))
          .then(respond, fail);
        return;
      }
      // No hook: straight to the handler, without an extra promise per call.
      let pending: Promise<object>;
      try {
        pending = handle(decode(method.I, call.request), { deadline: deadlineOf(call) });
      } catch (error) {
        return fail(error);
      }
      pending.then(respond, fail);
    };
  }
  return {
    definition: definition as grpc.ServiceDefinition,
    implementation,
    endWatches() {
      shuttingDown = true;
      for (const controller of watches) controller.abort();
    },
  };
}
