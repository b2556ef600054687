/** The shell's sign-in state: the header's "Sign in" / "Sign out" buttons and the token prompt share it. */
import { useEffect, useState } from "preact/hooks";
import { type AuthState, authState, onAuthChange } from "../api/http";

/** {@link authState}, re-rendered whenever it changes. */
export function useAuthState(): AuthState {
  const [state, setState] = useState(authState);
  useEffect(() => {
    const update = () => {
      const next = authState();
      setState((prev) =>
        prev.hasToken === next.hasToken && prev.unauthenticated === next.unauthenticated ? prev : next,
      );
    };
    update();
    return onAuthChange(update);
  }, []);
  return state;
}

const signInListeners = new Set<() => void>();

/** Asks the token prompt to open (the header's "Sign in" after the prompt was closed). */
export function requestSignIn(): void {
  for (const listener of signInListeners) listener();
}

/** Calls `listener` when {@link requestSignIn} is called; returns the unsubscribe function. */
export function onSignInRequested(listener: () => void): () => void {
  signInListeners.add(listener);
  return () => {
    signInListeners.delete(listener);
  };
}
