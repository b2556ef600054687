import {
  Any,
  Code,
  type HistoryEntry,
  type Model,
  type ModelAlias,
  ModelEventType,
  type ModelLineage,
  PreconditionFailure,
  RegistryError,
  type Timestamp,
} from "@modelreg/proto";
import type {
  AliasRecord,
  AliasRefusal,
  ChangeType,
  HistoryRecord,
  LineageRecord,
  ModelRecord,
} from "./storage/adapter";

/** The etag of a revision: a quoted string, as HTTP's ETag (RFC 9110). */
export function etagOf(revision: number): string {
  return `"${revision}"`;
}

/** Microseconds since the epoch as a protobuf Timestamp. */
export function toTimestamp(micros: number): Timestamp {
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}

function toLineage(lineage: LineageRecord): ModelLineage {
  return {
    runUri: lineage.runUri,
    codeRevision: lineage.codeRevision,
    datasetUris: [...lineage.datasetUris],
    parentModelIds: [...lineage.parentModelIds],
  };
}

const emptyLineage = (lineage: LineageRecord) =>
  lineage.runUri === "" &&
  lineage.codeRevision === "" &&
  lineage.datasetUris.length === 0 &&
  lineage.parentModelIds.length === 0;

/** The one place a storage record becomes a protobuf Model. */
export function toModel(record: ModelRecord): Model {
  return {
    id: record.id,
    name: record.name,
    version: record.version,
    framework: record.framework,
    description: record.description,
    tags: [...record.tags],
    metadata: { ...record.metadata },
    artifactUri: record.artifactUri,
    etag: etagOf(record.revision),
    createTime: toTimestamp(record.createTime),
    updateTime: toTimestamp(record.updateTime),
    artifactDigest: record.artifactDigest,
    // Unset when empty, so a model registered without lineage encodes as before.
    ...(emptyLineage(record.lineage) ? {} : { lineage: toLineage(record.lineage) }),
  };
}

/** The one place a storage alias becomes a protobuf ModelAlias; its etag is the revision that last set it. */
export function toModelAlias(record: AliasRecord): ModelAlias {
  return {
    name: record.name,
    alias: record.alias,
    version: record.version,
    modelId: record.modelId,
    etag: etagOf(record.revision),
    updateTime: toTimestamp(record.updateTime),
    updatedBy: record.updatedBy,
  };
}

/** The event (and history entry) type of a change. */
export const eventTypes: Readonly<Record<ChangeType, ModelEventType>> = Object.freeze({
  created: ModelEventType.CREATED,
  updated: ModelEventType.UPDATED,
  deleted: ModelEventType.DELETED,
  alias_set: ModelEventType.ALIAS_SET,
  alias_deleted: ModelEventType.ALIAS_DELETED,
});

/**
 * The error a promotion policy's refusal is sent as: PERMISSION_DENIED or
 * FAILED_PRECONDITION with its ErrorInfo reason and, when it lists missing
 * items, a `google.rpc.PreconditionFailure` with one violation each.
 */
export function refusalError(refusal: AliasRefusal): RegistryError {
  const details =
    refusal.violations.length === 0
      ? []
      : [
          Any.pack(
            PreconditionFailure.create({ violations: refusal.violations.map((v) => ({ ...v })) }),
            PreconditionFailure,
          ),
        ];
  const code = refusal.code === "PERMISSION_DENIED" ? Code.PERMISSION_DENIED : Code.FAILED_PRECONDITION;
  return new RegistryError(code, refusal.message, { reason: refusal.reason, details });
}

/** The one place a history record becomes a protobuf HistoryEntry. */
export function toHistoryEntry(record: HistoryRecord): HistoryEntry {
  const entry: HistoryEntry = {
    revision: BigInt(record.revision),
    commitTime: toTimestamp(record.commitTime),
    actor: record.actor,
    requestId: record.requestId,
    type: eventTypes[record.type],
  };
  if (record.type === "updated" && record.before) entry.before = toModel(record.before);
  // A deleted model's state before the delete is its last state.
  if (record.type === "deleted") entry.before = toModel(record.before ?? record.model);
  if (record.type !== "deleted") entry.after = toModel(record.model);
  const aliasBefore =
    record.type === "alias_deleted" ? (record.aliasBefore ?? record.alias) : record.aliasBefore;
  if (aliasBefore) entry.aliasBefore = toModelAlias(aliasBefore);
  // For a refused move, `alias_after` is the move asked for and not made.
  if (record.alias && record.type === "alias_set") entry.aliasAfter = toModelAlias(record.alias);
  if (record.refusal) entry.refusal = refusalError(record.refusal).toStatus();
  return entry;
}
