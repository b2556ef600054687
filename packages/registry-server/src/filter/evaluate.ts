import type { ModelRecord } from "../storage/adapter";
import { compareStrings } from "../storage/order";
import type { ComparisonOperator, FilterExpression, StringField } from "./ast";

/**
 * Whether `record` matches the filter: applies a parsed filter (the
 * `ListQuery.filter` syntax tree) to a record, for adapters that filter in
 * memory, like the built-in in-memory one. Gives the same answers as
 * `compileFilter` does in SQL: strings compare by Unicode
 * code point (UTF-8 byte order, as SQL's binary collations do, unlike
 * JavaScript's UTF-16 `<`), a prefix match is `startsWith`, and a metadata
 * comparison is false when the model lacks the key.
 *
 * @throws TypeError for a tree `parseFilter` never produces (a prefix match with `<` etc.).
 */
export function evaluateFilter(expression: FilterExpression, record: ModelRecord): boolean {
  switch (expression.kind) {
    case "and":
      return expression.operands.every((operand) => evaluateFilter(operand, record));
    case "or":
      return expression.operands.some((operand) => evaluateFilter(operand, record));
    case "not":
      return !evaluateFilter(expression.operand, record);
    case "string":
      return compareString(
        stringField(record, expression.field),
        expression.op,
        expression.value,
        expression.prefix,
      );
    case "time":
      return compare(
        expression.field === "create_time" ? record.createTime : record.updateTime,
        expression.op,
        expression.value,
      );
    case "metadata": {
      // Object.hasOwn: keys such as "constructor" must not reach the prototype.
      if (!Object.hasOwn(record.metadata, expression.key)) return false;
      const value = record.metadata[expression.key];
      return value !== undefined && compareString(value, expression.op, expression.value, expression.prefix);
    }
    case "hasTag":
      return record.tags.includes(expression.tag);
    case "hasMetadataKey":
      return Object.hasOwn(record.metadata, expression.key);
    case "hasLineage":
      return (
        expression.field === "dataset_uris" ? record.lineage.datasetUris : record.lineage.parentModelIds
      ).includes(expression.value);
    default:
      return unreachable(expression);
  }
}

function stringField(record: ModelRecord, field: StringField): string {
  switch (field) {
    case "artifact_digest":
      return record.artifactDigest;
    case "lineage.run_uri":
      return record.lineage.runUri;
    case "lineage.code_revision":
      return record.lineage.codeRevision;
    default:
      return record[field];
  }
}

function compareString(actual: string, op: ComparisonOperator, value: string, prefix: boolean): boolean {
  if (!prefix) return compare(actual, op, value);
  if (op === "=") return actual.startsWith(value);
  if (op === "!=") return !actual.startsWith(value);
  throw new TypeError(`filter: a prefix match needs = or !=, not ${op}`);
}

function compare<T extends string | number>(actual: T, op: ComparisonOperator, value: T): boolean {
  const c =
    typeof actual === "string" && typeof value === "string"
      ? compareStrings(actual, value)
      : actual < value
        ? -1
        : actual > value
          ? 1
          : 0;
  switch (op) {
    case "=":
      return c === 0;
    case "!=":
      return c !== 0;
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    case ">=":
      return c >= 0;
  }
}

function unreachable(expression: never): never {
  throw new TypeError(`filter: unknown expression ${JSON.stringify(expression)}`);
}
