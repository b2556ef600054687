/** One alias move from the page (promote or roll back): busy, the outcome, and the error as the API gave it. */
import { useRef, useState } from "preact/hooks";
import type { ApiError } from "../api/http";
import { type SetAliasInput, setAlias } from "../api/registry";

/** The state of {@link useAliasMove}. */
export interface AliasMove {
  readonly busy: boolean;
  /** "<alias> now points at <version>" after a success, else "". */
  readonly done: string;
  readonly error: ApiError | Error | undefined;
  /** The last failure was ABORTED: someone moved the alias after the page read it. */
  readonly conflict: boolean;
  /** Moves the alias (compare-and-set when `expectedVersion` is given); `onSettled` runs after either outcome. */
  move(input: SetAliasInput): Promise<void>;
}

/** A fresh request id (a UUID; `crypto.randomUUID` exists only on https and localhost). */
export function newRequestId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The same move: alias, version and the version it expects the alias at. */
function sameMove(a: SetAliasInput, b: SetAliasInput): boolean {
  return (
    a.name === b.name &&
    a.alias === b.alias &&
    a.version === b.version &&
    a.expectedVersion === b.expectedVersion
  );
}

/**
 * Moves aliases, calling `onSettled` after each attempt (the aliases and the trail changed either way).
 * Each attempt carries a request id; retrying the same move after the gateway could not be reached
 * reuses it, so a move that was saved though its answer was lost is answered as done (AIP-155), not
 * refused as "someone else moved this alias".
 */
export function useAliasMove(onSettled: () => void): AliasMove {
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState("");
  const [error, setError] = useState<ApiError | Error>();
  const [conflict, setConflict] = useState(false);
  // The last attempt when its answer was lost (the move may have been saved), with its request id.
  const unsure = useRef<{ input: SetAliasInput; requestId: string } | undefined>(undefined);
  const move = async (input: SetAliasInput) => {
    const last = unsure.current;
    const requestId = last && sameMove(last.input, input) ? last.requestId : newRequestId();
    unsure.current = undefined;
    setBusy(true);
    setError(undefined);
    setConflict(false);
    setDone("");
    try {
      const moved = await setAlias({ ...input, requestId });
      setDone(`${moved.alias} now points at ${moved.version}`);
    } catch (e) {
      const failure = e instanceof Error ? e : new Error(String(e));
      const { code, status } = failure as Partial<ApiError>;
      if (status === 0 || code === "UNAVAILABLE") unsure.current = { input, requestId };
      setConflict(code === "ABORTED");
      setError(failure);
    } finally {
      setBusy(false);
      onSettled();
    }
  };
  return { busy, done, error, conflict, move };
}
