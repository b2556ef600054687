/**
 * What the cache holds under a key, when an entry may replace another, and
 * how entries are encoded for the shared level.
 *
 * @internal
 */
import { Model, RegistryError, Status } from "@modelreg/proto";

/** Where an entry came from: the change feed, a registry read after a miss, or a write through this client. */
export type Source = "event" | "fill" | "write";

interface Base {
  /** The history revision the entry is current as of. */
  readonly revision: bigint;
  /** Set by a write through this client (its revision is the write's header, which a no-op repeats). */
  readonly fromWrite?: boolean;
  /** Epoch ms after which the entry is ignored (NOT_FOUND answers); none: until replaced or evicted. */
  readonly expiresAt?: number;
}

/** A model, as of `revision`; `etag` is its own write counter. */
export interface ModelEntry extends Base {
  readonly kind: "model";
  readonly model: Model;
  readonly etag: number;
}

/** A name/version or alias pointing at a model id. */
export interface PointerEntry extends Base {
  readonly kind: "pointer";
  readonly id: string;
}

/** The registry answered NOT_FOUND; `error` is replayed to the caller. */
export interface NotFoundEntry extends Base {
  readonly kind: "notFound";
  readonly status: Status;
}

/** Changed at `revision` in a way the cache cannot answer from: read the registry again. */
export interface UnknownEntry extends Base {
  readonly kind: "unknown";
}

/** One cache entry. */
export type Entry = ModelEntry | PointerEntry | NotFoundEntry | UnknownEntry;

/** A model's etag (`"3"`) as its write counter; 0 when unreadable. */
export function etagNumber(model: Model): number {
  const match = /^(?:W\/)?"?(\d{1,15})"?$/.exec(model.etag);
  return match?.[1] ? Number(match[1]) : 0;
}

/** A model entry for `model` as of `revision`. */
export function modelEntry(model: Model, revision: bigint, fromWrite = false): ModelEntry {
  return { kind: "model", model, etag: etagNumber(model), revision, ...(fromWrite ? { fromWrite } : {}) };
}

/** The error a NOT_FOUND entry answers with, new for each caller. */
export function errorOf(entry: NotFoundEntry): RegistryError {
  return RegistryError.fromStatus(entry.status);
}

/**
 * Whether `next` (from `source`) may replace `existing`. Two states of one
 * model are ordered by the model's own etag, whatever their revision tags
 * (a no-op write's header names the latest revision, not the model's); a
 * change event may always mark an entry a write made unknown (a delete
 * that raced the write); otherwise the newer revision tag wins, a fill
 * replacing an entry of its own start revision (it read at least that
 * state).
 */
export function mayReplace(existing: Entry | undefined, next: Entry, source: Source, now: number): boolean {
  if (!existing || (existing.expiresAt !== undefined && existing.expiresAt <= now)) return true;
  if (existing.kind === "model" && next.kind === "model") {
    if (existing.etag !== next.etag) return next.etag > existing.etag;
    return next.revision > existing.revision;
  }
  if (source === "event" && next.kind === "unknown" && existing.fromWrite) return true;
  return existing.revision <= next.revision;
}

const kinds = { model: 1, pointer: 2, notFound: 3, unknown: 4 } as const;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** An entry as the shared level's opaque bytes: a kind byte, then the model, id or status. */
export function encodeEntry(entry: Entry): Uint8Array {
  let body: Uint8Array;
  if (entry.kind === "model") body = Model.toBinary(entry.model);
  else if (entry.kind === "pointer") body = utf8.encode(entry.id);
  else if (entry.kind === "notFound") body = Status.toBinary(entry.status);
  else body = new Uint8Array(0);
  const data = new Uint8Array(body.length + 1);
  data[0] = kinds[entry.kind];
  data.set(body, 1);
  return data;
}

/** The entry a shared-level value encodes; undefined for bytes this version does not know. */
export function decodeEntry(
  data: Uint8Array,
  revision: bigint,
  expiresAt: number | undefined,
): Entry | undefined {
  const body = data.subarray(1);
  switch (data[0]) {
    case kinds.model:
      return modelEntry(Model.fromBinary(body), revision);
    case kinds.pointer:
      return { kind: "pointer", id: fromUtf8.decode(body), revision };
    case kinds.notFound:
      return { kind: "notFound", status: Status.fromBinary(body), revision, expiresAt: expiresAt ?? 0 };
    case kinds.unknown:
      return { kind: "unknown", revision };
    default:
      return undefined;
  }
}

/** About how many bytes an entry holds in memory: the key twice (UTF-16) and its content. */
export function sizeOf(key: string, entry: Entry): number {
  const overhead = 96 + key.length * 2;
  if (entry.kind === "model") return overhead + Model.toBinary(entry.model).length * 3;
  if (entry.kind === "pointer") return overhead + entry.id.length * 2;
  if (entry.kind === "notFound") return overhead + entry.status.message.length * 2 + 64;
  return overhead;
}
