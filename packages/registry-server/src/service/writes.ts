import { Code, type Model, RegistryError, type UpdateModelRequest } from "@modelreg/proto";
import type { CallContext } from "../context";
import { toModel } from "../convert";
import { newModelId } from "../ids";
import type { InsertResult, ModelRecord } from "../storage/adapter";
import { pause } from "../storage/stopped";
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
} from "../validation";
import { etagMismatch, type ModelServiceHandlers, notFound, type ServiceDeps, storageOptions } from "./deps";

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

/** The pause before retry `attempt`; cut short when the call is abandoned. */
const contentionPause = (attempt: number, signal: AbortSignal) =>
  pause(Math.random() * Math.min(100, 2 ** attempt), signal);

const nowMicros = () => Date.now() * 1000;

function validateModelFields(v: Violations, model: Model, prefix: string): string[] {
  checkToken(v, `${prefix}.framework`, model.framework, limits.framework, false);
  checkText(v, `${prefix}.description`, model.description, limits.description.max);
  const tags = checkTags(v, `${prefix}.tags`, model.tags, limits.tagsPerModel);
  checkMetadata(v, `${prefix}.metadata`, model.metadata);
  checkUri(v, `${prefix}.artifact_uri`, model.artifactUri);
  return tags;
}

/** Validates a model to create and makes its record (new id, revision 1, times now). */
export function newRecord(model: Model | undefined, requestId: string, prefix: string): ModelRecord {
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
export function insertedModel(result: InsertResult, record: ModelRecord, requestId: string): Model {
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

/**
 * Read-modify-write on top of storage's compare-and-swap. With an etag the
 * write happens only against that revision (ABORTED otherwise); without one
 * a lost race is retried, so concurrent edits never overwrite each other.
 * A change that changes nothing is not written (no new etag). Stops, with
 * the signal's reason, once the call is abandoned: storage may ignore the
 * signal, so it is checked before each storage call too.
 */
export async function mutate(
  { storage, feed }: ServiceDeps,
  id: string,
  expectedRevision: number | undefined,
  context: CallContext,
  change: (current: ModelRecord) => ModelRecord,
): Promise<ModelRecord> {
  const { signal } = context;
  for (let attempt = 0; attempt < maxWriteAttempts; attempt++) {
    signal.throwIfAborted();
    const current = await storage.get(id, storageOptions(context));
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
    signal.throwIfAborted();
    const result = await storage.replace(next, current.revision, storageOptions(context));
    if (result.status === "ok") {
      feed.notify();
      return next;
    }
    if (result.status === "notFound") throw notFound(id);
    if (expectedRevision !== undefined) throw etagMismatch(result.currentRevision);
    await contentionPause(attempt, signal);
  }
  throw new RegistryError(
    Code.ABORTED,
    "The model is being changed by many writers at once; retry the request.",
    { reason: "WRITE_CONTENTION" },
  );
}

/** What an UpdateModel request asks for, validated: the fields to set and the immutable ones to compare. */
interface UpdatePlan {
  readonly model: Model;
  readonly fields: readonly MutableField[];
  readonly checkImmutable: readonly string[];
  readonly tags: string[];
  readonly expected: number | undefined;
}

/** The mask's fields; AIP-134: no mask means every populated field, `*` every mutable one. */
function maskFields(v: Violations, model: Model, paths: readonly string[]) {
  const checkImmutable: string[] = [];
  if (paths.length === 0) {
    // Immutable fields may be echoed back unchanged (a client sending what it read).
    const fields = mutableFields.filter((f) => {
      if (f === "tags") return model.tags.length > 0;
      if (f === "metadata") return Object.keys(model.metadata).length > 0;
      return (f === "artifact_uri" ? model.artifactUri : model[f]) !== "";
    });
    if (model.name !== "") checkImmutable.push("name");
    if (model.version !== "") checkImmutable.push("version");
    return { fields, checkImmutable };
  }
  if (paths.length === 1 && paths[0] === "*") return { fields: [...mutableFields], checkImmutable };
  const fields: MutableField[] = [];
  for (const path of paths) {
    if ((mutableFields as readonly string[]).includes(path)) fields.push(path as MutableField);
    else if (immutableFields.includes(path)) checkImmutable.push(path);
    else if (outputOnlyFields.includes(path))
      v.add("update_mask", `${path} is output only and cannot be updated`);
    else {
      v.add("update_mask", `unknown field "${path}"; updatable fields are ${mutableFields.join(", ")}, or *`);
    }
  }
  return { fields, checkImmutable };
}

function planUpdate(request: UpdateModelRequest): UpdatePlan {
  const v = new Violations();
  const model = request.model;
  if (!model) throw invalidArgument("model", "is required");
  checkId(v, "model.id", model.id);
  const { fields, checkImmutable } = maskFields(v, model, request.updateMask?.paths ?? []);
  const tags = validateModelFields(v, model, "model");
  const expected = parseEtag(v, "model.etag", model.etag);
  v.throwIfAny();
  return { model, fields, checkImmutable, tags, expected };
}

function applyUpdate({ model, fields, checkImmutable, tags }: UpdatePlan, current: ModelRecord): ModelRecord {
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
}

type WriteHandlers = Pick<ModelServiceHandlers, "createModel" | "updateModel" | "deleteModel">;

/** CreateModel, UpdateModel and DeleteModel. */
export function writeHandlers(deps: ServiceDeps): WriteHandlers {
  const { storage, feed } = deps;
  return {
    async createModel(request, context) {
      const record = newRecord(request.model, request.requestId, "");
      const result = await storage.insert(record, request.requestId || undefined, storageOptions(context));
      if (result.status === "created") feed.notify();
      return { model: insertedModel(result, record, request.requestId) };
    },

    async updateModel(request, context) {
      const plan = planUpdate(request);
      const updated = await mutate(deps, plan.model.id, plan.expected, context, (current) =>
        applyUpdate(plan, current),
      );
      return { model: toModel(updated) };
    },

    async deleteModel(request, context) {
      const v = new Violations();
      checkId(v, "id", request.id);
      const expected = parseEtag(v, "etag", request.etag);
      v.throwIfAny();
      const result = await storage.delete(request.id, expected, storageOptions(context));
      if (result.status === "notFound") throw notFound(request.id);
      if (result.status === "conflict") throw etagMismatch(result.currentRevision);
      feed.notify();
      return {};
    },
  };
}
