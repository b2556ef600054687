import { Code, type FieldViolation, RegistryError } from "@modelreg/proto";

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
