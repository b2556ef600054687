import { createHash } from "node:crypto";
import type { Cursor, OrderField, OrderTerm } from "./storage/adapter";
import { limits, type Violations } from "./validation";

const orderFields: readonly OrderField[] = ["name", "version", "framework", "create_time", "update_time"];
const defaultOrder: readonly OrderTerm[] = [{ field: "create_time", descending: true }];

/** Parses `order_by` (AIP-132): `field [asc|desc], ...`. Empty means `create_time desc`. */
export function parseOrderBy(v: Violations, text: string): readonly OrderTerm[] {
  if (text.trim() === "") return defaultOrder;
  const terms: OrderTerm[] = [];
  for (const part of text.split(",")) {
    const words = part.trim().split(/\s+/);
    const [field, direction, extra] = words;
    if (!field || !orderFields.includes(field as OrderField) || extra !== undefined) {
      v.add(
        "order_by",
        `"${part.trim()}" is not an ordering; use a comma-separated list of ${orderFields.join(", ")}, each optionally followed by desc`,
      );
      return defaultOrder;
    }
    if (direction !== undefined && direction !== "desc" && direction !== "asc") {
      v.add("order_by", `"${direction}" after ${field} must be asc or desc`);
      return defaultOrder;
    }
    if (terms.some((t) => t.field === field)) {
      v.add("order_by", `${field} appears twice`);
      return defaultOrder;
    }
    terms.push({ field: field as OrderField, descending: direction === "desc" });
  }
  return terms;
}

/** A page size as the List RPCs read it: 0 means 50, above 1000 means 1000, negative is invalid. */
export function pageSizeOf(v: Violations, pageSize: number): number {
  if (pageSize < 0) v.add("page_size", "must not be negative");
  return Math.min(pageSize || limits.pageSize.default, limits.pageSize.max);
}

/**
 * One page of `records`, read with `limit: pageSize + 1`, and the record to
 * continue after (its last), which is there only when more records follow.
 */
export function pageOf<T>(records: readonly T[], pageSize: number): { page: T[]; last: T | undefined } {
  const page = records.slice(0, pageSize);
  return { page, last: records.length > pageSize ? page.at(-1) : undefined };
}

/** The short hash of `key` a page token carries, binding it to the query it continues. */
export function tokenHash(key: string): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 16);
}

/** A page token's payload as the opaque base64url JSON clients pass back. */
export function encodeToken(payload: object): string {
  return Buffer.from(JSON.stringify(payload)).toString("base64url");
}

/** A page token's payload back; throws if the token is not base64url JSON. */
export function decodeToken(token: string): unknown {
  return JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
}

/** The `page_token` violation for a token that is not one of ours. */
export const foreignToken =
  "is not a token this server issued; pass next_page_token from the previous page unchanged";

/** Binds a token to the query it continues, so it cannot be replayed with another filter or order. */
function queryHash(filter: string, orderBy: readonly OrderTerm[]): string {
  const order = orderBy.map((t) => `${t.field} ${t.descending ? "desc" : "asc"}`).join(",");
  return tokenHash(`${filter}\0${order}`);
}

/** The opaque `next_page_token` for a keyset cursor (AIP-158). */
export function encodePageToken(cursor: Cursor, filter: string, orderBy: readonly OrderTerm[]): string {
  return encodeToken({ q: queryHash(filter, orderBy), v: cursor.values, i: cursor.id });
}

/** Reads a page token back, checking it belongs to this query. */
export function decodePageToken(
  v: Violations,
  token: string,
  filter: string,
  orderBy: readonly OrderTerm[],
): Cursor | undefined {
  if (token === "") return undefined;
  try {
    const payload = decodeToken(token);
    if (typeof payload === "object" && payload !== null) {
      const { q, v: values, i } = payload as { q?: unknown; v?: unknown; i?: unknown };
      if (typeof q === "string" && q !== queryHash(filter, orderBy)) {
        v.add("page_token", "belongs to a listing with another filter or order_by; send the same ones");
        return undefined;
      }
      const valid =
        typeof i === "string" &&
        Array.isArray(values) &&
        values.length === orderBy.length &&
        values.every((value, n) =>
          orderBy[n]?.field.endsWith("_time") ? Number.isSafeInteger(value) : typeof value === "string",
        );
      if (valid) return { values: values as (string | number)[], id: i };
    }
  } catch {
    // Falls through to the violation below.
  }
  v.add("page_token", foreignToken);
  return undefined;
}
