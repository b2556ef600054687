import { Code, type Model, RegistryError, type UpdateModelRequest } from "@modelreg/proto";
import type { CallContext } from "../context";
import { refusalError, toModel } from "../convert";
import { newModelId } from "../ids";
import type {
  AliasRecord,
  InsertResult,
  LineageRecord,
  ModelRecord,
  StorageAdapter,
} from "../storage/adapter";
import { pause } from "../storage/stopped";
import {
  checkArtifactDigest,
  checkId,
  checkLineage,
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
import {
  answerLatestRevision,
  answerRevision,
  etagMismatch,
  type ModelServiceHandlers,
  notFound,
  type ServiceDeps,
  storageOptions,
  writeOptions,
} from "./deps";

/** Mutable fields an update mask may name. */
const mutableFields = [
  "framework",
  "description",
  "tags",
  "metadata",
  "artifact_uri",
  "artifact_digest",
  "lineage",
] as const;
/** Parts of `lineage` a mask may name instead of the whole. */
const lineageFields = {
  "lineage.run_uri": "runUri",
  "lineage.code_revision": "codeRevision",
  "lineage.dataset_uris": "datasetUris",
  "lineage.parent_model_ids": "parentModelIds",
} as const;
type LineagePath = keyof typeof lineageFields;
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

function validateModelFields(v: Violations, model: Model, prefix: string) {
  checkToken(v, `${prefix}.framework`, model.framework, limits.framework, false);
  checkText(v, `${prefix}.description`, model.description, limits.description.max);
  const tags = checkTags(v, `${prefix}.tags`, model.tags, limits.tagsPerModel);
  checkMetadata(v, `${prefix}.metadata`, model.metadata);
  checkUri(v, `${prefix}.artifact_uri`, model.artifactUri);
  checkArtifactDigest(v, `${prefix}.artifact_digest`, model.artifactDigest);
  const lineage = checkLineage(v, `${prefix}.lineage`, model.lineage);
  return { tags, lineage };
}

/**
 * FAILED_PRECONDITION naming the parent models (`lineage.parent_model_ids`)
 * that do not exist; checked before the write.
 */
async function checkParentsExist(
  storage: StorageAdapter,
  ids: readonly string[],
  context: CallContext,
  field = "model.lineage.parent_model_ids",
): Promise<void> {
  if (ids.length === 0) return;
  const found = new Set((await storage.getMany(ids, storageOptions(context))).map((r) => r.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) throw parentsMissing(field, missing);
}

/** FAILED_PRECONDITION naming the parent models that do not exist. */
export function parentsMissing(field: string, missing: readonly string[]): RegistryError {
  return new RegistryError(
    Code.FAILED_PRECONDITION,
    `${field} names models that do not exist: ${missing.map((id) => `"${id}"`).join(", ")}. Register the parents first, or leave them out.`,
    { reason: "PARENT_MODEL_NOT_FOUND" },
  );
}

/** Validates a model to create and makes its record (new id, revision 1, times now). */
export function newRecord(model: Model | undefined, requestId: string, prefix: string): ModelRecord {
  const v = new Violations();
  if (!model) throw invalidArgument(`${prefix}model`, "is required");
  checkToken(v, `${prefix}model.name`, model.name, limits.name, true);
  checkToken(v, `${prefix}model.version`, model.version, limits.version, true);
  const { tags, lineage } = validateModelFields(v, model, `${prefix}model`);
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
    artifactDigest: model.artifactDigest,
    lineage,
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

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

const sameLineage = (a: LineageRecord, b: LineageRecord) =>
  a.runUri === b.runUri &&
  a.codeRevision === b.codeRevision &&
  sameList(a.datasetUris, b.datasetUris) &&
  sameList(a.parentModelIds, b.parentModelIds);

function sameContent(a: ModelRecord, b: ModelRecord): boolean {
  const aKeys = Object.keys(a.metadata);
  return (
    a.framework === b.framework &&
    a.description === b.description &&
    a.artifactUri === b.artifactUri &&
    a.artifactDigest === b.artifactDigest &&
    sameLineage(a.lineage, b.lineage) &&
    sameList(a.tags, b.tags) &&
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
 * signal, so it is checked before each storage call too. Sets the call's
 * `x-modelreg-revision` header (the latest revision for a no-op).
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
    if (sameContent(current, changed)) {
      await answerLatestRevision(storage, context);
      return current;
    }
    const next: ModelRecord = {
      ...changed,
      revision: current.revision + 1,
      updateTime: Math.max(nowMicros(), current.updateTime),
    };
    signal.throwIfAborted();
    const result = await storage.replace(next, current.revision, writeOptions(context));
    if (result.status === "ok") {
      feed.notify();
      answerRevision(context, result.revision);
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

type UpdateField = MutableField | LineagePath;

/** What an UpdateModel request asks for, validated: the fields to set and the immutable ones to compare. */
interface UpdatePlan {
  readonly model: Model;
  readonly fields: readonly UpdateField[];
  readonly checkImmutable: readonly string[];
  readonly tags: string[];
  readonly lineage: LineageRecord;
  readonly expected: number | undefined;
}

/** Whether `model` populates a field, for an update without a mask (AIP-134). */
function populated(model: Model, field: MutableField): boolean {
  switch (field) {
    case "tags":
      return model.tags.length > 0;
    case "metadata":
      return Object.keys(model.metadata).length > 0;
    case "artifact_uri":
      return model.artifactUri !== "";
    case "artifact_digest":
      return model.artifactDigest !== "";
    case "lineage":
      return model.lineage !== undefined;
    default:
      return model[field] !== "";
  }
}

const updatable = [...mutableFields, ...Object.keys(lineageFields)].join(", ");

/** The mask's fields; AIP-134: no mask means every populated field, `*` every mutable one. */
function maskFields(v: Violations, model: Model, paths: readonly string[]) {
  const checkImmutable: string[] = [];
  if (paths.length === 0) {
    // Immutable fields may be echoed back unchanged (a client sending what it read).
    const fields = mutableFields.filter((f) => populated(model, f));
    if (model.name !== "") checkImmutable.push("name");
    if (model.version !== "") checkImmutable.push("version");
    return { fields, checkImmutable };
  }
  if (paths.length === 1 && paths[0] === "*") return { fields: [...mutableFields], checkImmutable };
  const fields: UpdateField[] = [];
  for (const path of paths) {
    if ((mutableFields as readonly string[]).includes(path) || Object.hasOwn(lineageFields, path)) {
      fields.push(path as UpdateField);
    } else if (immutableFields.includes(path)) checkImmutable.push(path);
    else if (outputOnlyFields.includes(path))
      v.add("update_mask", `${path} is output only and cannot be updated`);
    else {
      v.add("update_mask", `unknown field "${path}"; updatable fields are ${updatable}, or *`);
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
  const { tags, lineage } = validateModelFields(v, model, "model");
  if (lineage.parentModelIds.includes(model.id)) {
    v.add("model.lineage.parent_model_ids", "must not name the model itself");
  }
  const expected = parseEtag(v, "model.etag", model.etag);
  v.throwIfAny();
  return { model, fields, checkImmutable, tags, lineage, expected };
}

/** The parent ids an update would set, to check that they exist before writing. */
function plannedParents(plan: UpdatePlan): readonly string[] {
  const sets = plan.fields.includes("lineage") || plan.fields.includes("lineage.parent_model_ids");
  return sets ? plan.lineage.parentModelIds : [];
}

function checkImmutableFields({ model, checkImmutable, fields }: UpdatePlan, current: ModelRecord): void {
  for (const field of checkImmutable) {
    const value = field === "name" ? model.name : model.version;
    const stored = field === "name" ? current.name : current.version;
    if (value !== stored) {
      throw invalidArgument(`model.${field}`, `is immutable (stored value "${stored}")`);
    }
  }
  const digest = model.artifactDigest;
  if (
    fields.includes("artifact_digest") &&
    current.artifactDigest !== "" &&
    digest !== current.artifactDigest
  ) {
    throw invalidArgument(
      "model.artifact_digest",
      `is immutable once set (stored value "${current.artifactDigest}"); ${digest === "" ? "it cannot be cleared" : "register the new artifact as a new version"}`,
    );
  }
}

function applyUpdate(plan: UpdatePlan, current: ModelRecord): ModelRecord {
  checkImmutableFields(plan, current);
  const { model, fields, tags, lineage } = plan;
  const next = { ...current };
  let nextLineage = { ...current.lineage };
  for (const field of fields) {
    if (field === "tags") next.tags = tags;
    else if (field === "metadata") next.metadata = { ...model.metadata };
    else if (field === "artifact_uri") next.artifactUri = model.artifactUri;
    else if (field === "artifact_digest") next.artifactDigest = model.artifactDigest;
    else if (field === "lineage") nextLineage = { ...lineage };
    else if (field === "framework" || field === "description") next[field] = model[field];
    else {
      const key = lineageFields[field];
      nextLineage = { ...nextLineage, [key]: lineage[key] };
    }
  }
  next.lineage = nextLineage;
  return next;
}

/** FAILED_PRECONDITION for deleting a model that aliases point at, without `force`. */
function modelHasAliases(id: string, aliases: readonly AliasRecord[]): RegistryError {
  const names = aliases.map((a) => `${a.name}@${a.alias}`).join(", ");
  return new RegistryError(
    Code.FAILED_PRECONDITION,
    `Model "${id}" is what ${aliases.length === 1 ? "alias" : "aliases"} ${names} ${aliases.length === 1 ? "points" : "point"} at; move or delete ${aliases.length === 1 ? "it" : "them"} first, or delete with force = true to delete ${aliases.length === 1 ? "it" : "them"} too.`,
    { reason: "MODEL_HAS_ALIASES" },
  );
}

type WriteHandlers = Pick<ModelServiceHandlers, "createModel" | "updateModel" | "deleteModel">;

/** CreateModel, UpdateModel and DeleteModel. */
export function writeHandlers(deps: ServiceDeps): WriteHandlers {
  const { storage, feed } = deps;
  return {
    async createModel(request, context) {
      const record = newRecord(request.model, request.requestId, "");
      await checkParentsExist(storage, record.lineage.parentModelIds, context);
      const result = await storage.insert(record, request.requestId || undefined, writeOptions(context));
      const model = insertedModel(result, record, request.requestId);
      if (result.status === "created") {
        feed.notify();
        answerRevision(context, result.revision);
      } else await answerLatestRevision(storage, context);
      return { model };
    },

    async updateModel(request, context) {
      const plan = planUpdate(request);
      await checkParentsExist(storage, plannedParents(plan), context);
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
      // A forced delete deletes the model's aliases: a protected one needs the policy's role.
      const checkAliases = request.force ? deps.policy.forForcedDelete(context.principal) : undefined;
      const options = writeOptions(context, { force: request.force, checkAliases });
      const result = await storage.delete(request.id, expected, options);
      if (result.status === "notFound") throw notFound(request.id);
      if (result.status === "conflict") throw etagMismatch(result.currentRevision);
      if (result.status === "aliased") throw modelHasAliases(request.id, result.aliases);
      // A refusal is a history entry too: watches move their cursor past it.
      feed.notify();
      if (result.status === "refused") throw refusalError(result.refusal);
      answerRevision(context, result.revision);
      return {};
    },
  };
}
