import { AsyncLocalStorage } from "node:async_hooks";
import { once } from "node:events";
import { errorDetailTypes } from "@modelreg/proto";
import type { IMessageType, JsonValue } from "@protobuf-ts/runtime";
import Table from "cli-table3";
import type { CliIo, OutputFormat } from "./context";
import { CliUsageError } from "./errors";

// biome-ignore lint/suspicious/noExplicitAny: output writes messages of every type.
type AnyMessageType = IMessageType<any>;

/** `--json` / `--ndjson` as an {@link OutputFormat}; both at once is a usage error. */
export function outputFormatOf(options: { json?: boolean; ndjson?: boolean }): OutputFormat {
  if (options.json && options.ndjson) throw new CliUsageError("--json and --ndjson exclude each other");
  if (options.json) return "json";
  if (options.ndjson) return "ndjson";
  return "table";
}

function dropNulls(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, JsonValue> = {};
  for (const [key, item] of Object.entries(value)) if (item !== null) out[key] = dropNulls(item);
  return out;
}

/**
 * A protobuf message in the REST gateway's JSON form: proto3 JSON with
 * camelCase names, scalar and repeated defaults written (`"tags": []`), and
 * unset message fields left out; google.rpc details (Any) as objects with `@type`.
 */
export function messageJson(type: AnyMessageType, message: object): JsonValue {
  return dropNulls(type.toJson(message, { emitDefaultValues: true, typeRegistry: errorDetailTypes }));
}

const interruption = new AsyncLocalStorage<AbortSignal>();

/**
 * Runs `run` with `signal` as the interruption of every {@link writeOut}
 * it makes (withClient passes its SIGINT signal): a write waiting on a full
 * pipe stops when it is aborted.
 */
export function withInterruption<T>(signal: AbortSignal, run: () => Promise<T>): Promise<T> {
  return interruption.run(signal, run);
}

/**
 * Writes `text`, waiting for the stream to drain when it asks to (a slow
 * pipe: no unbounded buffering). The wait ends with an AbortError when
 * `signal` (by default the one of {@link withInterruption}, SIGINT) is aborted.
 */
export async function writeOut(
  stream: NodeJS.WritableStream,
  text: string,
  signal: AbortSignal | undefined = interruption.getStore(),
): Promise<void> {
  signal?.throwIfAborted();
  if (!stream.write(text)) await once(stream, "drain", signal ? { signal } : {});
}

/** C0 and C1 controls, DEL, and the Unicode line separators and bidirectional controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters it escapes.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` with its control characters written as JSON-style escapes (`\n`,
 * `\u001b`): registry data printed in a table or as fields can neither add
 * lines nor send terminal escape sequences.
 */
export function printable(text: string): string {
  return text.replace(
    CONTROL,
    (c) => NAMED_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** One JSON document, indented, on stdout. */
export function writeJson(io: CliIo, value: JsonValue): Promise<void> {
  return writeOut(io.stdout, `${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON object on one line of stdout. */
export function writeJsonLine(io: CliIo, value: JsonValue): Promise<void> {
  return writeOut(io.stdout, `${JSON.stringify(value)}\n`);
}

/** `text` cut to `width` characters, with an ellipsis when cut. */
function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Columns never cut: an id must stay whole to be used with get, update or delete. */
const UNCUT = new Set(["ID", "MODEL ID"]);
/** Columns cut only after every other (free text) column is at its narrowest. */
const CUT_LAST = new Set(["NAME", "VERSION", "ALIAS", "REVISION", "TIME", "CREATED", "UPDATED"]);

/**
 * Column widths that fit `columns` characters: the widest free-text
 * columns (framework, tags, detail...) shrink first, then names and
 * versions, none below 8; id columns never shrink.
 */
function fittedWidths(headers: readonly string[], rows: readonly string[][], columns: number): number[] {
  const gap = 2;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  let excess = widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1) - columns;
  const free = headers.flatMap((h, i) => (UNCUT.has(h) || CUT_LAST.has(h) ? [] : [i]));
  const last = headers.flatMap((h, i) => (CUT_LAST.has(h) ? [i] : []));
  for (const group of [free, last]) {
    while (excess > 0) {
      const widest = group.reduce((a, i) => ((widths[i] ?? 0) > (widths[a] ?? 0) ? i : a), group[0] ?? -1);
      const current = widths[widest] ?? 0;
      if (widest < 0 || current <= 8) break;
      const cut = Math.min(excess, current - 8, Math.max(1, Math.ceil(current / 4)));
      widths[widest] = current - cut;
      excess -= cut;
    }
  }
  return widths;
}

/**
 * A kubectl-like table: a header row, no borders, two spaces between
 * columns; control characters in cells escaped ({@link printable}). With
 * `columns` (a terminal's width), long cells are cut (with …) so rows fit,
 * free text first, id columns never.
 */
export function formatTable(headers: readonly string[], rows: readonly string[][], columns?: number): string {
  const clean = rows.map((row) => row.map(printable));
  const widths = columns ? fittedWidths(headers, clean, columns) : undefined;
  const cut = (cells: readonly string[]) => cells.map((c, i) => (widths ? fit(c, widths[i] ?? c.length) : c));
  const blank = { top: "", "top-mid": "", "top-left": "", "top-right": "", bottom: "", "bottom-mid": "" };
  const table = new Table({
    head: cut(headers),
    chars: {
      ...blank,
      "bottom-left": "",
      "bottom-right": "",
      left: "",
      "left-mid": "",
      mid: "",
      "mid-mid": "",
      right: "",
      "right-mid": "",
      middle: "  ",
    },
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0, compact: true },
  });
  for (const row of clean) table.push(cut(row));
  return `${table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")}\n`;
}

/** Writes a {@link formatTable} table to stdout, fitted to the terminal's width when stdout is one. */
export function writeTable(io: CliIo, headers: readonly string[], rows: readonly string[][]): Promise<void> {
  const columns = io.stdout.isTTY ? io.stdout.columns : undefined;
  return writeOut(io.stdout, formatTable(headers, rows, columns));
}

/** Field/value lines (`id      abc`), for one resource in the table format; values {@link printable}. */
export function writeFields(io: CliIo, fields: readonly (readonly [string, string])[]): Promise<void> {
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = fields.map(([name, value]) => `${name.padEnd(width)}  ${printable(value)}`.trimEnd());
  return writeOut(io.stdout, `${lines.join("\n")}\n`);
}
