/** The token prompt: opens when the API answers 401; the token is kept for this tab's session. */
import { useEffect, useRef, useState } from "preact/hooks";
import { onUnauthenticated, token } from "../api/http";

/** What {@link TokenDialog} tells the shell. */
export interface TokenDialogProps {
  /** A token was given: the page reloads its data with it. */
  readonly onSignedIn: () => void;
}

/** A modal `<dialog>` named "Sign in" with a password input "Token" and a button "Sign in". */
export function TokenDialog({ onSignedIn }: TokenDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  // The API's message when a token was given and refused.
  const [refused, setRefused] = useState("");
  const [value, setValue] = useState("");
  useEffect(
    () =>
      onUnauthenticated((error) => {
        setRefused(
          token.get() === ""
            ? ""
            : (error?.message ?? "The registry refused the token. Check it and try again."),
        );
        setOpen(true);
      }),
    [],
  );
  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  const submit = (event: Event) => {
    event.preventDefault();
    if (value.trim() === "") return;
    token.set(value.trim());
    setValue("");
    setOpen(false);
    onSignedIn();
  };
  return (
    <dialog ref={dialog} aria-labelledby="sign-in-title" class="token-dialog" onClose={() => setOpen(false)}>
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
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <div class="actions">
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </dialog>
  );
}
