import { type HistoryEntry, Model, type ModelAlias, ModelEventType, Timestamp } from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";
import type { CliIo } from "../context";
import { messageJson, outputFormatOf, writeFields, writeJson, writeJsonLine, writeTable } from "../output";

/** A timestamp as ISO 8601 UTC to the second, or "" when unset. */
export function timeText(ts: Timestamp | undefined): string {
  return ts ? `${Timestamp.toDate(ts).toISOString().slice(0, 19)}Z` : "";
}

/** The table columns of a model list. */
export const MODEL_HEADERS = ["ID", "NAME", "VERSION", "FRAMEWORK", "TAGS", "CREATED"] as const;

/** One row of a model list. */
export function modelRow(m: Model): string[] {
  return [m.id, m.name, m.version, m.framework, m.tags.join(","), timeText(m.createTime)];
}

/** A model as field/value lines (the table format of one model). */
export function modelFields(m: Model): [string, string][] {
  const metadata = Object.entries(m.metadata)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  const fields: [string, string][] = [
    ["id", m.id],
    ["name", m.name],
    ["version", m.version],
    ["framework", m.framework],
    ["description", m.description],
    ["tags", m.tags.join(", ")],
    ["metadata", metadata.join(", ")],
    ["artifact uri", m.artifactUri],
    ["artifact digest", m.artifactDigest],
  ];
  const l = m.lineage;
  if (l?.runUri) fields.push(["run uri", l.runUri]);
  if (l?.codeRevision) fields.push(["code revision", l.codeRevision]);
  if (l?.datasetUris.length) fields.push(["datasets", l.datasetUris.join(", ")]);
  if (l?.parentModelIds.length) fields.push(["parents", l.parentModelIds.join(", ")]);
  fields.push(["etag", m.etag], ["created", timeText(m.createTime)], ["updated", timeText(m.updateTime)]);
  return fields;
}

/** The table columns of an alias list. */
export const ALIAS_HEADERS = ["NAME", "ALIAS", "VERSION", "MODEL ID", "UPDATED", "BY"] as const;

/** One row of an alias list. */
export function aliasRow(a: ModelAlias): string[] {
  return [a.name, a.alias, a.version, a.modelId, timeText(a.updateTime), a.updatedBy];
}

/** The table columns of the history. */
export const HISTORY_HEADERS = ["REVISION", "TIME", "ACTOR", "TYPE", "NAME", "VERSION", "DETAIL"] as const;

/** One row of the history. */
export function historyRow(e: HistoryEntry): string[] {
  const model = e.after ?? e.before;
  const alias = e.aliasAfter ?? e.aliasBefore;
  const type = (ModelEventType[e.type] ?? String(e.type)).replace(/^MODEL_EVENT_TYPE_/, "");
  const name = model?.name ?? alias?.name ?? "";
  const version = model?.version ?? alias?.version ?? "";
  let detail = alias ? `@${alias.alias}` : "";
  if (e.aliasBefore && e.aliasAfter && e.aliasBefore.version !== e.aliasAfter.version) {
    detail += ` ${e.aliasBefore.version} -> ${e.aliasAfter.version}`;
  }
  if (e.refusal) detail = `${detail} refused: ${e.refusal.message}`.trim();
  return [
    e.revision.toString(),
    timeText(e.commitTime),
    e.actor,
    e.refusal ? `${type} (refused)` : type,
    name,
    version,
    detail,
  ];
}

/** Output options of a verb: `--json`, `--ndjson`. */
export interface FormatOptions {
  json?: boolean;
  ndjson?: boolean;
}

/** Prints one model: field/value lines, one JSON document, or one JSON line. */
export function printModel(io: CliIo, options: FormatOptions, model: Model): Promise<void> {
  return printOne(io, options, Model, model, () => writeFields(io, modelFields(model)));
}

/** Prints one message: `table` in the table format, else its JSON (the REST gateway's form). */
export function printOne<T extends object>(
  io: CliIo,
  options: FormatOptions,
  type: IMessageType<T>,
  message: T,
  table: () => Promise<void>,
): Promise<void> {
  const format = outputFormatOf(options);
  if (format === "table") return table();
  const json = messageJson(type, message);
  return format === "json" ? writeJson(io, json) : writeJsonLine(io, json);
}

/** How to print the items of a list. */
export interface ListShape<T extends object> {
  type: IMessageType<T>;
  /** The key of the array in the `--json` document (`models`, `aliases`, `entries`). */
  key: string;
  headers: readonly string[];
  row: (item: T) => string[];
  /** "models": for "No models found." on stderr. */
  noun: string;
}

/**
 * Prints up to `limit` items of `items` (all with `limit` undefined): with
 * `--ndjson` one line each as they arrive (page by page, nothing buffered),
 * with `--json` one document `{"<key>": [...]}`, else a table. Says on
 * stderr when there were more than `limit`.
 */
export async function printList<T extends object>(
  io: CliIo,
  options: FormatOptions,
  shape: ListShape<T>,
  items: AsyncIterable<T>,
  limit: number | undefined,
): Promise<void> {
  const format = outputFormatOf(options);
  const kept: T[] = [];
  let count = 0;
  let more = false;
  for await (const item of items) {
    if (limit !== undefined && count >= limit) {
      more = true;
      break;
    }
    count++;
    if (format === "ndjson") await writeJsonLine(io, messageJson(shape.type, item));
    else kept.push(item);
  }
  if (format === "json") {
    await writeJson(io, { [shape.key]: kept.map((item) => messageJson(shape.type, item)) });
  } else if (format === "table") {
    if (count === 0) io.stderr.write(`No ${shape.noun} found.\n`);
    else await writeTable(io, shape.headers, kept.map(shape.row));
  }
  // On stderr in every format: a script reading stdout still sees the note in its log.
  if (more) io.stderr.write(`(first ${limit} ${shape.noun} shown: --limit N or --all for more)\n`);
}

/**
 * The page size to ask for: `--page-size` if given, else the registry's
 * largest (1000) for `--all`, else one more than `--limit` (so a single page
 * also tells whether there are more).
 */
export function pageSizeFor(o: { pageSize?: number; limit: number; all?: boolean }): number {
  if (o.pageSize !== undefined) return o.pageSize;
  return o.all ? 1000 : Math.min(o.limit + 1, 1000);
}
