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
import { type MethodInfo, type RpcMetadata, type RpcOptions, UnaryCall } from "@protobuf-ts/runtime-rpc";
import type { RegistryRpcOptions } from "../transport";
import { callOf, withCallerLimits } from "./calls";
import { type Change, changesOfEvent, changesOfWrite, writeMethods } from "./changes";
import { decodeEntry, type Entry, encodeEntry, errorOf, modelEntry } from "./entries";
import { CacheFeed } from "./feed";
import { Flights } from "./flights";
import { idKey, isCacheableId, isCacheableLookup, lookupKey, maxBatchIds, versionKey } from "./keys";
import { type FillTicket, LocalLevel } from "./l1";
import type { CacheSettings } from "./options";
import { SharedLevel } from "./shared-level";
import type { CacheStats, SharedCacheWrite } from "./types";

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
/** Call headers that say nothing about who calls: a call with any other header of its own bypasses the cache. */
const harmlessHeaders: ReadonlySet<string> = new Set([
  "traceparent",
  "tracestate",
  "x-request-id",
  "grpc-timeout",
]);
/** The flight member of a lookup: its model is any model (forgotten when any model changes). */
const anyModel = "id:*";

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

/** Event writes the shared level may fall behind by before they are dropped (and the store proved or cleared). */
const maxSharedBacklog = 10_000;

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
  readonly #shared: SharedLevel | undefined;
  readonly #sharedTtlMs: number;
  /** NOT_FOUND errors read from the shared level (not written back to it). */
  readonly #fromSharedErrors = new WeakSet<RegistryError>();
  /** Whether the watch's breaking was logged (once per outage). */
  #brokenLogged = false;

  constructor(deps: CacheDependencies, options: CacheSettings) {
    this.#deps = deps;
    this.#flights = new Flights(options.maxConcurrentFills);
    // A change applied to a key: reads of it sent before are not joined by later callers.
    const flights = this.#flights;
    this.#l1 = new LocalLevel(options.maxBytes, {
      touched: (key) => {
        flights.forget(key);
        // A lookup's answer is a model it could not name in advance: any model's change may be its.
        if (key.startsWith("id:")) flights.forget(anyModel);
      },
      cleared: () => flights.forgetAll(),
    });
    this.#notFoundTtlMs = options.notFoundTtlMs;
    this.#logger = options.logger;
    this.#sharedTtlMs = options.sharedTtlMs;
    this.#shared = options.shared
      ? new SharedLevel(options.shared, {
          timeoutMs: options.sharedTimeoutMs,
          maxBacklog: maxSharedBacklog,
          behindWaitMs: Math.max(5000, 20 * options.progressIntervalMs),
          rewind: (after) => {
            // L1 is ahead of the replay: it starts over with it.
            this.#l1.clear();
            this.#feed.rewind(after);
          },
          onError: () => this.#count("sharedErrors"),
          logger: options.logger,
        })
      : undefined;
    this.#feed = new CacheFeed(
      deps.service,
      {
        event: (event, revision) => this.#applyEvent(event, revision),
        progress: (revision) => this.#shared?.progress(revision),
        restart: (revision, outOfRange) => {
          this.#l1.clear();
          this.#shared?.restart(revision, outOfRange);
        },
        broken: (error) => this.#watchBroken(error),
        caughtUp: () => {
          if (!this.#brokenLogged) return;
          this.#brokenLogged = false;
          this.#logger?.info("model cache: its watch is current again");
        },
      },
      options.progressIntervalMs,
    );
    // With a shared level, the watch starts where the store is exact, so what nobody applied is replayed into it.
    if (this.#shared) {
      void this.#shared.startRevision().then((after) => {
        if (!this.#closed) this.#feed.start(after);
      });
    } else {
      this.#feed.start(undefined);
    }
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
    if (answer === undefined) return undefined;
    // A failure of the cache itself (not the registry's answer) never fails the read: the registry answers.
    const safe = answer.catch((error: unknown) => {
      if (error instanceof RegistryError) throw error;
      this.#logger?.warn({ error: String(error) }, "model cache: internal error; the registry answers");
      return this.#deps.send(method, input, options).response;
    });
    return callOf(method, input, options, safe as Promise<O>);
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
    this.#shared?.close();
  }

  /**
   * Whether a call carries headers of its own beyond the client's fixed
   * ones and harmless tracing headers. The registry's `authorize` hook may
   * decide on any header (an API key, an identity a proxy set), so the cache
   * answers only calls made as the client itself.
   */
  #callerCredentials(meta: RpcMetadata | undefined): boolean {
    if (!meta) return false;
    const own = new Map(Object.entries(this.#deps.ownMetadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    for (const [key, value] of Object.entries(meta)) {
      const lower = key.toLowerCase();
      if (harmlessHeaders.has(lower)) continue;
      if (!own.has(lower) || String(value) !== String(own.get(lower))) return true;
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
      if (model) this.#storeModel(model, ticket, request.alias === "" ? undefined : key);
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
    const serving = this.#serving(minRevision);
    if (serving) {
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
    if (minRevision !== undefined && minRevision > this.#feed.applied) {
      // Not shared with other callers: a read in flight may have been sent before the caller's write.
      this.#count("misses");
      return cloned(await this.#fill(key, (ticket) => fetch(ticket, options)));
    }
    if (this.#flights.joinable(key, minRevision)) this.#count("coalesced");
    const shared = this.#flights.run(
      key,
      this.#feed.applied,
      minRevision,
      () =>
        this.#fill(key, async (ticket) => {
          const found = await this.#fromShared(key, ticket);
          if (found && "model" in found) return found.model;
          if (found) throw found.error;
          this.#count("misses");
          return fetch(ticket, sharedOptions(options));
        }),
      // Not serving (the watch is down): every read goes to the registry as without a cache, unthrottled.
      { members: key.startsWith("id:") ? [key] : [key, anyModel], unlimited: !serving },
    );
    return cloned(await this.#waitFor(shared, options));
  }

  /** Runs a registry read that fills the cache; a NOT_FOUND answer is stored under `key`. */
  async #fill<T>(key: string, fetch: (ticket: FillTicket) => Promise<T>): Promise<T> {
    const ticket = this.#l1.open(this.#feed.applied);
    try {
      return await fetch(ticket);
    } catch (error) {
      const cacheable = error instanceof RegistryError && error.code === Code.NOT_FOUND;
      if (cacheable && this.#notFoundTtlMs > 0 && !this.#fromSharedErrors.has(error)) {
        const entry: Entry = {
          kind: "notFound",
          status: error.toStatus(),
          revision: ticket.revision,
          expiresAt: Date.now() + jittered(this.#notFoundTtlMs),
        };
        this.#storeFills([{ key, entry }], ticket);
      }
      throw error;
    } finally {
      this.#l1.close(ticket);
    }
  }

  /** A model a registry read returned: by id, its name/version, and the alias it was looked up by. */
  #storeModel(model: Model, ticket: FillTicket, aliasKeyed?: string): void {
    const pointer: Entry = { kind: "pointer", id: model.id, revision: ticket.revision };
    const changes: Change[] = [
      { key: idKey(model.id), entry: modelEntry(model, ticket.revision) },
      { key: versionKey(model.name, model.version), entry: pointer },
    ];
    if (aliasKeyed !== undefined) changes.push({ key: aliasKeyed, entry: pointer });
    this.#storeFills(changes, ticket);
  }

  /**
   * Stores a registry read's entries in L1, unless their keys changed while
   * it was in flight; those L1 took go to the shared level too, tagged with
   * the revision applied now (no change to them came in between).
   */
  #storeFills(changes: readonly Change[], ticket: FillTicket): void {
    const shared = this.#shared;
    const revision = this.#feed.applied;
    const writes: SharedCacheWrite[] = [];
    for (const { key, entry } of changes) {
      if (this.#l1.fill(key, entry, ticket) && shared)
        writes.push(this.#writeOf(key, { ...entry, revision }));
    }
    shared?.fill(writes);
  }

  /** An entry as a write to the shared level, with its jittered time to live. */
  #writeOf(key: string, entry: Entry): SharedCacheWrite {
    const ttl = entry.kind === "notFound" ? this.#notFoundTtlMs : this.#sharedTtlMs;
    return { key, revision: entry.revision, data: encodeEntry(entry), ttlMs: jittered(ttl) };
  }

  /**
   * What the shared level answers for `key` (a model, through a pointer, or
   * a NOT_FOUND), copied to L1; nothing while it may not be read, fails or
   * is slow (then the registry answers). An entry is answered only if L1
   * took it: L1 refuses one older than what it knows (a write's tombstone
   * or new pointer, a change applied while the read was out).
   */
  async #fromShared(key: string, ticket: FillTicket): Promise<Found> {
    const shared = this.#shared;
    // Not while the watch is not current: the store is no fresher than this process's feed.
    if (!this.#feed.current() || !shared) return undefined;
    try {
      const first = await this.#sharedEntry(shared, key);
      if (first?.kind === "notFound") {
        if (!this.#l1.fill(key, first, ticket)) return undefined;
        this.#count("sharedHits");
        const error = errorOf(first);
        this.#fromSharedErrors.add(error);
        return { error };
      }
      const target = first?.kind === "pointer" ? await this.#sharedEntry(shared, idKey(first.id)) : first;
      if (!first || target?.kind !== "model") return undefined;
      if (first !== target && !this.#l1.fill(key, first, ticket)) return undefined;
      if (!this.#l1.fill(idKey(target.model.id), target, ticket)) return undefined;
      this.#count("sharedHits");
      return { model: target.model };
    } catch (error) {
      // Bytes this version cannot read: the registry answers.
      this.#logger?.debug({ error: String(error) }, "model cache: an unreadable shared entry");
      return undefined;
    }
  }

  /** The entry under `key` in the shared level, if it may be read now and holds one. */
  async #sharedEntry(shared: SharedLevel, key: string): Promise<Entry | undefined> {
    if (!shared.readable(key, this.#feed.applied)) return undefined;
    const [stored] = (await shared.get([key])) ?? [];
    if (!stored) return undefined;
    return decodeEntry(stored.data, stored.revision, Date.now() + jittered(this.#notFoundTtlMs));
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
    const serving = this.#serving(options.minRevision);
    if (serving) {
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
    const missed = new Set(missing);
    this.#count("hits", ids.filter((id) => !missed.has(id)).length);
    const fetched = await this.#batchFetch(missing, options, serving);
    for (const model of fetched) found.set(model.id, model);
    return { models: ids.map((id) => Model.clone(found.get(id) as Model)) };
  }

  /** Reads `ids` (from the shared level, else the registry) and stores them; shared with concurrent reads of the same ids. */
  async #batchFetch(ids: string[], options: RegistryRpcOptions, serving: boolean): Promise<Model[]> {
    const key = `batch:${ids.join(",")}`;
    if (options.minRevision !== undefined && options.minRevision > this.#feed.applied) {
      return this.#batchFill(ids, options, false);
    }
    const { minRevision } = options;
    if (this.#flights.joinable(key, minRevision)) this.#count("coalesced", ids.length);
    const shared = this.#flights.run(
      key,
      this.#feed.applied,
      minRevision,
      () => this.#batchFill(ids, sharedOptions(options), true),
      { members: ids.map(idKey), unlimited: !serving },
    );
    return this.#waitFor(shared, options);
  }

  /** A shared read, bounded by this caller's deadline and abort; a read nobody waits for any more is dropped. */
  #waitFor<T>(shared: Promise<T>, options: RegistryRpcOptions): Promise<T> {
    return withCallerLimits(shared, options, this.#deps.defaultTimeoutMs, () => this.#flights.leave(shared));
  }

  async #batchFill(ids: string[], sendOptions: RpcOptions, useShared: boolean): Promise<Model[]> {
    const ticket = this.#l1.open(this.#feed.applied);
    try {
      const found = useShared ? await this.#modelsFromShared(ids, ticket) : [];
      const known = new Set(found.map((model) => model.id));
      const rest = ids.filter((id) => !known.has(id));
      if (rest.length === 0) return found;
      this.#count("misses", rest.length);
      const request = BatchGetModelsRequest.create({ ids: rest });
      const response = await this.#deps.send(batchGetModelsMethod, request, sendOptions).response;
      for (const model of response.models) this.#storeModel(model, ticket);
      return [...found, ...response.models];
    } finally {
      this.#l1.close(ticket);
    }
  }

  /** The models of `ids` the shared level holds (one round trip), copied to L1. */
  async #modelsFromShared(ids: string[], ticket: FillTicket): Promise<Model[]> {
    const shared = this.#shared;
    const readable = ids.filter((id) => shared?.readable(idKey(id), this.#feed.applied));
    if (!this.#feed.current() || !shared || readable.length === 0) return [];
    const stored = (await shared.get(readable.map(idKey))) ?? [];
    const models: Model[] = [];
    stored.forEach((entry, i) => {
      const id = readable[i];
      if (!entry || id === undefined) return;
      try {
        const decoded = decodeEntry(entry.data, entry.revision, undefined);
        if (decoded?.kind !== "model" || decoded.model.id !== id) return;
        // Only what L1 took: it refuses an entry older than what it knows.
        if (this.#l1.fill(idKey(id), decoded, ticket)) models.push(decoded.model);
      } catch {
        // Unreadable bytes: the registry answers for this one.
      }
    });
    this.#count("sharedHits", models.length);
    return models;
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
        // The write succeeded; the cache must not make it look failed, nor answer from before it.
        this.#logger?.warn(
          { error: String(error) },
          "model cache: could not apply a write's answer; emptied",
        );
        this.#l1.clear();
      }
      return response;
    });
    // The call's own headers (the caller reads x-modelreg-revision from them), status and trailers.
    answer.catch(() => {});
    return new UnaryCall(
      method,
      call.requestHeaders,
      input,
      call.headers,
      answer,
      call.status,
      call.trailers,
    );
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
    // The store has not seen the write yet: its keys are not read from it until this process applied it.
    for (const change of changes) this.#shared?.fence(change.key, revision);
    if (revision === undefined) {
      for (const change of changes) this.#l1.evict(change.key);
      return;
    }
    this.#applyChanges(changes, "write");
  }

  #applyEvent(event: ModelEvent, revision: bigint): void {
    try {
      const changes = changesOfEvent(event, revision);
      this.#applyChanges(changes, "event");
      this.#shared?.event(
        changes.map(({ key, entry }) => this.#writeOf(key, entry)),
        revision,
      );
    } catch (error) {
      // A change not applied: nothing held can be trusted any more.
      this.#logger?.warn({ error: String(error) }, "model cache: could not apply a change; emptied");
      this.#l1.clear();
      this.#shared?.restart(revision);
    }
  }

  /** The watch failed (it resumes by itself): logged once per outage, at the first failure after a message. */
  #watchBroken(error: RegistryError): void {
    if (this.#brokenLogged) return;
    this.#brokenLogged = true;
    this.#logger?.warn(
      { code: Code[error.code] },
      "model cache: its watch of the registry broke; reads go to the registry until it has caught up",
    );
  }

  /**
   * Sets each change in L1. An event's `unknown` for a key L1 does not hold
   * only warns fills in flight; a write's is kept (it blocks older answers
   * of the shared level until the write's own event has been applied).
   */
  #applyChanges(changes: readonly Change[], source: "event" | "write"): void {
    for (const { key, entry } of changes) {
      if (source === "event" && entry.kind === "unknown" && !this.#l1.has(key)) {
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

/**
 * A shared read's options: the first caller's headers and `waitForReady`,
 * the transport's deadline, no caller's abort (each caller applies its own
 * deadline and signal to its wait).
 */
function sharedOptions(options: RegistryRpcOptions): RegistryRpcOptions {
  const shared: RegistryRpcOptions = options.meta ? { meta: options.meta } : {};
  if (options.waitForReady !== undefined) shared.waitForReady = options.waitForReady;
  return shared;
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
