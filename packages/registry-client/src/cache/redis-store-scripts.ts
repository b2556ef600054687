/**
 * What the Redis store keeps, byte for byte, and the Lua scripts that
 * change it atomically. An entry is one string value: its revision as 8
 * bytes big-endian, then the data (binary-safe; one GET/MGET reads both).
 * The applied revision is a decimal string (readable with `redis-cli get`).
 */
import type { SharedCacheEntry } from "./types";

/** Bytes of the revision in front of an entry's data. */
const revisionBytes = 8;

/** The largest revision an entry can carry (8 bytes, unsigned). */
export const maxRevision = 2n ** 64n - 1n;

/** An entry's stored value: the revision (8 bytes, big-endian), then the data. */
export function encodeEntry(revision: bigint, data: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(revisionBytes + data.byteLength);
  value.writeBigUInt64BE(revision, 0);
  value.set(data, revisionBytes);
  return value;
}

/** The entry in a stored value; `undefined` for none (or a value this store did not write). */
export function decodeEntry(value: Buffer | null | undefined): SharedCacheEntry | undefined {
  if (!value || value.byteLength < revisionBytes) return undefined;
  // A copy: the reply's buffer may be a slice of a larger one the client reuses.
  return { revision: value.readBigUInt64BE(0), data: new Uint8Array(value.subarray(revisionBytes)) };
}

/**
 * `greater(a, b)`: whether the first `n` bytes of `a`, read as an unsigned
 * big-endian number, exceed those of `b`. Byte by byte, because Lua's `<`
 * on strings follows the server's locale (strcoll), not the bytes.
 */
const greater = `
local function greater(a, b, n)
  for i = 1, n do
    local x, y = string.byte(a, i) or -1, string.byte(b, i) or -1
    if x ~= y then return x > y end
  end
  return false
end
`;

/**
 * Set-if-newer over every write of one call. KEYS[1] is the applied
 * revision's key, KEYS[i + 1] an entry's key, ARGV[2i] its new value
 * (revision + data), ARGV[2i + 1] its time to live in ms. A key is written
 * only if it has no value or one with a lower revision. ARGV[1] is empty
 * for change events; for a fill (a registry read after a miss) it is the
 * fill's revision (decimal), and the whole call is dropped when the store
 * has no applied revision or a higher one: after a newer entry was removed
 * (a clear, an eviction), a lagging process must not put an older state
 * back. Returns how many were written.
 */
export const setIfNewerScript = `${greater}
local floor = ARGV[1]
if floor ~= '' then
  local applied = redis.call('GET', KEYS[1])
  if not applied or #floor < #applied or (#floor == #applied and greater(applied, floor, #floor)) then
    return 0
  end
end
local written = 0
for i = 2, #KEYS do
  local value = ARGV[2 * (i - 1)]
  local current = redis.call('GET', KEYS[i])
  if not current or greater(value, current, ${revisionBytes}) then
    redis.call('SET', KEYS[i], value, 'PX', ARGV[2 * (i - 1) + 1])
    written = written + 1
  end
end
return written
`;

/**
 * Keeps the larger of the stored applied revision (KEYS[1], a decimal
 * string) and ARGV[1] (one too, without leading zeros). Returns 1 if it
 * wrote.
 */
export const markAppliedScript = `${greater}
local current = redis.call('GET', KEYS[1])
local revision = ARGV[1]
if not current or #revision > #current or (#revision == #current and greater(revision, current, #revision)) then
  redis.call('SET', KEYS[1], revision)
  return 1
end
return 0
`;
