/** Helpers for the dialects' error classifiers: driver errors nest (`cause`, `AggregateError`). */

interface ErrorLike {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/**
 * The error and the errors it wraps: its `cause` chain and, for an
 * `AggregateError` (Node's happy-eyeballs connect to several addresses),
 * each of its `errors`. Bounded, so a cyclic chain cannot loop.
 */
export function errorChain(error: unknown): ErrorLike[] {
  const found: ErrorLike[] = [];
  const pending: unknown[] = [error];
  while (pending.length > 0 && found.length < 32) {
    const next = pending.shift();
    if (typeof next !== "object" || next === null || found.includes(next)) continue;
    const e = next as ErrorLike;
    found.push(e);
    if (e.cause !== undefined) pending.push(e.cause);
    if (Array.isArray(e.errors)) pending.push(...e.errors);
  }
  return found;
}

/** Node's socket and DNS error codes for a server that cannot be reached or dropped the connection. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** `error.code` if it is a string, else `""`. */
export function stringCode(error: ErrorLike): string {
  return typeof error.code === "string" ? error.code : "";
}

/** `error.message` if it is a string, else `""`. */
export function messageOf(error: ErrorLike): string {
  return typeof error.message === "string" ? error.message : "";
}
