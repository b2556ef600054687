/**
 * The syntax tree of a ListModels / WatchModels filter (an AIP-160 subset).
 * `parseFilter` produces it; `evaluateFilter` runs it against a record (the
 * in-memory adapter) and the SQL compiler turns it into a parameterised
 * WHERE clause. Values are already converted to their field's type.
 */
export type FilterExpression =
  | { readonly kind: "and"; readonly operands: readonly FilterExpression[] }
  | { readonly kind: "or"; readonly operands: readonly FilterExpression[] }
  | { readonly kind: "not"; readonly operand: FilterExpression }
  | StringComparison
  | TimeComparison
  | MetadataComparison
  | { readonly kind: "hasTag"; readonly tag: string }
  | { readonly kind: "hasMetadataKey"; readonly key: string }
  | LineageMembership;

/** Comparison operators. `prefix` is set for `field = "abc*"` (only with `=`/`!=`). */
export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** A string field of a model (`lineage.run_uri` is the lineage's `runUri`, and so on). */
export type StringField =
  | "name"
  | "version"
  | "framework"
  | "artifact_digest"
  | "lineage.run_uri"
  | "lineage.code_revision";

/** A string field compared with a string. */
export interface StringComparison {
  readonly kind: "string";
  readonly field: StringField;
  readonly op: ComparisonOperator;
  readonly value: string;
  /** True for a trailing-`*` prefix match; then `value` is the prefix and `op` is `=` or `!=`. */
  readonly prefix: boolean;
}

/** `create_time` or `update_time` compared with an RFC 3339 instant. */
export interface TimeComparison {
  readonly kind: "time";
  readonly field: "create_time" | "update_time";
  readonly op: ComparisonOperator;
  /** Microseconds since the Unix epoch. */
  readonly value: number;
}

/**
 * `metadata.KEY` compared with a string. False when the model has no such key
 * (so `NOT metadata.k = "x"` matches models without `k`, and `metadata.k != "x"` does not).
 */
export interface MetadataComparison {
  readonly kind: "metadata";
  readonly key: string;
  readonly op: ComparisonOperator;
  readonly value: string;
  readonly prefix: boolean;
}

/**
 * `lineage.dataset_uris:"s3://..."` or `lineage.parent_model_ids:"id"`: the
 * model's lineage lists exactly that value ("has", as `tags:x`).
 */
export interface LineageMembership {
  readonly kind: "hasLineage";
  readonly field: "dataset_uris" | "parent_model_ids";
  readonly value: string;
}
