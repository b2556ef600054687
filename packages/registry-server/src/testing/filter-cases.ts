import assert from "node:assert/strict";
import type { ComparisonOperator, FilterExpression, StringComparison, TimeComparison } from "../filter/ast";
import type { ModelRecord, StorageAdapter } from "../storage/adapter";
import { key } from "./assertions";
import { listAll, NAME_ASC } from "./expected-order";

function showMicros(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, "0")}Z`;
}

function showFilter(filter: FilterExpression): string {
  switch (filter.kind) {
    case "and":
      return `(${filter.operands.map(showFilter).join(" AND ")})`;
    case "or":
      return `(${filter.operands.map(showFilter).join(" OR ")})`;
    case "not":
      return `NOT ${showFilter(filter.operand)}`;
    case "string":
      return `${filter.field} ${filter.op} ${JSON.stringify(filter.prefix ? `${filter.value}*` : filter.value)}`;
    case "time":
      return `${filter.field} ${filter.op} ${showMicros(filter.value)}`;
    case "metadata":
      return `metadata.${filter.key} ${filter.op} ${JSON.stringify(filter.prefix ? `${filter.value}*` : filter.value)}`;
    case "hasTag":
      return `tags:${JSON.stringify(filter.tag)}`;
    case "hasMetadataKey":
      return `metadata:${JSON.stringify(filter.key)}`;
    case "hasLineage":
      return `lineage.${filter.field}:${JSON.stringify(filter.value)}`;
  }
}

/** Filter tree builders. */
export const f = {
  str: (field: StringComparison["field"], op: ComparisonOperator, value: string): FilterExpression => ({
    kind: "string",
    field,
    op,
    value,
    prefix: false,
  }),
  prefix: (field: StringComparison["field"], op: "=" | "!=", value: string): FilterExpression => ({
    kind: "string",
    field,
    op,
    value,
    prefix: true,
  }),
  time: (field: TimeComparison["field"], op: ComparisonOperator, value: number): FilterExpression => ({
    kind: "time",
    field,
    op,
    value,
  }),
  meta: (key: string, op: ComparisonOperator, value: string): FilterExpression => ({
    kind: "metadata",
    key,
    op,
    value,
    prefix: false,
  }),
  metaPrefix: (key: string, op: "=" | "!=", value: string): FilterExpression => ({
    kind: "metadata",
    key,
    op,
    value,
    prefix: true,
  }),
  tag: (tag: string): FilterExpression => ({ kind: "hasTag", tag }),
  hasKey: (key: string): FilterExpression => ({ kind: "hasMetadataKey", key }),
  lineage: (field: "dataset_uris" | "parent_model_ids", value: string): FilterExpression => ({
    kind: "hasLineage",
    field,
    value,
  }),
  and: (...operands: FilterExpression[]): FilterExpression => ({ kind: "and", operands }),
  or: (...operands: FilterExpression[]): FilterExpression => ({ kind: "or", operands }),
  not: (operand: FilterExpression): FilterExpression => ({ kind: "not", operand }),
};

/** A filter and the labels of the fixture records it must match. */
export type FilterCase = readonly [filter: FilterExpression, expectedLabels: readonly string[]];

/**
 * Runs every case and reports all mismatches at once. Matches are compared
 * as sets of labels; a record returned twice shows up as a duplicate label.
 */
export async function checkFilterCases(
  adapter: StorageAdapter,
  fixture: ReadonlyMap<string, ModelRecord>,
  cases: readonly FilterCase[],
): Promise<void> {
  const labelById = new Map([...fixture].map(([label, record]) => [record.id, label]));
  const failures: string[] = [];
  for (const [filter, expectedLabels] of cases) {
    let got: string[];
    try {
      const records = await listAll(adapter, NAME_ASC, filter);
      got = records.map((r) => labelById.get(r.id) ?? `<unknown ${key(r)}>`).sort();
    } catch (error) {
      failures.push(`${showFilter(filter)}: threw ${error instanceof Error ? error.stack : String(error)}`);
      continue;
    }
    const want = [...expectedLabels].sort();
    if (got.join("|") !== want.join("|")) {
      failures.push(
        `${showFilter(filter)}\n      expected [${want.join(", ")}]\n      got      [${got.join(", ")}]`,
      );
    }
  }
  if (failures.length > 0) {
    assert.fail(
      `${failures.length} of ${cases.length} filters matched the wrong records:\n    ${failures.join("\n    ")}`,
    );
  }
}
