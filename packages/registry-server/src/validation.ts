import { Code, type FieldViolation, type ModelLineage, RegistryError, type Timestamp } from "@modelreg/proto";
import { emptyLineage, type LineageRecord } from "./storage/adapter";
import { compareStrings } from "./storage/order";

/**
 * Limits and character sets of the contract (documented on each field in
 * model.proto). One table, used by every request validator.
 */
export const limits = {
  name: { max: 128, pattern: /^[A-Za-z0-9][A-Za-z0-9._/-]*$/, chars: "ASCII letters, digits and . _ - /" },
  version: { max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._+-]*$/, chars: "ASCII letters, digits and . _ - +" },
  framework: { max: 64, pattern: /^[A-Za-z0-9._+-]*$/, chars: "ASCII letters, digits and . _ - +" },
  tag: { max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, chars: "ASCII letters, digits and . _ - : /" },
  metadataKey: {
    max: 128,
    pattern: /^[A-Za-z0-9][A-Za-z0-9._/-]*$/,
    chars: "ASCII letters, digits and . _ - /",
  },
  id: { max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9-]*$/, chars: "ASCII letters, digits and -" },
  requestId: { max: 128, pattern: /^[\x21-\x7e]+$/, chars: "printable ASCII characters" },
  description: { max: 4096 },
  metadataValue: { max: 1024 },
  artifactUri: { max: 2048 },
  artifactDigest: /^sha256:[0-9a-f]{64}$/,
  codeRevision: { max: 128, pattern: /^[A-Za-z0-9._/+:-]+$/, chars: "ASCII letters, digits and . _ - / + :" },
  alias: /^[a-z][a-z0-9_-]{0,62}$/,
  datasetUrisPerModel: 64,
  parentModelIdsPerModel: 16,
  tagsPerModel: 64,
  metadataEntriesPerModel: 64,
  batchIds: 1000,
  pageSize: { default: 50, max: 1000 },
} as const;

/** Collects field violations for one request, then throws them all at once. */
export class Violations {
  readonly list: FieldViolation[] = [];

  add(field: string, description: string): void {
    this.list.push({ field, description });
  }

  /** Throws INVALID_ARGUMENT with every violation, if there are any. */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const first = this.list[0];
    const summary =
      this.list.length === 1 && first
        ? `${first.field}: ${first.description}`
        : `${this.list.length} invalid fields`;
    throw new RegistryError(Code.INVALID_ARGUMENT, `Invalid request: ${summary}`, { violations: this.list });
  }
}

/** INVALID_ARGUMENT for one field. */
export function invalidArgument(field: string, description: string): RegistryError {
  return new RegistryError(Code.INVALID_ARGUMENT, `Invalid request: ${field}: ${description}`, {
    violations: [{ field, description }],
  });
}

const codePoints = (value: string) => {
  let n = 0;
  for (const _ of value) n++;
  return n;
};

/** A string of a restricted character set (`identifier`-like fields). */
export function checkToken(
  v: Violations,
  field: string,
  value: string,
  rule: { max: number; pattern: RegExp; chars: string },
  required: boolean,
): void {
  if (value === "") {
    if (required) v.add(field, "is required");
    return;
  }
  if (value.length > rule.max) {
    v.add(field, `must be at most ${rule.max} characters (got ${value.length})`);
  } else if (!rule.pattern.test(value)) {
    v.add(field, `may contain only ${rule.chars}, starting with a letter or digit`);
  }
}

/** Free text: a length in characters and no NUL. */
export function checkText(v: Violations, field: string, value: string, max: number): void {
  if (value.includes("\0")) v.add(field, "must not contain NUL characters");
  const length = codePoints(value);
  if (length > max) v.add(field, `must be at most ${max} characters (got ${length})`);
}

/** An absolute URI with a scheme, or empty. */
export function checkUri(v: Violations, field: string, value: string): void {
  if (value === "") return;
  checkText(v, field, value, limits.artifactUri.max);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(value) || !URL.canParse(value)) {
    v.add(field, "must be an absolute URI with a scheme, such as s3://bucket/path/model.onnx");
  }
}

/** Tags: each valid; returns them unique and sorted. */
export function checkTags(v: Violations, field: string, tags: readonly string[], max: number): string[] {
  if (tags.length > max) v.add(field, `at most ${max} tags are allowed (got ${tags.length})`);
  tags.forEach((tag, i) => {
    checkToken(v, `${field}[${i}]`, tag, limits.tag, true);
  });
  return [...new Set(tags)].sort();
}

/** Metadata: keys and values valid, entry count bounded. */
export function checkMetadata(
  v: Violations,
  field: string,
  metadata: Readonly<Record<string, string>>,
): void {
  const entries = Object.entries(metadata);
  if (entries.length > limits.metadataEntriesPerModel) {
    v.add(field, `at most ${limits.metadataEntriesPerModel} entries are allowed (got ${entries.length})`);
  }
  for (const [key, value] of entries) {
    checkToken(v, `${field}[${JSON.stringify(key)}]`, key, limits.metadataKey, true);
    checkText(v, `${field}[${JSON.stringify(key)}]`, value, limits.metadataValue.max);
  }
}

/** A model id in a request. */
export function checkId(v: Violations, field: string, id: string): void {
  checkToken(v, field, id, limits.id, true);
}

/**
 * Parses an etag the server issued (`"3"`, also accepted weak or unquoted)
 * into the revision it stands for. Empty means "no condition".
 */
export function parseEtag(v: Violations, field: string, etag: string): number | undefined {
  if (etag === "") return undefined;
  const match = /^(?:W\/)?"?([1-9][0-9]{0,14})"?$/.exec(etag);
  if (!match?.[1]) {
    v.add(field, 'must be an etag the server returned, such as "3"');
    return undefined;
  }
  return Number(match[1]);
}

/** An artifact digest: `sha256:` and 64 lower-case hex digits, or empty. */
export function checkArtifactDigest(v: Violations, field: string, value: string): void {
  if (value === "" || limits.artifactDigest.test(value)) return;
  v.add(
    field,
    'must be "sha256:" followed by 64 lower-case hex digits (the SHA-256 of the artifact\'s bytes), such as sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
}

/** At most `max` items in `list`, else each checked by `check` with its field (`field[i]`). */
function checkList(
  v: Violations,
  field: string,
  list: readonly string[],
  max: number,
  check: (item: string, value: string) => void,
): void {
  if (list.length > max) {
    v.add(field, `at most ${max} are allowed (got ${list.length})`);
    return;
  }
  list.forEach((value, i) => {
    check(`${field}[${i}]`, value);
  });
}

/**
 * A model's lineage: `run_uri` an absolute URI, `code_revision` a token,
 * at most 64 dataset URIs and 16 parent model ids. Returns it as storage
 * holds it, the lists unique and sorted. Whether the parents exist is
 * checked against storage by the caller.
 */
export function checkLineage(v: Violations, field: string, lineage: ModelLineage | undefined): LineageRecord {
  if (!lineage) return emptyLineage;
  checkUri(v, `${field}.run_uri`, lineage.runUri);
  if (lineage.codeRevision !== "") {
    const rule = limits.codeRevision;
    if (lineage.codeRevision.length > rule.max) {
      v.add(
        `${field}.code_revision`,
        `must be at most ${rule.max} characters (got ${lineage.codeRevision.length})`,
      );
    } else if (!rule.pattern.test(lineage.codeRevision)) {
      v.add(`${field}.code_revision`, `may contain only ${rule.chars}, such as a git commit hash or tag`);
    }
  }
  const { datasetUris, parentModelIds } = lineage;
  checkList(v, `${field}.dataset_uris`, datasetUris, limits.datasetUrisPerModel, (item, uri) => {
    if (uri === "") v.add(item, "must not be empty");
    checkUri(v, item, uri);
  });
  checkList(v, `${field}.parent_model_ids`, parentModelIds, limits.parentModelIdsPerModel, (item, id) => {
    checkId(v, item, id);
  });
  return {
    runUri: lineage.runUri,
    codeRevision: lineage.codeRevision,
    datasetUris: [...new Set(datasetUris)].sort(compareStrings),
    parentModelIds: [...new Set(parentModelIds)].sort(),
  };
}

/**
 * An alias name: 1-63 lower-case letters, digits, `-` and `_`, starting with
 * a letter. `latest` is reserved unless `allowLatest` (lookups).
 */
export function checkAliasName(v: Violations, field: string, alias: string, allowLatest = false): void {
  if (alias === "") {
    v.add(field, "is required");
  } else if (!limits.alias.test(alias)) {
    v.add(
      field,
      "must be 1-63 lower-case ASCII letters, digits, - and _, starting with a letter, such as champion",
    );
  } else if (alias === "latest" && !allowLatest) {
    v.add(field, '"latest" is reserved: it always resolves to the newest version by create time');
  }
}

/** The range of a protobuf Timestamp, in seconds: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const timestampSeconds = { min: -62_135_596_800n, max: 253_402_300_799n } as const;

/**
 * The instants this server stores and compares: whole microseconds since the
 * epoch that are safe integers (storage and the SQL drivers carry them as
 * JavaScript numbers), as RFC 3339.
 */
export const microsRange = {
  from: "1684-07-28T00:12:25.259009Z",
  to: "2255-06-05T23:47:34.740991Z",
} as const;

/**
 * Why `micros` (microseconds since the epoch) cannot be compared with stored
 * times, or `undefined` when it can: it must be a safe integer.
 */
export function microsProblem(micros: number): string | undefined {
  if (Number.isSafeInteger(micros)) return undefined;
  return `is outside the times this server can compare, ${microsRange.from} to ${microsRange.to}`;
}

/**
 * A Timestamp input as whole microseconds since the epoch, rounded down; or
 * `undefined` after adding a violation naming `field` when it is not a valid
 * Timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, nanos
 * 0 to 999,999,999) or lies outside {@link microsRange}.
 */
export function checkTimestamp(v: Violations, field: string, timestamp: Timestamp): number | undefined {
  const seconds = BigInt(timestamp.seconds);
  const { nanos } = timestamp;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    v.add(field, "nanos must be from 0 to 999,999,999");
    return undefined;
  }
  if (seconds < timestampSeconds.min || seconds > timestampSeconds.max) {
    v.add(field, "must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z (a valid Timestamp)");
    return undefined;
  }
  const micros = Number(seconds * 1_000_000n + BigInt(Math.floor(nanos / 1000)));
  const problem = microsProblem(micros);
  if (problem) v.add(field, problem);
  return problem ? undefined : micros;
}
