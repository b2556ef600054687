/** The list's filter and sort helpers (AIP-160 text, orderBy strings). */
import { quoteFilterValue } from "../api/registry";

/** The sort choices: orderBy string and label. */
export const orderOptions: readonly { readonly value: string; readonly label: string }[] = [
  { value: "create_time desc", label: "Newest first" },
  { value: "create_time", label: "Oldest first" },
  { value: "name", label: "Name A–Z" },
  { value: "name desc", label: "Name Z–A" },
  { value: "update_time desc", label: "Recently updated" },
  { value: "framework", label: "Framework" },
];

/** The API's default order. */
export const defaultOrder = "create_time desc";

/** Whether `orderBy` is the default (newest first), where new models belong at the top. */
export function isDefaultOrder(orderBy: string): boolean {
  return orderBy.trim() === "" || orderBy.trim().replace(/\s+/g, " ") === defaultOrder;
}

/** `filter AND clause` (parenthesised when the filter has a top-level OR); unchanged if already there. */
export function addClause(filter: string, clause: string): string {
  const current = filter.trim();
  if (current === "") return clause;
  if (current.split(/\s+AND\s+/).includes(clause)) return current;
  return /\bOR\b/.test(current) ? `(${current}) AND ${clause}` : `${current} AND ${clause}`;
}

/** The clause selecting a framework. */
export function frameworkClause(framework: string): string {
  return `framework = ${quoteFilterValue(framework)}`;
}

/** The clause selecting a tag (quoted unless a plain word). */
export function tagClause(tag: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(tag) ? `tags:${tag}` : `tags:${quoteFilterValue(tag)}`;
}
