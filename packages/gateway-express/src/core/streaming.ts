/**
 * The HTTP forms of the streaming RPCs, framework-independent: the watch as
 * server-sent events or NDJSON, the import from an NDJSON body.
 *
 * @internal
 */
import { Code, ModelEventType, RegistryError, type WatchModelsResponse } from "@modelreg/proto";
import type { ErrorBody } from "./http-status";

/** The two response formats of a server-streaming route. */
export type StreamFormat = "sse" | "ndjson";

export const streamContentTypes: Readonly<Record<StreamFormat, string>> = {
  sse: "text/event-stream; charset=utf-8",
  ndjson: "application/x-ndjson; charset=utf-8",
};

/**
 * Picks SSE or NDJSON from an `Accept` header (RFC 9110 12.5.1: the highest
 * q wins, a specific type beats a wildcard at the same q). NDJSON is the
 * default: no header, `*` / `*`, or neither type acceptable.
 */
export function negotiateStreamFormat(accept: string | undefined): StreamFormat {
  if (accept === undefined || accept.trim() === "") return "ndjson";
  const ranges = accept.split(",").map((part) => {
    const [range = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    return { range, q: Number.isFinite(weight) ? weight : 0 };
  });
  const score = (type: string): [number, number] => {
    const [major] = type.split("/");
    let best: [number, number] = [0, -1];
    for (const { range, q } of ranges) {
      const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === "*/*" ? 0 : -1;
      if (specificity > best[1]) best = [q, specificity];
    }
    return best;
  };
  const [sseQ, sseSpecificity] = score("text/event-stream");
  const [ndjsonQ, ndjsonSpecificity] = score("application/x-ndjson");
  if (sseQ > ndjsonQ || (sseQ === ndjsonQ && sseQ > 0 && sseSpecificity > ndjsonSpecificity)) return "sse";
  return "ndjson";
}

const eventNames: Readonly<Record<ModelEventType, string>> = {
  [ModelEventType.UNSPECIFIED]: "unspecified",
  [ModelEventType.CREATED]: "created",
  [ModelEventType.UPDATED]: "updated",
  [ModelEventType.DELETED]: "deleted",
  [ModelEventType.ALIAS_SET]: "alias_set",
  [ModelEventType.ALIAS_DELETED]: "alias_deleted",
  [ModelEventType.LEFT_FILTER]: "left_filter",
};

/**
 * One watch message on the wire. SSE: `id` is the revision (what
 * `Last-Event-ID` resumes after), `event` the change type or `progress`,
 * `data` the message as proto3 JSON. NDJSON: the JSON on one line.
 */
export function encodeWatchMessage(
  format: StreamFormat,
  message: WatchModelsResponse,
  json: unknown,
): string {
  const data = JSON.stringify(json);
  if (format === "ndjson") return `${data}\n`;
  const name = message.event === undefined ? "progress" : (eventNames[message.event.type] ?? "unspecified");
  return `id: ${message.revision}\nevent: ${name}\ndata: ${data}\n\n`;
}

/** The error that ends a stream after its first byte: an SSE `error` event, or a last NDJSON line. */
export function encodeStreamError(format: StreamFormat, body: ErrorBody): string {
  const data = JSON.stringify(body);
  return format === "ndjson" ? `${data}\n` : `event: error\ndata: ${data}\n\n`;
}

/** `Last-Event-ID` as a revision. */
export function parseLastEventId(value: string): bigint {
  if (!/^\d{1,19}$/.test(value.trim()) || BigInt(value.trim()) > 0x7fff_ffff_ffff_ffffn) {
    throw new RegistryError(
      Code.INVALID_ARGUMENT,
      `Last-Event-ID must be a revision (a non-negative integer) from an earlier event's id; got "${value.slice(0, 40)}".`,
      { violations: [{ field: "Last-Event-ID", description: "must be a non-negative integer revision" }] },
    );
  }
  return BigInt(value.trim());
}

/**
 * A query parameter naming a revision (`afterRevision`): a non-negative
 * integer that fits the contract's int64, else INVALID_ARGUMENT naming it.
 */
export function parseRevisionParameter(name: string, value: string): bigint {
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > 0x7fff_ffff_ffff_ffffn) {
    throw new RegistryError(
      Code.INVALID_ARGUMENT,
      `Invalid request: ${name}: must be a revision, a non-negative integer of at most 9223372036854775807 (got "${value.slice(0, 40)}").`,
      { violations: [{ field: name, description: "must be a non-negative integer revision" }] },
    );
  }
  return BigInt(value);
}

/** One line of an NDJSON body, numbered from 1 as an editor shows it. */
export interface NdjsonLine {
  readonly number: number;
  readonly text: string;
}

const tooLong = new WeakSet<RegistryError>();

/** A line longer than the limit. */
function lineTooLong(line: number, maxLineBytes: number): RegistryError {
  const error = new RegistryError(
    Code.INVALID_ARGUMENT,
    `Line ${line} of the NDJSON body is longer than ${maxLineBytes} bytes; send smaller items, or raise the gateway's maxBodyBytes.`,
    { violations: [{ field: `line ${line}`, description: `is longer than ${maxLineBytes} bytes` }] },
  );
  tooLong.add(error);
  return error;
}

/** Whether `error` is a line over the limit, answered 413 rather than 400. */
export const isLineTooLong = (error: unknown): error is RegistryError =>
  error instanceof RegistryError && tooLong.has(error);

/**
 * Splits a byte stream into lines as the bytes arrive (never holding more
 * than one line), refusing a line over `maxLineBytes` and bytes that are not
 * UTF-8. A final line without a newline counts; `\r\n` endings are accepted.
 */
export async function* ndjsonLines(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<NdjsonLine, void, undefined> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  const decode = (bytes: Buffer): string => {
    try {
      return decoder.decode(bytes).replace(/\r$/, "");
    } catch {
      throw new RegistryError(
        Code.INVALID_ARGUMENT,
        `Line ${number} of the NDJSON body is not valid UTF-8.`,
        {
          violations: [{ field: `line ${number}`, description: "is not valid UTF-8" }],
        },
      );
    }
  };
  for await (const chunk of source) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    let start = 0;
    for (;;) {
      const newline = bytes.indexOf(10, start);
      const piece = bytes.subarray(start, newline === -1 ? bytes.length : newline);
      if (pendingBytes + piece.length > maxLineBytes) throw lineTooLong(number + 1, maxLineBytes);
      if (newline === -1) {
        if (piece.length > 0) {
          pending.push(piece);
          pendingBytes += piece.length;
        }
        break;
      }
      const line = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
      pending = [];
      pendingBytes = 0;
      number++;
      yield { number, text: decode(line) };
      start = newline + 1;
    }
  }
  if (pendingBytes > 0) {
    number++;
    yield { number, text: decode(Buffer.concat(pending)) };
  }
}

/** Names the line in an error about one NDJSON item. */
export function atLine(error: unknown, line: number): unknown {
  if (!(error instanceof RegistryError) || error.code !== Code.INVALID_ARGUMENT) return error;
  const violations = error.violations.map((v) => ({
    field: v.field === "body" ? `line ${line}` : `line ${line}: ${v.field}`,
    description: v.description,
  }));
  const message = error.message.replace(/^Invalid request: |^The request body /, (m) =>
    m.startsWith("The") ? "it " : "",
  );
  return new RegistryError(Code.INVALID_ARGUMENT, `Line ${line} of the NDJSON body: ${message}`, {
    violations,
    cause: error,
  });
}
