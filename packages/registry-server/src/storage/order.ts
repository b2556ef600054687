import type { Cursor, ModelRecord, OrderField, OrderTerm } from "./adapter";

/** The value of an order-by field of a record: a string, or microseconds for times. */
export function orderValue(record: ModelRecord, field: OrderField): string | number {
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

/** The cursor that starts the page after `record`. */
export function cursorAfter(record: ModelRecord, orderBy: readonly OrderTerm[]): Cursor {
  return { values: orderBy.map((term) => orderValue(record, term.field)), id: record.id };
}

/**
 * Compares strings by Unicode code point: the order of UTF-8 bytes, which is
 * what SQLite (BINARY), PostgreSQL (COLLATE "C") and MySQL / MariaDB
 * (utf8mb4_0900_bin / utf8mb4_nopad_bin) use. JavaScript's `<` compares UTF-16 code units instead, which differs
 * for characters above U+FFFF against U+E000..U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800..DFFF) encode code points above FFFF: move them above E000..FFFF.
      const fx = x >= 0xe000 ? x - 0x800 : x >= 0xd800 ? x + 0x2000 : x;
      const fy = y >= 0xe000 ? y - 0x800 : y >= 0xd800 ? y + 0x2000 : y;
      return fx - fy;
    }
  }
  return a.length - b.length;
}

function compareValues(a: string | number, b: string | number): number {
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares a record with a position in the order (`orderBy`, then `id`
 * ascending): negative if the record comes first, positive if after.
 */
export function compareToCursor(record: ModelRecord, orderBy: readonly OrderTerm[], cursor: Cursor): number {
  for (const [i, term] of orderBy.entries()) {
    const value = cursor.values[i];
    if (value === undefined) break;
    const c = compareValues(orderValue(record, term.field), value);
    if (c !== 0) return term.descending ? -c : c;
  }
  return compareValues(record.id, cursor.id);
}

/** Compares two records in the order `orderBy`, then `id` ascending. */
export function compareRecords(a: ModelRecord, b: ModelRecord, orderBy: readonly OrderTerm[]): number {
  return compareToCursor(a, orderBy, cursorAfter(b, orderBy));
}
