/** The token prompt: opens when the API answers 401; the token is kept for this tab's session. */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  type ApiError,
  authState,
  isSendableToken,
  onUnauthenticated,
  token,
  unsendableTokenReason,
} from "../api/http";
import { onSignInRequested } from "../shell/auth";

/** What {@link TokenDialog} tells the shell. */
export interface TokenDialogProps {
  /** A token was given: the page reloads its data with it. */
  readonly onSignedIn: () => void;
}

const invalidMessage =
  "A token is printable ASCII only: letters, digits and symbols, without spaces or accented characters.";

/** The message the prompt shows for a 401: why the token was refused, or `previous` when none was sent. */
function refusalMessage(error: ApiError | undefined, previous: string, isOpen: boolean): string {
  if (error?.reason === unsendableTokenReason) return error.message;
  // No token was sent: the prompt keeps saying why it opened (e.g. a removed token), if it is open.
  if (token.get() === "") return isOpen ? previous : "";
  return error?.message ?? "The registry refused the token. Check it and try again.";
}

/**
 * A modal `<dialog>` named "Sign in" with a password input "Token" and a button "Sign in"; a token
 * that is not printable ASCII is refused inline (`aria-invalid`, described by the message).
 */
export function TokenDialog({ onSignedIn }: TokenDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpenState] = useState(false);
  // Kept in step with `open` at once (not at the next render): two 401s can arrive before it.
  const isOpen = useRef(false);
  const setOpen = (value: boolean) => {
    isOpen.current = value;
    setOpenState(value);
  };
  // Closed with Escape: later 401s (the page's other calls) do not open it again; the header's "Sign in" does.
  const dismissed = useRef(false);
  // The API's message when a token was given and refused.
  const [refused, setRefused] = useState("");
  const [invalid, setInvalid] = useState(false);
  const [value, setValue] = useState("");
  useEffect(() => {
    const offUnauthenticated = onUnauthenticated((error) => {
      setRefused((previous) => refusalMessage(error, previous, isOpen.current));
      if (!dismissed.current) setOpen(true);
    });
    const offRequested = onSignInRequested(() => {
      dismissed.current = false;
      setOpen(true);
    });
    // A 401 told before this subscribed (the page's first calls start in its effects, which run first).
    const state = authState();
    if (state.unauthenticated) {
      setRefused((previous) => refusalMessage(state.error, previous, isOpen.current));
      setOpen(true);
    }
    return () => {
      offUnauthenticated();
      offRequested();
    };
  }, []);
  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  const submit = (event: Event) => {
    event.preventDefault();
    const given = value.trim();
    if (given === "") return;
    if (!isSendableToken(given)) {
      setInvalid(true);
      return;
    }
    dismissed.current = false;
    token.set(given);
    setValue("");
    setRefused("");
    setOpen(false);
    onSignedIn();
  };
  return (
    <dialog
      ref={dialog}
      aria-labelledby="sign-in-title"
      class="token-dialog"
      onCancel={() => {
        dismissed.current = true;
      }}
      // A close event is queued by close(): when a 401 has reopened the dialog (showModal) before it is
      // delivered, it is stale and must not close it again.
      onClose={() => {
        if (!dialog.current?.open) setOpen(false);
      }}
    >
      <form method="dialog" onSubmit={submit}>
        <h2 id="sign-in-title">Sign in</h2>
        <p>The registry needs a token. It is kept for this browser tab only.</p>
        {refused !== "" && (
          <p role="alert" class="error-message">
            {refused}
          </p>
        )}
        <label for="token-input">Token</label>
        <input
          id="token-input"
          type="password"
          autoComplete="current-password"
          required
          value={value}
          aria-invalid={invalid ? "true" : undefined}
          aria-describedby={invalid ? "token-error" : undefined}
          onInput={(e) => {
            setValue(e.currentTarget.value);
            setInvalid(false);
          }}
        />
        {invalid && (
          <p id="token-error" role="alert" class="error-message">
            {invalidMessage}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </dialog>
  );
}
