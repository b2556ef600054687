import {
  AddModelTagsRequest,
  BatchGetModelsRequest,
  Code,
  CreateModelRequest,
  type DeleteModelAliasRequest,
  DeleteModelRequest,
  type GetModelAliasRequest,
  GetModelRequest,
  type HistoryEntry,
  type ImportModelsResponse,
  type ListModelAliasesRequest,
  type ListModelAliasesResponse,
  type ListModelHistoryRequest,
  type ListModelHistoryResponse,
  ListModelsRequest,
  type ListModelsResponse,
  LookupModelRequest,
  type Model,
  type ModelAlias,
  ModelServiceClient,
  parseRevision,
  RegistryError,
  RemoveModelTagsRequest,
  type SetModelAliasRequest,
  UpdateModelMetadataRequest,
  UpdateModelRequest,
  type WatchModelsResponse,
} from "@modelreg/proto";
import type { PartialMessage } from "@protobuf-ts/runtime";
import type { RpcOptions } from "@protobuf-ts/runtime-rpc";
import { aliasMethods, type ResolveAliasOptions } from "./aliases";
import { modelOf } from "./answers";
import type { CacheStats } from "./cache/types";
import { type ImportItem, type ImportOptions, importModels } from "./import-models";
import { allPages } from "./paging";
import type { ChannelInfo } from "./pool";
import { type RegistryRpcOptions, RegistryTransport, type RegistryTransportOptions } from "./transport";
import { type WatchOptions, type WatchRequest, watchModels } from "./watch-models";

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
  /**
   * Reads only: the consistency token of a write made elsewhere (its
   * `x-modelreg-revision` header, or the gateway's `X-Modelreg-Revision`).
   * A cache that has not yet applied that revision asks the registry.
   */
  minRevision?: bigint | number | string;
}

/** Options for {@link createRegistryClient}: the transport's. */
export type RegistryClientOptions = RegistryTransportOptions;

type Req<T extends object> = PartialMessage<T>;

/** A ModelService client; see {@link createRegistryClient}. */
export interface RegistryClient {
  /** Registers a model. Retried on UNAVAILABLE only when `requestId` is set. */
  createModel(request: Req<CreateModelRequest>, options?: CallOptions): Promise<Model>;
  /** One model by id; NOT_FOUND if there is none. */
  getModel(request: Req<GetModelRequest>, options?: CallOptions): Promise<Model>;
  /**
   * One model by its name and either its `version` or an `alias` (with
   * `readTime`, the alias as it was then); NOT_FOUND if there is none. See
   * {@link RegistryClient.resolveAlias} for the alias case.
   */
  lookupModel(request: Req<LookupModelRequest>, options?: CallOptions): Promise<Model>;
  /** One page; see {@link RegistryClient.listAllModels} to walk every page. */
  listModels(request?: Req<ListModelsRequest>, options?: CallOptions): Promise<ListModelsResponse>;
  /** Every model matching `filter`, fetching pages as the loop goes. `pageToken` is ignored. */
  listAllModels(request?: Req<ListModelsRequest>, options?: CallOptions): AsyncIterable<Model>;
  /** Many models by id, in the order asked; NOT_FOUND naming the ids that do not exist. */
  batchGetModels(request: Req<BatchGetModelsRequest>, options?: CallOptions): Promise<Model[]>;
  /** Changes the fields in `updateMask` (every field set, without one); conditional on `model.etag` when set. */
  updateModel(request: Req<UpdateModelRequest>, options?: CallOptions): Promise<Model>;
  /**
   * Deletes a model, conditional on `etag` when set. A model an alias points
   * at is FAILED_PRECONDITION naming the aliases, unless `force` is true:
   * then its aliases are deleted with it.
   */
  deleteModel(request: Req<DeleteModelRequest>, options?: CallOptions): Promise<void>;
  /** Adds tags, atomically, with set semantics. */
  addModelTags(request: Req<AddModelTagsRequest>, options?: CallOptions): Promise<Model>;
  /** Removes tags, atomically; a tag the model lacks is not an error. */
  removeModelTags(request: Req<RemoveModelTagsRequest>, options?: CallOptions): Promise<Model>;
  /** Sets and removes metadata keys in one atomic step. */
  updateModelMetadata(request: Req<UpdateModelMetadataRequest>, options?: CallOptions): Promise<Model>;
  /**
   * Creates or moves an alias (`bert@champion -> 1.1.0`) atomically and
   * returns it. With `expectedVersion` it is a compare-and-set: if the alias
   * does not point at that version now, ABORTED with reason `ALIAS_CHANGED`
   * (`""` means "must not exist yet"). A protected alias the registry's
   * promotion policy refuses fails with PERMISSION_DENIED (role) or
   * FAILED_PRECONDITION (evidence; read the missing items with
   * `preconditionViolations(error)`). Retried on UNAVAILABLE only when
   * `requestId` is set: a retry then returns what the first call set.
   */
  setModelAlias(request: Req<SetModelAliasRequest>, options?: CallOptions): Promise<ModelAlias>;
  /** One alias of a name; NOT_FOUND if there is none. */
  getModelAlias(request: Req<GetModelAliasRequest>, options?: CallOptions): Promise<ModelAlias>;
  /**
   * One page of the aliases of `name` (of every name when empty), ordered by
   * name then alias; see {@link RegistryClient.listAllModelAliases} to walk every page.
   */
  listModelAliases(
    request?: Req<ListModelAliasesRequest>,
    options?: CallOptions,
  ): Promise<ListModelAliasesResponse>;
  /** Every alias of `name` (of every name when empty), fetching pages as the loop goes. `pageToken` is ignored. */
  listAllModelAliases(
    request?: Req<ListModelAliasesRequest>,
    options?: CallOptions,
  ): AsyncIterable<ModelAlias>;
  /** Deletes an alias, only if it still points at `expectedVersion` when set (else ABORTED, `ALIAS_CHANGED`). */
  deleteModelAlias(request: Req<DeleteModelAliasRequest>, options?: CallOptions): Promise<void>;
  /**
   * One page of the audit history, newest first: every change to models and
   * aliases with its actor, request id and before/after states, and every
   * promotion a policy refused (`refusal` set). Narrow it with `name`,
   * `alias`, `modelId` and `filter` (`actor = "ana"`, `type = ALIAS_SET`,
   * `commit_time >= "2026-11-30T00:00:00Z"`, `refused = true`).
   */
  listModelHistory(
    request?: Req<ListModelHistoryRequest>,
    options?: CallOptions,
  ): Promise<ListModelHistoryResponse>;
  /** Every history entry matching the request, newest first, fetching pages as the loop goes. `pageToken` is ignored. */
  listAllModelHistory(
    request?: Req<ListModelHistoryRequest>,
    options?: CallOptions,
  ): AsyncIterable<HistoryEntry>;
  /**
   * The model `name@alias` points at (LookupModel by alias); with
   * `options.readTime`, the model it pointed at then, as it was then.
   * `latest` is the newest version by create time. NOT_FOUND (a
   * `RegistryError`) when the alias does not exist, or pointed nowhere at
   * `readTime`.
   */
  resolveAlias(name: string, alias: string, options?: ResolveAliasOptions): Promise<Model>;
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
   * The generated protobuf-ts client over this client's transport, for
   * what the methods above do not cover (response headers and trailers, the
   * full response messages). Its failures are `RegistryError`s too.
   */
  readonly service: ModelServiceClient;
  /** The transport the client stands on (pool, deadlines, retries); shared with {@link RegistryClient.service}. */
  readonly transport: RegistryTransport;
  /** Waits until every pooled connection is READY; fails with UNAVAILABLE after `timeoutMs` (default 10 s). */
  connect(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Calls `listener(true)` as soon as the first pooled connection is READY
   * (at once if one already is), and `listener(false)` when the last READY
   * one is lost; meanwhile idle connections keep connecting, so a registry
   * that comes back is found within about a second. For a "connected" log
   * line or a readiness probe. Returns the function that stops it.
   */
  onReadyChange(listener: (ready: boolean) => void): () => void;
  /** The targets and the state of each pooled connection. */
  channels(): ChannelInfo[];
  /** The configured targets. */
  readonly targets: readonly string[];
  /**
   * The cache's counters (hits, misses, bypasses, whether it answers now,
   * the revision it is exact up to, its size), for logs and metrics;
   * `undefined` when the client was created without `cache`.
   */
  cacheStats(): CacheStats | undefined;
  /** Closes every connection (and stops the cache's watch). Calls in flight fail with CANCELLED. Safe to call twice. */
  close(): void;
}

/** A call's `minRevision`, checked: INVALID_ARGUMENT naming the option for anything but a revision. */
function minRevisionOf(value: unknown): bigint {
  const revision = parseRevision(value);
  if (revision !== undefined) return revision;
  const got = typeof value === "bigint" ? `${value}n` : JSON.stringify(value)?.slice(0, 40);
  throw new RegistryError(
    Code.INVALID_ARGUMENT,
    `\`minRevision\` must be a non-negative integer of at most 2^63-1 (a bigint, a safe integer number or a decimal string, such as a write's x-modelreg-revision header); got ${got}`,
    { violations: [{ field: "minRevision", description: "must be a non-negative integer revision" }] },
  );
}

/** {@link CallOptions} as protobuf-ts `RpcOptions`. */
export function toRpcOptions(options: CallOptions | undefined): RegistryRpcOptions {
  if (!options) return {};
  const rpc: RegistryRpcOptions = {};
  if (options.deadline !== undefined) rpc.timeout = new Date(options.deadline);
  else if (options.timeoutMs !== undefined) rpc.timeout = options.timeoutMs;
  if (options.signal) rpc.abort = options.signal;
  if (options.metadata) rpc.meta = options.metadata;
  if (options.waitForReady !== undefined) rpc.waitForReady = options.waitForReady;
  if (options.minRevision !== undefined) rpc.minRevision = minRevisionOf(options.minRevision);
  return rpc;
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
  const transport = new RegistryTransport(options);
  const service = new ModelServiceClient(transport);
  const rpc = (callOptions: CallOptions | undefined): RpcOptions => toRpcOptions(callOptions);
  const listModels = async (request: Req<ListModelsRequest> = {}, callOptions?: CallOptions) =>
    (await service.listModels(ListModelsRequest.create(request), rpc(callOptions))
      .response) as ListModelsResponse;
  return {
    service,
    transport,
    targets: transport.targets,
    createModel: async (request, o) =>
      modelOf(await service.createModel(CreateModelRequest.create(request), rpc(o)).response),
    getModel: async (request, o) =>
      modelOf(await service.getModel(GetModelRequest.create(request), rpc(o)).response),
    lookupModel: async (request, o) =>
      modelOf(await service.lookupModel(LookupModelRequest.create(request), rpc(o)).response),
    listModels,
    listAllModels: (request = {}, o) =>
      allPages(
        (r) => listModels(r, o),
        request,
        (page) => page.models,
      ),
    batchGetModels: async (request, o) =>
      (await service.batchGetModels(BatchGetModelsRequest.create(request), rpc(o)).response).models,
    updateModel: async (request, o) =>
      modelOf(await service.updateModel(UpdateModelRequest.create(request), rpc(o)).response),
    deleteModel: async (request, o) => {
      await service.deleteModel(DeleteModelRequest.create(request), rpc(o)).response;
    },
    addModelTags: async (request, o) =>
      modelOf(await service.addModelTags(AddModelTagsRequest.create(request), rpc(o)).response),
    removeModelTags: async (request, o) =>
      modelOf(await service.removeModelTags(RemoveModelTagsRequest.create(request), rpc(o)).response),
    updateModelMetadata: async (request, o) =>
      modelOf(await service.updateModelMetadata(UpdateModelMetadataRequest.create(request), rpc(o)).response),
    ...aliasMethods(service, rpc),
    watchModels: (request, watchOptions) => watchModels({ service, transport }, request, watchOptions),
    importModels: (items, importOptions) => importModels(service, items, importOptions),
    connect: (connectOptions) => transport.connect(connectOptions),
    onReadyChange: (listener) => transport.onReadyChange(listener),
    channels: () => transport.channels(),
    cacheStats: () => transport.cacheStats(),
    close: () => transport.close(),
  };
}
