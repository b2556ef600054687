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

/** Writes `text`, waiting for the stream to drain when it asks to (a slow pipe: no unbounded buffering). */
export async function writeOut(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
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

/** Column widths that fit `columns` characters: the widest columns shrink first, none below 8. */
function fittedWidths(headers: readonly string[], rows: readonly string[][], columns: number): number[] {
  const gap = 2;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  let excess = widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1) - columns;
  while (excess > 0) {
    const widest = widths.indexOf(Math.max(...widths));
    const current = widths[widest] ?? 0;
    if (current <= 8) break;
    const cut = Math.min(excess, current - 8, Math.max(1, Math.ceil(current / 4)));
    widths[widest] = current - cut;
    excess -= cut;
  }
  return widths;
}

/**
 * A kubectl-like table: a header row, no borders, two spaces between
 * columns. On a terminal, long cells are cut (with …) so rows fit its width.
 */
export function formatTable(headers: readonly string[], rows: readonly string[][], columns?: number): string {
  const clean = rows.map((row) => row.map((cell) => cell.replace(/[\r\n\t]+/g, " ")));
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

/** Field/value lines (`id      abc`), for one resource in the table format. */
export function writeFields(io: CliIo, fields: readonly (readonly [string, string])[]): Promise<void> {
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`.trimEnd());
  return writeOut(io.stdout, `${lines.join("\n")}\n`);
}
