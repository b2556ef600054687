/**
 * The client's read cache: answers GetModel, LookupModel (by version, by
 * alias, `latest`) and BatchGetModels members from L1 (and the shared
 * level) while its change-feed watch is current, keeps them exact from the
 * feed, and updates them from the answers of writes made through the client.
 *
 * @internal
 */
import {
  BatchGetModelsRequest,
  type BatchGetModelsResponse,
  Code,
  type GetModelRequest,
  type GetModelResponse,
  type Logger,
  type LookupModelRequest,
  type LookupModelResponse,
  Model,
  type ModelEvent,
  ModelService,
  type ModelServiceClient,
  parseRevision,
  RegistryError,
  revisionHeader,
} from "@modelreg/proto";
import type { MethodInfo, RpcMetadata, RpcOptions, UnaryCall } from "@protobuf-ts/runtime-rpc";
import type { RegistryRpcOptions } from "../transport";
import { callOf, withCallerLimits } from "./calls";
import { type Change, changesOfEvent, changesOfWrite, writeMethods } from "./changes";
import { type Entry, errorOf, modelEntry } from "./entries";
import { CacheFeed } from "./feed";
import { Flights } from "./flights";
import { idKey, isCacheableId, isCacheableLookup, lookupKey, maxBatchIds, versionKey } from "./keys";
import { type FillTicket, LocalLevel } from "./l1";
import type { CacheOptions, CacheStats } from "./types";

/** The transport's own unary call, below the cache. */
export type SendUnary = <I extends object, O extends object>(
  method: MethodInfo<I, O>,
  input: I,
  options: RpcOptions,
) => UnaryCall<I, O>;

/** What the cache needs of its transport. */
export interface CacheDependencies {
  /** Sends a unary call to the registry (not through the cache). */
  readonly send: SendUnary;
  /** The generated client over the transport, for the watch. */
  readonly service: ModelServiceClient;
  /** The client's own fixed headers: credentials in a call's headers that differ from these are the caller's. */
  readonly ownMetadata: RpcMetadata | undefined;
  /** The transport's default deadline of a unary call, in ms. */
  readonly defaultTimeoutMs: number;
}

const serviceName = "modelregistry.v1.ModelService";
const credentialHeaders = ["authorization", "cookie"] as const;

/** The counters of {@link CacheStats}. */
type CounterName =
  | "hits"
  | "sharedHits"
  | "misses"
  | "notFoundHits"
  | "staleBypasses"
  | "coalesced"
  | "invalidations"
  | "sharedErrors";

/** Adds ±10 % to `ms`, so entries made together do not expire together. */
export function jittered(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}

/** A model read that found, or did not find, what it asked for. */
type Found = { model: Model } | { error: RegistryError } | undefined;

/** The read cache of one client. */
export class ModelCache {
  readonly #deps: CacheDependencies;
  readonly #l1: LocalLevel;
  readonly #feed: CacheFeed;
  readonly #flights: Flights;
  readonly #notFoundTtlMs: number;
  readonly #logger: Logger | undefined;
  readonly #counters: Record<CounterName, number> = {
    hits: 0,
    sharedHits: 0,
    misses: 0,
    notFoundHits: 0,
    staleBypasses: 0,
    coalesced: 0,
    invalidations: 0,
    sharedErrors: 0,
  };
  #closed = false;

  constructor(deps: CacheDependencies, options: CacheOptions & { logger?: Logger }) {
    this.#deps = deps;
    this.#l1 = new LocalLevel(options.maxBytes ?? 64 * 1024 * 1024);
    this.#flights = new Flights(options.maxConcurrentFills ?? 32);
    this.#notFoundTtlMs = options.notFoundTtlMs ?? 5000;
    this.#logger = options.logger;
    this.#feed = new CacheFeed(
      deps.service,
      {
        event: (event, revision) => this.#applyEvent(event, revision),
        progress: () => {},
        restart: () => this.#l1.clear(),
        broken: (error) =>
          this.#logger?.debug({ code: error.code }, "model cache: the watch broke; resuming"),
      },
      options.progressIntervalMs ?? 250,
    );
    this.#feed.start(undefined);
  }

  /**
   * The call for `method`, answered through the cache; `undefined` when the
   * cache has nothing to do with it (the transport sends it as it is).
   */
  unary<I extends object, O extends object>(
    method: MethodInfo<I, O>,
    input: I,
    options: RegistryRpcOptions,
  ): UnaryCall<I, O> | undefined {
    if (this.#closed || method.service.typeName !== serviceName) return undefined;
    if (writeMethods.has(method.name)) return this.#write(method, input, options);
    if (this.#callerCredentials(options.meta)) return undefined;
    let answer: Promise<object> | undefined;
    if (method.name === "GetModel") answer = this.#getModel(input as GetModelRequest, options);
    else if (method.name === "LookupModel") answer = this.#lookupModel(input as LookupModelRequest, options);
    else if (method.name === "BatchGetModels")
      answer = this.#batchGet(input as BatchGetModelsRequest, options);
    return answer === undefined ? undefined : callOf(method, input, options, answer as Promise<O>);
  }

  /** The cache's counters now. */
  stats(): CacheStats {
    return {
      ...this.#counters,
      current: this.#feed.current(),
      revision: this.#feed.applied,
      bytes: this.#l1.bytes,
      entries: this.#l1.size,
    };
  }

  /** Stops the watch; later calls pass through to the registry. */
  close(): void {
    this.#closed = true;
    this.#feed.stop();
  }

  /** Whether a call carries credentials of its own (the cache answers only for the client's). */
  #callerCredentials(meta: RpcMetadata | undefined): boolean {
    if (!meta) return false;
    const own = this.#deps.ownMetadata ?? {};
    for (const [key, value] of Object.entries(meta)) {
      const lower = key.toLowerCase();
      if (!(credentialHeaders as readonly string[]).includes(lower)) continue;
      const mine = Object.entries(own).find(([k]) => k.toLowerCase() === lower)?.[1];
      if (String(value) !== String(mine)) return true;
    }
    return false;
  }

  #count(name: CounterName, by = 1): void {
    this.#counters[name] += by;
  }

  #getModel(request: GetModelRequest, options: RegistryRpcOptions): Promise<GetModelResponse> | undefined {
    if (!isCacheableId(request.id)) return undefined;
    const key = idKey(request.id);
    return this.#read(key, options, async (ticket, sendOptions) => {
      const response = await this.#deps.send(getModelMethod, request, sendOptions).response;
      if (response.model) this.#storeModel(response.model, ticket);
      return response.model;
    }).then((model) => ({ model }));
  }

  #lookupModel(
    request: LookupModelRequest,
    options: RegistryRpcOptions,
  ): Promise<LookupModelResponse> | undefined {
    if (!isCacheableLookup(request)) return undefined;
    const key = lookupKey(request);
    return this.#read(key, options, async (ticket, sendOptions) => {
      const response = await this.#deps.send(lookupModelMethod, request, sendOptions).response;
      const { model } = response;
      if (model) {
        this.#storeModel(model, ticket);
        if (request.alias !== "") {
          this.#l1.fill(key, { kind: "pointer", id: model.id, revision: ticket.revision }, ticket);
        }
      }
      return model;
    }).then((model) => ({ model }));
  }

  /** Whether the cache may answer a read with `minRevision` now; counts a bypass when not. */
  #serving(minRevision: bigint | undefined): boolean {
    const ok = this.#feed.current() && (minRevision === undefined || this.#feed.applied >= minRevision);
    if (!ok) this.#count("staleBypasses");
    return ok;
  }

  /**
   * One model read: from L1 when it may answer, else from the registry
   * through `fetch` (one read per key at a time, `maxConcurrentFills` at
   * once). The caller gets its own copy.
   */
  async #read(
    key: string,
    options: RegistryRpcOptions,
    fetch: (ticket: FillTicket, sendOptions: RpcOptions) => Promise<Model | undefined>,
  ): Promise<Model | undefined> {
    const { minRevision } = options;
    if (this.#serving(minRevision)) {
      const found = this.#resolve(key);
      if (found && "model" in found) {
        this.#count("hits");
        return Model.clone(found.model);
      }
      if (found) {
        this.#count("notFoundHits");
        throw found.error;
      }
    }
    const fill = (sendOptions: RpcOptions) => this.#fill(key, (ticket) => fetch(ticket, sendOptions));
    if (minRevision !== undefined && minRevision > this.#feed.applied) {
      // Not shared: a read in flight may have been sent before the caller's write.
      this.#count("misses");
      return cloned(await fill(options));
    }
    this.#count(this.#flights.joinable(key) ? "coalesced" : "misses");
    const shared = this.#flights.run(key, () => fill(sharedOptions(options)));
    return cloned(await withCallerLimits(shared, options, this.#deps.defaultTimeoutMs));
  }

  /** Runs a registry read that fills the cache; a NOT_FOUND answer is stored under `key`. */
  async #fill<T>(key: string, fetch: (ticket: FillTicket) => Promise<T>): Promise<T> {
    const ticket = this.#l1.open(this.#feed.applied);
    try {
      return await fetch(ticket);
    } catch (error) {
      if (error instanceof RegistryError && error.code === Code.NOT_FOUND && this.#notFoundTtlMs > 0) {
        const entry: Entry = {
          kind: "notFound",
          status: error.toStatus(),
          revision: ticket.revision,
          expiresAt: Date.now() + jittered(this.#notFoundTtlMs),
        };
        this.#l1.fill(key, entry, ticket);
      }
      throw error;
    } finally {
      this.#l1.close(ticket);
    }
  }

  /** A model a registry read returned: by id, and its name/version. */
  #storeModel(model: Model, ticket: FillTicket): void {
    this.#l1.fill(idKey(model.id), modelEntry(model, ticket.revision), ticket);
    this.#l1.fill(
      versionKey(model.name, model.version),
      { kind: "pointer", id: model.id, revision: ticket.revision },
      ticket,
    );
  }

  /** What L1 answers for `key`: a model (through a pointer), a NOT_FOUND, or nothing. */
  #resolve(key: string): Found {
    const entry = this.#l1.get(key);
    if (entry?.kind === "model") return { model: entry.model };
    if (entry?.kind === "notFound") return { error: errorOf(entry) };
    if (entry?.kind !== "pointer") return undefined;
    const target = this.#l1.get(idKey(entry.id));
    return target?.kind === "model" ? { model: target.model } : undefined;
  }

  /**
   * BatchGetModels: answered from L1 when every member is there; else only
   * the members missing are read (one call, request order kept), so a
   * NOT_FOUND names the same ids the whole request's would.
   */
  #batchGet(
    request: BatchGetModelsRequest,
    options: RegistryRpcOptions,
  ): Promise<BatchGetModelsResponse> | undefined {
    const { ids } = request;
    if (ids.length === 0 || ids.length > maxBatchIds || !ids.every(isCacheableId)) return undefined;
    return this.#batchRead(ids, options);
  }

  async #batchRead(ids: readonly string[], options: RegistryRpcOptions): Promise<BatchGetModelsResponse> {
    const found = new Map<string, Model>();
    if (this.#serving(options.minRevision)) {
      for (const id of ids) {
        const entry = this.#l1.get(idKey(id));
        if (entry?.kind === "model") found.set(id, entry.model);
      }
    }
    const missing = [...new Set(ids.filter((id) => !found.has(id)))];
    if (missing.length === 0) {
      this.#count("hits", ids.length);
      return { models: ids.map((id) => Model.clone(found.get(id) as Model)) };
    }
    this.#count("hits", ids.length - ids.filter((id) => missing.includes(id)).length);
    const fetched = await this.#batchFetch(missing, options);
    for (const model of fetched) found.set(model.id, model);
    return { models: ids.map((id) => Model.clone(found.get(id) as Model)) };
  }

  /** Reads `ids` from the registry and stores them; shared with concurrent reads of the same ids. */
  async #batchFetch(ids: string[], options: RegistryRpcOptions): Promise<Model[]> {
    const key = `batch:${ids.join(",")}`;
    const fetch = (sendOptions: RpcOptions) => {
      const ticket = this.#l1.open(this.#feed.applied);
      const request = BatchGetModelsRequest.create({ ids });
      return this.#deps
        .send(batchGetModelsMethod, request, sendOptions)
        .response.then((response) => {
          for (const model of response.models) this.#storeModel(model, ticket);
          return response.models;
        })
        .finally(() => this.#l1.close(ticket));
    };
    if (options.minRevision !== undefined && options.minRevision > this.#feed.applied) {
      this.#count("misses", ids.length);
      return fetch(options);
    }
    this.#count(this.#flights.joinable(key) ? "coalesced" : "misses", ids.length);
    const shared = this.#flights.run(key, () => fetch(sharedOptions(options)));
    return withCallerLimits(shared, options, this.#deps.defaultTimeoutMs);
  }

  /** A write: sent as it is; its answer updates the cache before the caller sees it. */
  #write<I extends object, O extends object>(
    method: MethodInfo<I, O>,
    input: I,
    options: RpcOptions,
  ): UnaryCall<I, O> {
    const call = this.#deps.send(method, input, options);
    const answer = Promise.all([call.headers, call.response]).then(([headers, response]) => {
      try {
        this.#applyWrite(method.name, input, response, headers);
      } catch (error) {
        // The write succeeded; the cache must not make it look failed.
        this.#logger?.warn({ error: String(error) }, "model cache: could not apply a write's answer");
      }
      return response;
    });
    return callOf(method, input, options, answer);
  }

  #applyWrite(name: string, input: object, response: object, headers: RpcMetadata): void {
    const header = headers[revisionHeader];
    const revision = parseRevision(Array.isArray(header) ? header[0] : header);
    const changes = changesOfWrite({
      method: name,
      input: input as Record<string, unknown>,
      response: response as Parameters<typeof changesOfWrite>[0]["response"],
      revision,
      cached: (id) => {
        const entry = this.#l1.get(idKey(id));
        return entry?.kind === "model" ? entry.model : undefined;
      },
    });
    if (revision === undefined) {
      for (const change of changes) this.#l1.evict(change.key);
      return;
    }
    this.#applyChanges(changes, "write");
  }

  #applyEvent(event: ModelEvent, revision: bigint): void {
    this.#applyChanges(changesOfEvent(event, revision), "event");
  }

  /** Sets each change in L1; an `unknown` for a key L1 does not hold only warns fills in flight. */
  #applyChanges(changes: readonly Change[], source: "event" | "write"): void {
    for (const { key, entry } of changes) {
      if (entry.kind === "unknown" && this.#l1.get(key) === undefined) {
        this.#l1.touch(key);
        continue;
      }
      if (this.#l1.apply(key, entry, source) && source === "event") this.#count("invalidations");
    }
  }
}

/** A model answer the caller may change: its own copy. */
function cloned(model: Model | undefined): Model | undefined {
  return model === undefined ? undefined : Model.clone(model);
}

/** A shared read's options: the first caller's headers, the transport's deadline, no caller's abort. */
function sharedOptions(options: RpcOptions): RpcOptions {
  return options.meta ? { meta: options.meta } : {};
}

/** A ModelService method's descriptor, by name. */
function methodOf<I extends object, O extends object>(name: string): MethodInfo<I, O> {
  const method = ModelService.methods.find((m) => m.name === name);
  if (!method) throw new Error(`ModelService has no method ${name}`);
  return method as MethodInfo<I, O>;
}

const getModelMethod = methodOf<GetModelRequest, GetModelResponse>("GetModel");
const lookupModelMethod = methodOf<LookupModelRequest, LookupModelResponse>("LookupModel");
const batchGetModelsMethod = methodOf<BatchGetModelsRequest, BatchGetModelsResponse>("BatchGetModels");
