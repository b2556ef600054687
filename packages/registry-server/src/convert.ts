import type { Model, Timestamp } from "@modelreg/proto";
import type { ModelRecord } from "./storage/adapter";

/** The etag of a revision: a quoted string, as HTTP's ETag (RFC 9110). */
export function etagOf(revision: number): string {
  return `"${revision}"`;
}

/** Microseconds since the epoch as a protobuf Timestamp. */
export function toTimestamp(micros: number): Timestamp {
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}

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
  };
}
