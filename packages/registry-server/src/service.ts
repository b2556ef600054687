import {
  type AddModelTagsRequest,
  type AddModelTagsResponse,
  type BatchGetModelsRequest,
  type BatchGetModelsResponse,
  Code,
  type CreateModelRequest,
  type CreateModelResponse,
  type DeleteModelRequest,
  type DeleteModelResponse,
  type GetModelRequest,
  type GetModelResponse,
  type ImportModelsRequest,
  type ImportModelsResponse,
  ImportOutcome,
  type ListModelsRequest,
  type ListModelsResponse,
  type LookupModelRequest,
  type LookupModelResponse,
  type Model,
  type ModelEvent,
  ModelEventType,
  RegistryError,
  type RemoveModelTagsRequest,
  type RemoveModelTagsResponse,
  type UpdateModelMetadataRequest,
  type UpdateModelMetadataResponse,
  type UpdateModelRequest,
  type UpdateModelResponse,
  type WatchModelsRequest,
  type WatchModelsResponse,
} from "@modelreg/proto";
import { ChangeFeed } from "./changes";
import { etagOf, toModel, toTimestamp } from "./convert";
import type { FilterExpression } from "./filter/ast";
import { evaluateFilter } from "./filter/evaluate";
import { FilterSyntaxError, parseFilter } from "./filter/parse";
import { newModelId } from "./ids";
import { decodePageToken, encodePageToken, parseOrderBy } from "./listing";
import type {
  ChangeRecord,
  InsertResult,
  ModelRecord,
  StorageAdapter,
  StorageCallOptions,
} from "./storage/adapter";
import { cursorAfter } from "./storage/order";
import {
  checkId,
  checkMetadata,
  checkTags,
  checkText,
  checkToken,
  checkUri,
  invalidArgument,
  limits,
  parseEtag,
  Violations,
} from "./validation";

/** Mutable fields an update mask may name. */
const mutableFields = ["framework", "description", "tags", "metadata", "artifact_uri"] as const;
type MutableField = (typeof mutableFields)[number];
const immutableFields = ["name", "version"];
const outputOnlyFields = ["id", "etag", "create_time", "update_time"];
/**
 * How often a write without an etag is tried when it keeps losing the
 * compare-and-swap to other writers (replicas included), with a jittered
 * pause before each retry so that many writers spread out.
 */
const maxWriteAttempts = 50;
const contentionPause = (attempt: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));

const nowMicros = () => Date.now() * 1000;

const notFound = (id: string) =>
  new RegistryError(Code.NOT_FOUND, `Model "${id}" not found.`, { reason: "MODEL_NOT_FOUND" });

const etagMismatch = (current: number) =>
  new RegistryError(
    Code.ABORTED,
    `The model changed since the etag was read (current etag ${etagOf(current)}); read it again and retry.`,
    { reason: "ETAG_MISMATCH" },
  );

function validateModelFields(v: Violations, model: Model, prefix: string): string[] {
  checkToken(v, `${prefix}.framework`, model.framework, limits.framework, false);
  checkText(v, `${prefix}.description`, model.description, limits.description.max);
  const tags = checkTags(v, `${prefix}.tags`, model.tags, limits.tagsPerModel);
  checkMetadata(v, `${prefix}.metadata`, model.metadata);
  checkUri(v, `${prefix}.artifact_uri`, model.artifactUri);
  return tags;
}

/**
 * How many per-item results an ImportModels summary lists at most (the
 * counts are always complete): the summary is one message, and a huge
 * import of mostly existing or invalid items would otherwise outgrow the
 * message size limit after everything was written.
 */
export const maxImportResults = 1000;

/** Tunes the streaming methods; see `RegistryServerOptions.streams`. */
export interface StreamSettings {
  /** How often open watches look for changes made by other replicas. Default 250 ms. */
  pollIntervalMs?: number;
  /** How long a watch may stay silent before it gets a progress notification. Default 10 000 ms. */
  progressIntervalMs?: number;
  /** How many imported models are written per storage call (one transaction). Default 100. */
  importBatchSize?: number;
}

/** Where {@link ModelServiceHandlers.watchModels} sends its messages. */
export interface WatchSink {
  /** Sends a message; resolves once the transport can take another. Rejects to end the watch. */
  send(message: WatchModelsResponse): Promise<void>;
}

const pruned = (after: number, prunedThrough: number) =>
  new RegistryError(
    Code.OUT_OF_RANGE,
    `after_revision ${after} is older than the retained change history (changes up to ${prunedThrough} were pruned); list the models again and watch from the latest revision.`,
    { reason: "REVISION_PRUNED" },
  );

const historyBehind = (cursor: number, latest: number) =>
  new RegistryError(
    Code.OUT_OF_RANGE,
    `The change history went back from revision ${cursor} to ${latest} (the database was restored or failed over); list the models again and watch from the latest revision.`,
    { reason: "REVISION_AHEAD" },
  );

const eventTypes = {
  created: ModelEventType.CREATED,
  updated: ModelEventType.UPDATED,
  deleted: ModelEventType.DELETED,
} as const;

function toModelEvent(change: ChangeRecord): ModelEvent {
  return {
    type: eventTypes[change.type],
    model: toModel(change.model),
    modelId: change.model.id,
    revision: BigInt(change.revision),
    commitTime: toTimestamp(change.commitTime),
  };
}

/** Validates a model to create and makes its record (new id, revision 1, times now). */
function newRecord(model: Model | undefined, requestId: string, prefix: string): ModelRecord {
  const v = new Violations();
  if (!model) throw invalidArgument(`${prefix}model`, "is required");
  checkToken(v, `${prefix}model.name`, model.name, limits.name, true);
  checkToken(v, `${prefix}model.version`, model.version, limits.version, true);
  const tags = validateModelFields(v, model, `${prefix}model`);
  checkToken(v, `${prefix}request_id`, requestId, limits.requestId, false);
  v.throwIfAny();
  const now = nowMicros();
  return {
    id: newModelId(),
    name: model.name,
    version: model.version,
    framework: model.framework,
    description: model.description,
    tags,
    metadata: { ...model.metadata },
    artifactUri: model.artifactUri,
    revision: 1,
    createTime: now,
    updateTime: now,
  };
}

/** The model an insert made (or had made, for a replayed request id); throws ALREADY_EXISTS otherwise. */
function insertedModel(result: InsertResult, record: ModelRecord, requestId: string): Model {
  switch (result.status) {
    case "created":
      return toModel(record);
    case "requestIdUsed":
      if (result.existing.name === record.name && result.existing.version === record.version) {
        return toModel(result.existing);
      }
      throw new RegistryError(
        Code.ALREADY_EXISTS,
        `request_id "${requestId}" was already used to create another model; use a new request_id for a new model.`,
        { reason: "REQUEST_ID_REUSED" },
      );
    case "nameVersionTaken":
      throw new RegistryError(
        Code.ALREADY_EXISTS,
        `A model named "${record.name}" with version "${record.version}" already exists (id ${result.existingId}).`,
        { reason: "MODEL_ALREADY_EXISTS" },
      );
  }
}

/**
 * The ModelService's behaviour, independent of gRPC: validates requests,
 * applies them to storage and returns protobuf messages. Throws only
 * `RegistryError` for expected failures; the transport maps anything else to
 * INTERNAL without revealing it.
 */
export class ModelServiceHandlers {
  readonly #storage: StorageAdapter;
  readonly #feed: ChangeFeed;
  readonly #settings: Required<StreamSettings>;

  constructor(storage: StorageAdapter, settings: StreamSettings = {}) {
    this.#storage = storage;
    const positive = (name: keyof StreamSettings, value: number | undefined, fallback: number) => {
      if (value === undefined) return fallback;
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new TypeError(`createRegistryServer: \`streams.${name}\` must be a whole number of at least 1`);
      }
      return value;
    };
    this.#settings = {
      pollIntervalMs: positive("pollIntervalMs", settings.pollIntervalMs, 250),
      progressIntervalMs: positive("progressIntervalMs", settings.progressIntervalMs, 10_000),
      importBatchSize: positive("importBatchSize", settings.importBatchSize, 100),
    };
    this.#feed = new ChangeFeed(storage, this.#settings.pollIntervalMs);
  }

  /** Wakes open watches after a write of ours. */
  #changed(): void {
    this.#feed.notify();
  }

  /** Stops the change feed's polling and wakes every watch (they then see their signal). */
  close(): void {
    this.#feed.close();
  }

  /**
   * WatchModels: sends a progress notification with the starting revision,
   * then every change after it in order, each once (those the filter leaves
   * out are skipped), and a progress notification when nothing was sent for
   * `progressIntervalMs`. Runs until `signal` aborts or `sink.send` throws;
   * reads storage only as fast as the sink takes messages, so memory holds
   * one page of changes however slow the watcher.
   */
  async watchModels(request: WatchModelsRequest, sink: WatchSink, signal: AbortSignal): Promise<void> {
    let filter: FilterExpression | undefined;
    try {
      filter = request.filter ? parseFilter(request.filter) : undefined;
    } catch (error) {
      if (error instanceof FilterSyntaxError) throw invalidArgument("filter", error.description);
      throw error;
    }
    const bounds = await this.#storage.readChanges(0, 0);
    let cursor = bounds.latestRevision;
    if (request.afterRevision !== undefined) {
      const after = request.afterRevision;
      if (after < 0n) throw invalidArgument("after_revision", "must be 0 or more");
      if (after > BigInt(bounds.latestRevision)) {
        throw new RegistryError(
          Code.OUT_OF_RANGE,
          `after_revision ${after} is ahead of the latest revision ${bounds.latestRevision}; it belongs to another registry database. List the models again and watch from there.`,
          { reason: "REVISION_AHEAD" },
        );
      }
      cursor = Number(after);
      if (cursor < bounds.prunedThrough) throw pruned(cursor, bounds.prunedThrough);
    }
    const pageSize = 256;
    let idleSince = Date.now();
    await sink.send({ revision: BigInt(cursor) });
    while (!signal.aborted) {
      const page = await this.#storage.readChanges(cursor, pageSize);
      if (cursor < page.prunedThrough) throw pruned(cursor, page.prunedThrough);
      if (page.latestRevision < cursor) throw historyBehind(cursor, page.latestRevision);
      // Consecutive or nothing: anything else means history was lost under us.
      const first = page.changes[0];
      if (first && first.revision !== cursor + 1) throw pruned(cursor, first.revision - 1);
      for (const change of page.changes) {
        if (signal.aborted) return;
        cursor = change.revision;
        if (filter && !evaluateFilter(filter, change.model)) continue;
        await sink.send({ event: toModelEvent(change), revision: BigInt(change.revision) });
        idleSince = Date.now();
      }
      if (page.changes.length === pageSize) continue;
      const quietFor = Date.now() - idleSince;
      if (quietFor >= this.#settings.progressIntervalMs) {
        await sink.send({ revision: BigInt(cursor) });
        idleSince = Date.now();
        continue;
      }
      await this.#feed.waitForChange(cursor, this.#settings.progressIntervalMs - quietFor, signal);
    }
  }

  async createModel(
    request: CreateModelRequest,
    call: StorageCallOptions = {},
  ): Promise<CreateModelResponse> {
    const record = newRecord(request.model, request.requestId, "");
    const result = await this.#storage.insert(record, request.requestId || undefined, call);
    if (result.status === "created") this.#changed();
    return { model: insertedModel(result, record, request.requestId) };
  }

  /**
   * ImportModels: creates the streamed models in batches of `importBatchSize`,
   * each batch one storage call (one transaction in the SQL adapters). An
   * item that fails (invalid, or undecodable, arriving here as a
   * RegistryError) is reported and the others go on. Reads the stream only
   * as fast as it writes, so memory holds one batch.
   */
  async importModels(
    items: AsyncIterable<ImportModelsRequest | RegistryError>,
    call: StorageCallOptions = {},
  ): Promise<ImportModelsResponse> {
    const batchSize = this.#settings.importBatchSize;
    const response: ImportModelsResponse = {
      createdCount: 0,
      alreadyExistsCount: 0,
      failedCount: 0,
      results: [],
    };
    const failed = (index: number, error: RegistryError) => {
      response.failedCount++;
      if (response.results.length >= maxImportResults) return;
      response.results.push({
        index,
        outcome: ImportOutcome.FAILED,
        modelId: "",
        error: error.toStatus(),
      });
    };
    let batch: { index: number; record: ModelRecord; requestId: string }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const items = batch;
      batch = [];
      const results = await this.#storage.insertMany(
        items.map(({ record, requestId }) => ({ record, requestId: requestId || undefined })),
        call,
      );
      let created = false;
      for (const [i, item] of items.entries()) {
        const result = results[i];
        if (result === undefined) throw new Error("storage.insertMany returned fewer results than items");
        created ||= result.status === "created";
        if (result.status === "nameVersionTaken") {
          response.alreadyExistsCount++;
          if (response.results.length >= maxImportResults) continue;
          response.results.push({
            index: item.index,
            outcome: ImportOutcome.ALREADY_EXISTS,
            modelId: result.existingId,
          });
          continue;
        }
        try {
          insertedModel(result, item.record, item.requestId);
          response.createdCount++;
        } catch (error) {
          failed(item.index, RegistryError.from(error));
        }
      }
      if (created) this.#changed();
    };

    let index = 0;
    for await (const item of items) {
      const position = index++;
      try {
        if (item instanceof RegistryError) throw item;
        batch.push({
          index: position,
          record: newRecord(item.model, item.requestId, ""),
          requestId: item.requestId,
        });
      } catch (error) {
        failed(position, RegistryError.from(error));
      }
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    response.results.sort((a, b) => a.index - b.index);
    return response;
  }

  async getModel(request: GetModelRequest, call: StorageCallOptions = {}): Promise<GetModelResponse> {
    const v = new Violations();
    checkId(v, "id", request.id);
    v.throwIfAny();
    const record = await this.#storage.get(request.id, call);
    if (!record) throw notFound(request.id);
    return { model: toModel(record) };
  }

  async lookupModel(
    request: LookupModelRequest,
    call: StorageCallOptions = {},
  ): Promise<LookupModelResponse> {
    const v = new Violations();
    checkToken(v, "name", request.name, limits.name, true);
    checkToken(v, "version", request.version, limits.version, true);
    v.throwIfAny();
    const record = await this.#storage.getByNameVersion(request.name, request.version, call);
    if (!record) {
      throw new RegistryError(
        Code.NOT_FOUND,
        `No model named "${request.name}" with version "${request.version}".`,
        { reason: "MODEL_NOT_FOUND" },
      );
    }
    return { model: toModel(record) };
  }

  async listModels(request: ListModelsRequest, call: StorageCallOptions = {}): Promise<ListModelsResponse> {
    const v = new Violations();
    if (request.pageSize < 0) v.add("page_size", "must not be negative");
    const pageSize = Math.min(request.pageSize || limits.pageSize.default, limits.pageSize.max);
    let filter: FilterExpression | undefined;
    try {
      filter = parseFilter(request.filter);
    } catch (error) {
      if (!(error instanceof FilterSyntaxError)) throw error;
      v.add("filter", error.description);
    }
    const orderBy = parseOrderBy(v, request.orderBy);
    const after = decodePageToken(v, request.pageToken, request.filter, orderBy);
    v.throwIfAny();

    const records = await this.#storage.list({ filter, orderBy, after, limit: pageSize + 1 }, call);
    const page = records.slice(0, pageSize);
    const last = page.at(-1);
    return {
      models: page.map(toModel),
      nextPageToken:
        records.length > pageSize && last
          ? encodePageToken(cursorAfter(last, orderBy), request.filter, orderBy)
          : "",
    };
  }

  async batchGetModels(
    request: BatchGetModelsRequest,
    call: StorageCallOptions = {},
  ): Promise<BatchGetModelsResponse> {
    const v = new Violations();
    if (request.ids.length === 0) v.add("ids", "at least one id is required");
    if (request.ids.length > limits.batchIds) {
      v.add("ids", `at most ${limits.batchIds} ids are allowed (got ${request.ids.length})`);
    } else {
      request.ids.forEach((id, i) => {
        checkId(v, `ids[${i}]`, id);
      });
    }
    v.throwIfAny();
    const found = new Map((await this.#storage.getMany(request.ids, call)).map((r) => [r.id, r]));
    const missing = [...new Set(request.ids.filter((id) => !found.has(id)))];
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).map((id) => `"${id}"`);
      const more = missing.length > shown.length ? ` and ${missing.length - shown.length} more` : "";
      throw new RegistryError(Code.NOT_FOUND, `Models not found: ${shown.join(", ")}${more}.`, {
        reason: "MODEL_NOT_FOUND",
      });
    }
    return { models: request.ids.map((id) => toModel(found.get(id) as ModelRecord)) };
  }

  async updateModel(
    request: UpdateModelRequest,
    call: StorageCallOptions = {},
  ): Promise<UpdateModelResponse> {
    const v = new Violations();
    const model = request.model;
    if (!model) throw invalidArgument("model", "is required");
    checkId(v, "model.id", model.id);
    const paths = request.updateMask?.paths ?? [];
    let fields: MutableField[];
    const checkImmutable: string[] = [];
    if (paths.length === 0) {
      // AIP-134: no mask means every populated field. Immutable fields may be
      // echoed back unchanged (a client sending what it read).
      fields = mutableFields.filter((f) => {
        if (f === "tags") return model.tags.length > 0;
        if (f === "metadata") return Object.keys(model.metadata).length > 0;
        return (f === "artifact_uri" ? model.artifactUri : model[f]) !== "";
      });
      if (model.name !== "") checkImmutable.push("name");
      if (model.version !== "") checkImmutable.push("version");
    } else if (paths.length === 1 && paths[0] === "*") {
      fields = [...mutableFields];
    } else {
      fields = [];
      for (const path of paths) {
        if ((mutableFields as readonly string[]).includes(path)) fields.push(path as MutableField);
        else if (immutableFields.includes(path)) checkImmutable.push(path);
        else if (outputOnlyFields.includes(path))
          v.add("update_mask", `${path} is output only and cannot be updated`);
        else {
          v.add(
            "update_mask",
            `unknown field "${path}"; updatable fields are ${mutableFields.join(", ")}, or *`,
          );
        }
      }
    }
    const tags = validateModelFields(v, model, "model");
    const expected = parseEtag(v, "model.etag", model.etag);
    v.throwIfAny();

    const updated = await this.#mutate(model.id, expected, call, (current) => {
      for (const field of checkImmutable) {
        const value = field === "name" ? model.name : model.version;
        const stored = field === "name" ? current.name : current.version;
        if (value !== stored) {
          throw invalidArgument(`model.${field}`, `is immutable (stored value "${stored}")`);
        }
      }
      const next = { ...current };
      for (const field of fields) {
        if (field === "tags") next.tags = tags;
        else if (field === "metadata") next.metadata = { ...model.metadata };
        else if (field === "artifact_uri") next.artifactUri = model.artifactUri;
        else next[field] = model[field];
      }
      return next;
    });
    return { model: toModel(updated) };
  }

  async deleteModel(
    request: DeleteModelRequest,
    call: StorageCallOptions = {},
  ): Promise<DeleteModelResponse> {
    const v = new Violations();
    checkId(v, "id", request.id);
    const expected = parseEtag(v, "etag", request.etag);
    v.throwIfAny();
    const result = await this.#storage.delete(request.id, expected, call);
    if (result.status === "notFound") throw notFound(request.id);
    if (result.status === "conflict") throw etagMismatch(result.currentRevision);
    this.#changed();
    return {};
  }

  async addModelTags(
    request: AddModelTagsRequest,
    call: StorageCallOptions = {},
  ): Promise<AddModelTagsResponse> {
    const { expected, tags } = this.#tagRequest(request);
    const model = await this.#mutate(request.id, expected, call, (current) => {
      const merged = [...new Set([...current.tags, ...tags])].sort();
      if (merged.length > limits.tagsPerModel) {
        throw new RegistryError(
          Code.FAILED_PRECONDITION,
          `The model would have ${merged.length} tags; at most ${limits.tagsPerModel} are allowed. Remove some first.`,
          { reason: "TOO_MANY_TAGS" },
        );
      }
      return { ...current, tags: merged };
    });
    return { model: toModel(model) };
  }

  async removeModelTags(
    request: RemoveModelTagsRequest,
    call: StorageCallOptions = {},
  ): Promise<RemoveModelTagsResponse> {
    const { expected, tags } = this.#tagRequest(request);
    const remove = new Set(tags);
    const model = await this.#mutate(request.id, expected, call, (current) => ({
      ...current,
      tags: current.tags.filter((t) => !remove.has(t)),
    }));
    return { model: toModel(model) };
  }

  async updateModelMetadata(
    request: UpdateModelMetadataRequest,
    call: StorageCallOptions = {},
  ): Promise<UpdateModelMetadataResponse> {
    const v = new Violations();
    checkId(v, "id", request.id);
    const setKeys = Object.keys(request.set);
    if (setKeys.length === 0 && request.removeKeys.length === 0) {
      v.add("set", "set or remove_keys must name at least one key");
    }
    checkMetadata(v, "set", request.set);
    request.removeKeys.forEach((key, i) => {
      checkToken(v, `remove_keys[${i}]`, key, limits.metadataKey, true);
      if (Object.hasOwn(request.set, key))
        v.add(`remove_keys[${i}]`, `"${key}" is also in set; name it once`);
    });
    const expected = parseEtag(v, "etag", request.etag);
    v.throwIfAny();

    const model = await this.#mutate(request.id, expected, call, (current) => {
      const metadata: Record<string, string> = { ...current.metadata, ...request.set };
      for (const key of request.removeKeys) delete metadata[key];
      const count = Object.keys(metadata).length;
      if (count > limits.metadataEntriesPerModel) {
        throw new RegistryError(
          Code.FAILED_PRECONDITION,
          `The model would have ${count} metadata entries; at most ${limits.metadataEntriesPerModel} are allowed.`,
          { reason: "TOO_MANY_METADATA_ENTRIES" },
        );
      }
      return { ...current, metadata };
    });
    return { model: toModel(model) };
  }

  #tagRequest(request: { id: string; tags: string[]; etag: string }) {
    const v = new Violations();
    checkId(v, "id", request.id);
    if (request.tags.length === 0) v.add("tags", "at least one tag is required");
    const tags = checkTags(v, "tags", request.tags, limits.tagsPerModel);
    const expected = parseEtag(v, "etag", request.etag);
    v.throwIfAny();
    return { tags, expected };
  }

  /**
   * Read-modify-write on top of storage's compare-and-swap. With an etag the
   * write happens only against that revision (ABORTED otherwise); without one
   * a lost race is retried, so concurrent edits never overwrite each other.
   * A change that changes nothing is not written (no new etag).
   */
  async #mutate(
    id: string,
    expectedRevision: number | undefined,
    call: StorageCallOptions,
    change: (current: ModelRecord) => ModelRecord,
  ): Promise<ModelRecord> {
    for (let attempt = 0; attempt < maxWriteAttempts; attempt++) {
      const current = await this.#storage.get(id, call);
      if (!current) throw notFound(id);
      if (expectedRevision !== undefined && current.revision !== expectedRevision) {
        throw etagMismatch(current.revision);
      }
      const changed = change(current);
      if (sameContent(current, changed)) return current;
      const next: ModelRecord = {
        ...changed,
        revision: current.revision + 1,
        updateTime: Math.max(nowMicros(), current.updateTime),
      };
      const result = await this.#storage.replace(next, current.revision, call);
      if (result.status === "ok") {
        this.#changed();
        return next;
      }
      if (result.status === "notFound") throw notFound(id);
      if (expectedRevision !== undefined) throw etagMismatch(result.currentRevision);
      await contentionPause(attempt);
    }
    throw new RegistryError(
      Code.ABORTED,
      "The model is being changed by many writers at once; retry the request.",
      { reason: "WRITE_CONTENTION" },
    );
  }
}

function sameContent(a: ModelRecord, b: ModelRecord): boolean {
  const aKeys = Object.keys(a.metadata);
  return (
    a.framework === b.framework &&
    a.description === b.description &&
    a.artifactUri === b.artifactUri &&
    a.tags.length === b.tags.length &&
    a.tags.every((t, i) => t === b.tags[i]) &&
    aKeys.length === Object.keys(b.metadata).length &&
    aKeys.every((k) => Object.hasOwn(b.metadata, k) && a.metadata[k] === b.metadata[k])
  );
}
