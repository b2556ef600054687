import assert from "node:assert/strict";
import type { FilterExpression } from "../filter/ast";
import type {
  Cursor,
  ListQuery,
  ModelRecord,
  OrderField,
  OrderTerm,
  StorageAdapter,
} from "../storage/adapter";
import { keys } from "./assertions";

// The suite's own model of the contract's order: every listing is checked against it.

/** `name` ascending: the order of most listings in the suite. */
export const NAME_ASC: readonly OrderTerm[] = [{ field: "name", descending: false }];

/** Every field `list` can order by. */
export const ORDER_FIELDS: readonly OrderField[] = [
  "name",
  "version",
  "framework",
  "create_time",
  "update_time",
];

function orderValue(record: ModelRecord, field: OrderField): string | number {
  switch (field) {
    case "name":
      return record.name;
    case "version":
      return record.version;
    case "framework":
      return record.framework;
    case "create_time":
      return record.createTime;
    case "update_time":
      return record.updateTime;
  }
}

/** Unicode code point order (rule 5): UTF-8 byte order, unlike JavaScript's UTF-16 `<`. */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function compareValues(a: string | number, b: string | number): number {
  if (typeof a === "string" && typeof b === "string") return compareCodePoints(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order of the contract: `orderBy` (strings by code point), then id ascending. */
export function compareRecords(a: ModelRecord, b: ModelRecord, orderBy: readonly OrderTerm[]): number {
  for (const term of orderBy) {
    const c = compareValues(orderValue(a, term.field), orderValue(b, term.field));
    if (c !== 0) return term.descending ? -c : c;
  }
  return compareValues(a.id, b.id);
}

/** A sorted copy of `records`, in the contract's order. */
export function sortRecords(records: Iterable<ModelRecord>, orderBy: readonly OrderTerm[]): ModelRecord[] {
  return [...records].sort((a, b) => compareRecords(a, b, orderBy));
}

/** The cursor after `record`: its order-by values (strings, microseconds for times) and id. */
export function cursorOf(record: ModelRecord, orderBy: readonly OrderTerm[]): Cursor {
  return { values: orderBy.map((term) => orderValue(record, term.field)), id: record.id };
}

/** `orderBy` as `order_by` would spell it, for test names and messages. */
export function showOrder(orderBy: readonly OrderTerm[]): string {
  return orderBy.map((t) => (t.descending ? `${t.field} desc` : t.field)).join(", ");
}

/** Every matching record (up to 1000) in one page. */
export async function listAll(
  adapter: StorageAdapter,
  orderBy: readonly OrderTerm[] = NAME_ASC,
  filter?: FilterExpression,
): Promise<ModelRecord[]> {
  return adapter.list({ filter, orderBy, limit: 1000 });
}

/**
 * Lists page by page via `after` cursors until a short page. `between` runs
 * after each full page, before the next is read.
 */
export async function walk(
  adapter: StorageAdapter,
  query: Omit<ListQuery, "after">,
  between?: (last: ModelRecord, pageIndex: number) => Promise<void>,
): Promise<ModelRecord[]> {
  const seen: ModelRecord[] = [];
  let after: Cursor | undefined;
  for (let pageIndex = 0; pageIndex < 500; pageIndex++) {
    const page = await adapter.list({ ...query, after });
    assert.ok(
      page.length <= query.limit,
      `page ${pageIndex} holds ${page.length} records, over the limit ${query.limit}`,
    );
    seen.push(...page);
    const last = page.at(-1);
    if (page.length < query.limit || last === undefined) return seen;
    after = cursorOf(last, query.orderBy);
    await between?.(last, pageIndex);
  }
  assert.fail(`paging did not end after 500 pages (seen: ${keys(seen).slice(0, 20).join(", ")}, ...)`);
}
