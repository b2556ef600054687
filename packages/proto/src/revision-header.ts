/**
 * The response header every successful ModelService write answers with:
 * the history revision it committed at, as a decimal string. A consistency
 * token: pass it back as a read's `minRevision` (over HTTP, the gateway's
 * `X-Modelreg-Revision` header) and a cache that has not yet seen that
 * revision in the change feed asks the registry instead of answering.
 */
export const revisionHeader = "x-modelreg-revision";

/**
 * Reads a revision from a header value or an option: a non-negative decimal
 * integer of at most 2^63-1 (a bigint, a safe integer, or a string of up
 * to 19 digits). `undefined` for anything else.
 */
export function parseRevision(value: unknown): bigint | undefined {
  let revision: bigint | undefined;
  if (typeof value === "bigint") revision = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) revision = BigInt(value);
  else if (typeof value === "string" && /^\d{1,19}$/.test(value)) revision = BigInt(value);
  if (revision === undefined || revision < 0n || revision > 0x7fff_ffff_ffff_ffffn) return undefined;
  return revision;
}
