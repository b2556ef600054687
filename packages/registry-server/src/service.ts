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
  type ListModelsRequest,
  type ListModelsResponse,
  type LookupModelRequest,
  type LookupModelResponse,
  type Model,
  RegistryError,
  type RemoveModelTagsRequest,
  type RemoveModelTagsResponse,
  type UpdateModelMetadataRequest,
  type UpdateModelMetadataResponse,
  type UpdateModelRequest,
  type UpdateModelResponse,
} from "@modelreg/proto";
import { etagOf, toModel } from "./convert";
import type { FilterExpression } from "./filter/ast";
import { FilterSyntaxError, parseFilter } from "./filter/parse";
import { newModelId } from "./ids";
import { decodePageToken, encodePageToken, parseOrderBy } from "./listing";
import type { ModelRecord, StorageAdapter, StorageCallOptions } from "./storage/adapter";
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
 * The ModelService's behaviour, independent of gRPC: validates requests,
 * applies them to storage and returns protobuf messages. Throws only
 * `RegistryError` for expected failures; the transport maps anything else to
 * INTERNAL without revealing it.
 */
export class ModelServiceHandlers {
  readonly #storage: StorageAdapter;

  constructor(storage: StorageAdapter) {
    this.#storage = storage;
  }

  async createModel(
    request: CreateModelRequest,
    call: StorageCallOptions = {},
  ): Promise<CreateModelResponse> {
    const v = new Violations();
    const model = request.model;
    if (!model) throw invalidArgument("model", "is required");
    checkToken(v, "model.name", model.name, limits.name, true);
    checkToken(v, "model.version", model.version, limits.version, true);
    const tags = validateModelFields(v, model, "model");
    checkToken(v, "request_id", request.requestId, limits.requestId, false);
    v.throwIfAny();

    const now = nowMicros();
    const record: ModelRecord = {
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
    const result = await this.#storage.insert(record, request.requestId || undefined, call);
    switch (result.status) {
      case "created":
        return { model: toModel(record) };
      case "requestIdUsed":
        if (result.existing.name === model.name && result.existing.version === model.version) {
          return { model: toModel(result.existing) };
        }
        throw new RegistryError(
          Code.ALREADY_EXISTS,
          `request_id "${request.requestId}" was already used to create another model; use a new request_id for a new model.`,
          { reason: "REQUEST_ID_REUSED" },
        );
      case "nameVersionTaken":
        throw new RegistryError(
          Code.ALREADY_EXISTS,
          `A model named "${model.name}" with version "${model.version}" already exists (id ${result.existingId}).`,
          { reason: "MODEL_ALREADY_EXISTS" },
        );
    }
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
      if (result.status === "ok") return next;
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
