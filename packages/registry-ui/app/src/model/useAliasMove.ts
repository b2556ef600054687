/** One alias move from the page (promote or roll back): busy, the outcome, and the error as the API gave it. */
import { useState } from "preact/hooks";
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

/** Moves aliases, calling `onSettled` after each attempt (the aliases and the trail changed either way). */
export function useAliasMove(onSettled: () => void): AliasMove {
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState("");
  const [error, setError] = useState<ApiError | Error>();
  const [conflict, setConflict] = useState(false);
  const move = async (input: SetAliasInput) => {
    setBusy(true);
    setError(undefined);
    setConflict(false);
    setDone("");
    try {
      const moved = await setAlias(input);
      setDone(`${moved.alias} now points at ${moved.version}`);
    } catch (e) {
      const failure = e instanceof Error ? e : new Error(String(e));
      setConflict((failure as Partial<ApiError>).code === "ABORTED");
      setError(failure);
    } finally {
      setBusy(false);
      onSettled();
    }
  };
  return { busy, done, error, conflict, move };
}
