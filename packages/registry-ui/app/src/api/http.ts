/**
 * The page's one way to the gateway: `fetch` with the token, errors turned
 * into {@link ApiError} (the AIP-193 body the gateway answers with), and the
 * revisions of this page's own writes remembered, so the live view can tell
 * them from changes made by someone else.
 */
import { config } from "../config";

/** One invalid field of a request (`google.rpc.BadRequest`). */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** One unmet precondition (`google.rpc.PreconditionFailure`), e.g. a promotion policy's missing item. */
export interface PreconditionViolation {
  readonly type: string;
  readonly subject: string;
  readonly description: string;
}

/** A failed API call, as the gateway explained it. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    /** The HTTP status; 0 when the gateway could not be reached. */
    readonly status: number,
    /** The gRPC status name, e.g. `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `UNAUTHENTICATED`. */
    readonly code: string,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    readonly preconditionViolations: readonly PreconditionViolation[] = [],
    /** `google.rpc.ErrorInfo.reason`, e.g. `ALIAS_CHANGED`, when the API gave one. */
    readonly reason = "",
  ) {
    super(message);
  }
}

/** Reads the `details` of an error body (or of a history entry's `refusal`). */
export function violationsOf(details: unknown): {
  fieldViolations: FieldViolation[];
  preconditionViolations: PreconditionViolation[];
  reason: string;
} {
  const fieldViolations: FieldViolation[] = [];
  const preconditionViolations: PreconditionViolation[] = [];
  let reason = "";
  for (const detail of Array.isArray(details) ? details : []) {
    if (detail === null || typeof detail !== "object") continue;
    const d = detail as Record<string, unknown>;
    const type = String(d["@type"] ?? "");
    if (type.endsWith("google.rpc.BadRequest") && Array.isArray(d.fieldViolations)) {
      for (const v of d.fieldViolations as Record<string, unknown>[]) {
        fieldViolations.push({ field: String(v.field ?? ""), description: String(v.description ?? "") });
      }
    } else if (type.endsWith("google.rpc.PreconditionFailure") && Array.isArray(d.violations)) {
      for (const v of d.violations as Record<string, unknown>[]) {
        preconditionViolations.push({
          type: String(v.type ?? ""),
          subject: String(v.subject ?? ""),
          description: String(v.description ?? ""),
        });
      }
    } else if (type.endsWith("google.rpc.ErrorInfo") && reason === "") {
      reason = String(d.reason ?? "");
    }
  }
  return { fieldViolations, preconditionViolations, reason };
}

const tokenKey = "modelreg.token";

/**
 * Whether a browser can send `value` as a bearer token: printable ASCII
 * (0x21-0x7E) only. `fetch` refuses a header with a character outside
 * Latin-1, and a space or control character is never part of a token.
 */
export function isSendableToken(value: string): boolean {
  return /^[\x21-\x7E]+$/.test(value);
}

/** `ErrorInfo.reason` of the page's own refusal of a stored token that cannot be sent. */
export const unsendableTokenReason = "TOKEN_NOT_SENDABLE";

/** The bearer token the page sends, kept for this tab's session only. */
export const token = {
  get(): string {
    try {
      return sessionStorage.getItem(tokenKey) ?? "";
    } catch {
      return "";
    }
  },
  set(value: string): void {
    try {
      if (value === "") sessionStorage.removeItem(tokenKey);
      else sessionStorage.setItem(tokenKey, value);
    } catch {
      // Storage off (private mode): the token lives as long as this page.
    }
    memoryToken = value;
    notifyAuthChange();
  },
};
let memoryToken = "";

/** The token to send: the stored one, or the one given while storage was off. */
export function currentToken(): string {
  return token.get() || memoryToken;
}

/** Listeners told when a call was refused for want of (valid) credentials. */
const unauthenticatedListeners = new Set<(error?: ApiError) => void>();

/** Calls `listener` (with the API's error) whenever a call is answered 401; returns the unsubscribe function. */
export function onUnauthenticated(listener: (error?: ApiError) => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

/** Whether the latest answer of the API was 401 (no later call succeeded), and its error. */
let unauthenticated = false;
let lastUnauthenticatedError: ApiError | undefined;
const authChangeListeners = new Set<() => void>();

function notifyAuthChange(): void {
  for (const listener of authChangeListeners) listener();
}

/** What the shell shows about sign-in: whether a token is set, whether the API last answered 401. */
export interface AuthState {
  readonly hasToken: boolean;
  readonly unauthenticated: boolean;
  /** The error of that 401 (for a prompt that subscribed after it was told). */
  readonly error?: ApiError | undefined;
}

/** The current {@link AuthState}. */
export function authState(): AuthState {
  return { hasToken: currentToken() !== "", unauthenticated, error: lastUnauthenticatedError };
}

/** Calls `listener` whenever {@link authState} may have changed; returns the unsubscribe function. */
export function onAuthChange(listener: () => void): () => void {
  authChangeListeners.add(listener);
  return () => authChangeListeners.delete(listener);
}

/** Tells the listeners of {@link onUnauthenticated} (the live feed's 401, which {@link request} does not see). */
export function notifyUnauthenticated(error?: ApiError): void {
  unauthenticated = true;
  // The page's own refusal of an unsendable token says more than the API's later "no credentials".
  if (lastUnauthenticatedError?.reason !== unsendableTokenReason || currentToken() !== "") {
    lastUnauthenticatedError = error;
  }
  for (const listener of unauthenticatedListeners) listener(error);
  notifyAuthChange();
}

/** Records that the API accepted a call (the header's "Sign in" button goes away). */
export function notifyAuthenticated(): void {
  if (!unauthenticated) return;
  unauthenticated = false;
  lastUnauthenticatedError = undefined;
  notifyAuthChange();
}

/**
 * A stored token the browser cannot send (see {@link isSendableToken}) is a
 * token problem, not a network one: it is cleared and the sign-in prompt is
 * told why. Returns the error to throw, or `undefined` when the token is fine.
 */
export function refuseUnsendableToken(): ApiError | undefined {
  const value = currentToken();
  if (value === "" || isSendableToken(value)) return undefined;
  const error = new ApiError(
    401,
    "UNAUTHENTICATED",
    "The saved token has characters a browser cannot send (only printable ASCII is allowed); it was removed. Enter the token again.",
    [],
    [],
    unsendableTokenReason,
  );
  token.set("");
  notifyUnauthenticated(error);
  return error;
}

const ownRevisions = new Set<string>();

/** Whether the change at `revision` was made by a write of this page. */
export function isOwnRevision(revision: string): boolean {
  return ownRevisions.has(revision);
}

/** A URL of the API: `path` starts with `/api/v1/`. */
export function apiUrl(
  path: string,
  query: Readonly<Record<string, string | number | undefined>> = {},
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  const search = params.toString();
  return `${config.apiBaseUrl}${path}${search === "" ? "" : `?${search}`}`;
}

/** The headers every call carries. */
export function authHeaders(): Record<string, string> {
  const value = currentToken();
  return value === "" ? {} : { Authorization: `Bearer ${value}` };
}

/** The error an answer carries, or one for an answer that is not the API's JSON. */
export async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  if (error === undefined || typeof error !== "object") {
    return new ApiError(
      response.status,
      "UNKNOWN",
      `The gateway answered ${response.status} ${response.statusText}.`,
    );
  }
  const { fieldViolations, preconditionViolations, reason } = violationsOf(error.details);
  return new ApiError(
    response.status,
    String(error.status ?? "UNKNOWN"),
    String(error.message ?? `HTTP ${response.status}`),
    fieldViolations,
    preconditionViolations,
    reason,
  );
}

/** Options of {@link request}. */
export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

/**
 * Calls the API and returns its JSON; throws {@link ApiError}. A write's
 * `X-Modelreg-Revision` is remembered (see {@link isOwnRevision}).
 */
export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const refused = refuseUnsendableToken();
  if (refused !== undefined) throw refused;
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(
      0,
      "UNAVAILABLE",
      "The gateway cannot be reached. Check the connection and try again.",
    );
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) notifyUnauthenticated(error);
    throw error;
  }
  notifyAuthenticated();
  const revision = response.headers.get("x-modelreg-revision");
  if (method !== "GET" && revision !== null) ownRevisions.add(revision);
  return (await response.json()) as T;
}
