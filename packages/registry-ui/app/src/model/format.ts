/** Small text helpers of the model page: history entries, refusals, field values. */
import { violationsOf } from "../api/http";
import type { HistoryEntry, ModelEventType } from "../api/types";

const typeNames: Readonly<Record<ModelEventType, string>> = {
  MODEL_EVENT_TYPE_UNSPECIFIED: "changed",
  MODEL_EVENT_TYPE_CREATED: "created",
  MODEL_EVENT_TYPE_UPDATED: "updated",
  MODEL_EVENT_TYPE_DELETED: "deleted",
  MODEL_EVENT_TYPE_ALIAS_SET: "alias set",
  MODEL_EVENT_TYPE_ALIAS_DELETED: "alias deleted",
  MODEL_EVENT_TYPE_LEFT_FILTER: "left filter",
};

/** The change type in words: `created`, `alias set`, ... */
export function typeName(type: ModelEventType): string {
  return typeNames[type] ?? "changed";
}

/** What an entry did, in one line: `alias set production: 1.0.0 -> 1.1.0`, `created 1.2.0`. */
export function describeEntry(entry: HistoryEntry): string {
  const what = typeName(entry.type);
  if (entry.type === "MODEL_EVENT_TYPE_ALIAS_SET" || entry.type === "MODEL_EVENT_TYPE_ALIAS_DELETED") {
    const alias = entry.aliasAfter?.alias || entry.aliasBefore?.alias || "";
    const from = entry.aliasBefore?.version || "(none)";
    const to =
      entry.aliasAfter?.version || (entry.type === "MODEL_EVENT_TYPE_ALIAS_DELETED" ? "(none)" : "?");
    return `${what} ${alias}: ${from} -> ${to}`;
  }
  const version = entry.after?.version || entry.before?.version || "";
  return version === "" ? what : `${what} ${version}`;
}

/** The refusal's message and every violation's description, for a refused entry. */
export function refusalLines(entry: HistoryEntry): { message: string; violations: string[] } | undefined {
  if (entry.refusal === undefined) return undefined;
  const { fieldViolations, preconditionViolations } = violationsOf(entry.refusal.details);
  return {
    message: entry.refusal.message,
    // A violation the message already spells out is not listed twice.
    violations: [...preconditionViolations, ...fieldViolations]
      .map((v) => v.description)
      .filter((d) => d !== "" && !entry.refusal?.message.includes(d)),
  };
}

/** A key = value list of metadata, sorted by key. */
export function metadataEntries(metadata: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
