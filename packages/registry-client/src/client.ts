import * as grpc from "@grpc/grpc-js";
import {
  type AddModelTagsRequest,
  type BatchGetModelsRequest,
  Code,
  type CreateModelRequest,
  type DeleteModelRequest,
  type GetModelRequest,
  type ImportModelsResponse,
  type ListModelsRequest,
  type ListModelsResponse,
  type LookupModelRequest,
  type Model,
  ModelService,
  RegistryError,
  type RemoveModelTagsRequest,
  type UpdateModelMetadataRequest,
  type UpdateModelRequest,
  type WatchModelsResponse,
} from "@modelreg/proto";
import type { PartialMessage } from "@protobuf-ts/runtime";
import { onAbort } from "./abort";
import { abortError, fromServiceError, sleep } from "./errors";
import { type ImportItem, type ImportOptions, importModels } from "./import-models";
import { type ChannelInfo, ChannelPool } from "./pool";
import { type RetryOptions, RetryPolicy } from "./retry";
import { type WatchOptions, type WatchRequest, watchModels } from "./watch-models";

type UnaryMethod = (typeof ModelService.methods)[number] & { serverStreaming: false; clientStreaming: false };
/** The name of a unary ModelService method, such as `"GetModel"`. */
export type MethodName =
  | "CreateModel"
  | "GetModel"
  | "LookupModel"
  | "ListModels"
  | "BatchGetModels"
  | "UpdateModel"
  | "DeleteModel"
  | "AddModelTags"
  | "RemoveModelTags"
  | "UpdateModelMetadata";

/** Per-call options. */
export interface CallOptions {
  /** Absolute deadline (a Date or epoch milliseconds), for example an incoming request's. Wins over `timeoutMs`. */
  deadline?: Date | number;
  /** Relative deadline. Default: the client's `defaultTimeoutMs`. */
  timeoutMs?: number;
  /** Cancels the call (and its retries) when aborted. The client removes its listener when the call ends. */
  signal?: AbortSignal;
  /** Headers for this call, added to the client's. */
  metadata?: Record<string, string>;
  /** Wait for a connection instead of failing fast with UNAVAILABLE while none is ready. */
  waitForReady?: boolean;
}

/** What an interceptor sees of a call, and may change before passing it on. */
export interface UnaryRequest {
  readonly method: MethodName;
  /** The request message. */
  readonly message: object;
  /** Headers; interceptors may add to them. */
  readonly metadata: grpc.Metadata;
  /** Absolute deadline, epoch milliseconds. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
}

/** Sends a request and resolves with the response message. */
export type UnaryFn = (request: UnaryRequest) => Promise<object>;

/**
 * Wraps every call (after retries are decided, once per attempt): logging,
 * tracing, metrics, auth. `(next) => async (req) => { ...; return next(req); }`.
 */
export type Interceptor = (next: UnaryFn) => UnaryFn;

/** TLS settings; omit `cert`/`key` for server-only TLS. */
export interface ClientTlsOptions {
  /** PEM root certificates to trust. Default: the system's. */
  ca?: Buffer;
  /** PEM client certificate chain, for mutual TLS. */
  cert?: Buffer;
  /** PEM client private key, for mutual TLS. */
  key?: Buffer;
}

/** Options for {@link createRegistryClient}. */
export interface RegistryClientOptions {
  /** `host:port` of the registry, several replicas as an array or a comma-separated list. */
  target: string | readonly string[];
  /** Use TLS. Either this, `credentials` or `insecure: true` must be given. */
  tls?: ClientTlsOptions;
  /** Plaintext (development, or a sidecar that adds TLS). */
  insecure?: boolean;
  /** Custom grpc-js channel credentials, instead of `tls`. */
  credentials?: grpc.ChannelCredentials;
  /** Connections per target. Default 2. */
  poolSize?: number;
  /** Keepalive pings. Default: every 10 s, 20 s timeout, also without calls in flight. */
  keepalive?: { timeMs?: number; timeoutMs?: number; permitWithoutCalls?: boolean };
  /** Deadline of a call without one. Default 30 000 ms. */
  defaultTimeoutMs?: number;
  /** Retries of idempotent calls on UNAVAILABLE; `false` disables them. */
  retry?: RetryOptions | false;
  /** Default for {@link CallOptions.waitForReady}. Default false. */
  waitForReady?: boolean;
  /** Headers for every call (an auth token), or a function called per call that returns them. */
  metadata?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** Interceptors, outermost first. They wrap unary calls; `watchModels` and `importModels` do not pass through them. */
  interceptors?: readonly Interceptor[];
  /** Largest response accepted, in bytes. Default 16 MiB. */
  maxReceiveMessageBytes?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

type Req<T extends object> = PartialMessage<T>;

/** A ModelService client; see {@link createRegistryClient}. */
export interface RegistryClient {
  /** Registers a model. Retried on UNAVAILABLE only when `requestId` is set. */
  createModel(request: Req<CreateModelRequest>, options?: CallOptions): Promise<Model>;
  getModel(request: Req<GetModelRequest>, options?: CallOptions): Promise<Model>;
  lookupModel(request: Req<LookupModelRequest>, options?: CallOptions): Promise<Model>;
  /** One page; see {@link RegistryClient.listAllModels} to walk every page. */
  listModels(request?: Req<ListModelsRequest>, options?: CallOptions): Promise<ListModelsResponse>;
  /** Every model matching `filter`, fetching pages as the loop goes. `pageToken` is ignored. */
  listAllModels(request?: Req<ListModelsRequest>, options?: CallOptions): AsyncIterable<Model>;
  batchGetModels(request: Req<BatchGetModelsRequest>, options?: CallOptions): Promise<Model[]>;
  updateModel(request: Req<UpdateModelRequest>, options?: CallOptions): Promise<Model>;
  deleteModel(request: Req<DeleteModelRequest>, options?: CallOptions): Promise<void>;
  addModelTags(request: Req<AddModelTagsRequest>, options?: CallOptions): Promise<Model>;
  removeModelTags(request: Req<RemoveModelTagsRequest>, options?: CallOptions): Promise<Model>;
  updateModelMetadata(request: Req<UpdateModelMetadataRequest>, options?: CallOptions): Promise<Model>;
  /**
   * Watches every committed change, in revision order, as an async iterator
   * that runs until `break`, an error, or `options.signal`.
   *
   * Yields `WatchModelsResponse` messages: a change (`event` set) or a
   * progress notification (`event` unset; the first message is one, giving
   * the revision the watch starts at). Keep the last `revision` to resume a
   * later watch with `afterRevision`. When the stream fails in a way that
   * can heal (the registry restarting or unreachable, a proxy resetting the
   * stream, a consumer that fell behind), the watch reconnects with backoff,
   * to any replica, and resumes after the last revision it yielded: no change
   * is skipped or delivered twice. Other failures are thrown as
   * `RegistryError`: OUT_OF_RANGE when `afterRevision` is older than the
   * retained history (list again, then watch from that point),
   * INVALID_ARGUMENT for a bad filter, PERMISSION_DENIED, UNAUTHENTICATED.
   * There is no deadline; keepalive detects dead connections.
   */
  watchModels(request?: WatchRequest, options?: WatchOptions): AsyncIterableIterator<WatchModelsResponse>;
  /**
   * Registers many models over one client stream and resolves with the
   * registry's summary (counts, and one result per item not created).
   * `items` may be any iterable or async iterable; it is read as the stream
   * accepts more (backpressure), so it may be large or endless until it ends.
   * If the source throws, the call is cancelled and the promise rejects with
   * that error. Never retried automatically: give items a `requestId` and
   * re-send the whole source after a failure; items that were created are
   * reported CREATED again without being created twice.
   */
  importModels(
    items: Iterable<ImportItem> | AsyncIterable<ImportItem>,
    options?: ImportOptions,
  ): Promise<ImportModelsResponse>;
  /**
   * Calls any unary method by name with a plain request object and resolves
   * with the full response message (what the gateway uses).
   */
  call(method: MethodName, request: object, options?: CallOptions): Promise<object>;
  /** Waits until every pooled connection is READY; fails with UNAVAILABLE after `timeoutMs` (default 10 s). */
  connect(options?: { timeoutMs?: number }): Promise<void>;
  /** The targets and the state of each pooled connection. */
  channels(): ChannelInfo[];
  /** The configured targets. */
  readonly targets: readonly string[];
  /** Closes every connection. Calls in flight fail with CANCELLED. Safe to call twice. */
  close(): void;
}

const methods = new Map(
  ModelService.methods
    .filter((m): m is UnaryMethod => !m.serverStreaming && !m.clientStreaming)
    .map((m) => [m.name as MethodName, m]),
);

/** Idempotent calls (AIP-155 creates included) may be retried; other writes never are. */
function isIdempotent(method: MethodName, message: object): boolean {
  switch (method) {
    case "GetModel":
    case "LookupModel":
    case "ListModels":
    case "BatchGetModels":
      return true;
    case "CreateModel":
      return (message as CreateModelRequest).requestId !== "";
    default:
      return false;
  }
}

function toDeadline(options: CallOptions, defaultTimeoutMs: number): number {
  if (options.deadline !== undefined) {
    return options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
  }
  return Date.now() + (options.timeoutMs ?? defaultTimeoutMs);
}

function parseTargets(target: string | readonly string[]): string[] {
  const list = (typeof target === "string" ? target.split(",") : [...target])
    .map((t) => t.trim())
    .filter(Boolean);
  if (list.length === 0)
    throw new TypeError("createRegistryClient: `target` must name at least one host:port");
  return [...new Set(list)];
}

/**
 * Creates a typed ModelService client with a connection pool, keepalive,
 * deadlines on every call and retries for idempotent calls.
 *
 * ```ts
 * const client = createRegistryClient({ target: "localhost:9090", insecure: true });
 * await client.connect();
 * const model = await client.createModel({ model: { name: "bert", version: "1.0.0" } });
 * client.close();
 * ```
 */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const targets = parseTargets(options?.target ?? "");
  const credentials =
    options.credentials ??
    (options.tls
      ? grpc.credentials.createSsl(options.tls.ca ?? null, options.tls.key ?? null, options.tls.cert ?? null)
      : options.insecure === true
        ? grpc.credentials.createInsecure()
        : undefined);
  if (!credentials) {
    throw new TypeError(
      "createRegistryClient: pass `tls` (or `credentials`), or `insecure: true` for plaintext",
    );
  }
  const poolSize = options.poolSize ?? 2;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 64) {
    throw new TypeError(
      `createRegistryClient: \`poolSize\` must be an integer from 1 to 64 (got ${poolSize})`,
    );
  }
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  const keepalive = options.keepalive ?? {};
  const pool = new ChannelPool(targets, poolSize, credentials, {
    "grpc.keepalive_time_ms": keepalive.timeMs ?? 10_000,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs ?? 20_000,
    "grpc.keepalive_permit_without_calls": keepalive.permitWithoutCalls === false ? 0 : 1,
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? 16 * 1024 * 1024,
    // Retries are ours (idempotency-aware, budgeted); grpc-js's own would double them.
    "grpc.enable_retries": 0,
    // Reconnect soon after a registry restart (grpc-js waits 1 s, then longer).
    "grpc.initial_reconnect_backoff_ms": 250,
    "grpc.max_reconnect_backoff_ms": 5000,
    ...options.channelOptions,
  });
  const retry =
    options.retry === false ? new RetryPolicy({ maxAttempts: 1 }) : new RetryPolicy(options.retry);

  // Attempts whose channel had no connection when the call started: their
  // UNAVAILABLE means the request never reached a server. Keyed by the
  // attempt's metadata object, which interceptors pass along.
  const notConnected = new WeakSet<grpc.Metadata>();

  // One attempt on one channel: the innermost UnaryFn, wrapped by interceptors.
  const send: UnaryFn = (request) => {
    const method = methods.get(request.method);
    if (!method) return Promise.reject(new TypeError(`unknown method ${request.method}`));
    const channel = pool.pick();
    if (channel.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY) {
      notConnected.add(request.metadata);
    }
    return new Promise((resolve, reject) => {
      const { signal } = request;
      if (signal?.aborted) return reject(abortError(signal));
      const call = channel.makeUnaryRequest(
        `/${ModelService.typeName}/${method.name}`,
        (value: object) => Buffer.from(method.I.toBinary(value)),
        (bytes: Buffer) => method.O.fromBinary(bytes),
        request.message,
        request.metadata,
        { deadline: request.deadline },
        (error, response) => {
          unsubscribe();
          if (error) reject(signal?.aborted ? abortError(signal) : fromServiceError(error));
          else resolve(response ?? method.O.create());
        },
      );
      const unsubscribe = signal ? onAbort(signal, () => call.cancel()) : () => {};
    });
  };
  const intercepted = [...(options.interceptors ?? [])]
    .reverse()
    .reduce((next, interceptor) => interceptor(next), send);

  async function call(
    methodName: MethodName,
    request: object,
    callOptions: CallOptions = {},
  ): Promise<object> {
    const method = methods.get(methodName);
    if (!method) throw new TypeError(`createRegistryClient: unknown method ${methodName}`);
    const message = method.I.create(request as never);
    const deadline = toDeadline(callOptions, defaultTimeoutMs);
    const { signal } = callOptions;
    const headers = {
      ...(typeof options.metadata === "function" ? await options.metadata() : options.metadata),
      ...callOptions.metadata,
    };
    const idempotent = isIdempotent(methodName, message);

    for (let attempt = 1; ; attempt++) {
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
      try {
        if (callOptions.waitForReady ?? options.waitForReady) {
          await new Promise<void>((resolve, reject) =>
            pool
              .pick()
              .waitForReady(deadline, (error) =>
                error
                  ? reject(
                      new RegistryError(
                        Code.DEADLINE_EXCEEDED,
                        "No connection became ready before the deadline.",
                        { cause: error },
                      ),
                    )
                  : resolve(),
              ),
          );
        }
        const response = await intercepted({ method: methodName, message, metadata, deadline, signal });
        retry.recordSuccess();
        return response;
      } catch (error) {
        const registryError = RegistryError.from(error, Code.UNKNOWN);
        const neverSent = notConnected.has(metadata);
        if (registryError.code === Code.UNAVAILABLE && !neverSent) retry.recordFailure();
        const backoff = retry.backoffMs(attempt);
        if (
          !idempotent ||
          !retry.shouldRetry(registryError.code, attempt, neverSent) ||
          Date.now() + backoff >= deadline
        ) {
          throw registryError;
        }
        if (neverSent) {
          // No connection: wait for one (a restarting registry) rather than
          // spending attempts on calls that fail at once.
          await pool.waitForAnyReady(Math.min(deadline, Date.now() + retry.maxBackoffMs), signal);
        } else {
          await sleep(backoff, signal);
        }
      }
    }
  }

  const headersFor = async (extra: Record<string, string> | undefined) => ({
    ...(typeof options.metadata === "function" ? await options.metadata() : options.metadata),
    ...extra,
  });
  const streams = { pool, headers: headersFor };

  const unwrap = async (method: MethodName, request: object, callOptions?: CallOptions) =>
    ((await call(method, request, callOptions)) as { model?: Model }).model as Model;

  return {
    targets,
    createModel: (request, callOptions) => unwrap("CreateModel", request, callOptions),
    getModel: (request, callOptions) => unwrap("GetModel", request, callOptions),
    lookupModel: (request, callOptions) => unwrap("LookupModel", request, callOptions),
    listModels: (request = {}, callOptions) =>
      call("ListModels", request, callOptions) as Promise<ListModelsResponse>,
    async *listAllModels(request = {}, callOptions) {
      let pageToken = "";
      do {
        const page = (await call("ListModels", { ...request, pageToken }, callOptions)) as ListModelsResponse;
        yield* page.models;
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    },
    batchGetModels: async (request, callOptions) =>
      ((await call("BatchGetModels", request, callOptions)) as { models: Model[] }).models,
    updateModel: (request, callOptions) => unwrap("UpdateModel", request, callOptions),
    deleteModel: async (request, callOptions) => {
      await call("DeleteModel", request, callOptions);
    },
    addModelTags: (request, callOptions) => unwrap("AddModelTags", request, callOptions),
    removeModelTags: (request, callOptions) => unwrap("RemoveModelTags", request, callOptions),
    updateModelMetadata: (request, callOptions) => unwrap("UpdateModelMetadata", request, callOptions),
    watchModels: (request, watchOptions) => watchModels(streams, request, watchOptions),
    importModels: (items, importOptions) => importModels(streams, items, importOptions),
    call,
    connect: ({ timeoutMs = 10_000 } = {}) => pool.connect(timeoutMs),
    channels: () => pool.info(),
    close: () => pool.close(),
  };
}
