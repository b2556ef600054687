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
 * Set-if-newer over every write of one call. KEYS[i] is an entry's key,
 * ARGV[2i-1] its new value (revision + data), ARGV[2i] its time to live in
 * ms. A key is written only if it has no value or one with a lower
 * revision. Returns how many were written.
 */
export const setIfNewerScript = `${greater}
local written = 0
for i, key in ipairs(KEYS) do
  local value = ARGV[2 * i - 1]
  local current = redis.call('GET', key)
  if not current or greater(value, current, ${revisionBytes}) then
    redis.call('SET', key, value, 'PX', ARGV[2 * i])
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
