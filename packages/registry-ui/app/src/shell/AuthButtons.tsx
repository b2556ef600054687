/** The header's sign-in controls: "Sign in" while the API refuses the page, "Sign out" while a token is set. */
import { token } from "../api/http";
import { requestSignIn, useAuthState } from "./auth";

/** What {@link AuthButtons} tells the shell. */
export interface AuthButtonsProps {
  /** The token was removed: the page reloads its data (the token prompt opens too). */
  readonly onSignedOut: () => void;
}

/** "Sign in" reopens the token prompt after a 401; "Sign out" forgets the tab's token. */
export function AuthButtons({ onSignedOut }: AuthButtonsProps) {
  const { hasToken, unauthenticated } = useAuthState();
  if (!hasToken && !unauthenticated) return null;
  return (
    <div class="auth-buttons">
      {unauthenticated && (
        <button type="button" class="primary" onClick={requestSignIn}>
          Sign in
        </button>
      )}
      {hasToken && (
        <button
          type="button"
          onClick={() => {
            token.set("");
            onSignedOut();
            requestSignIn();
          }}
        >
          Sign out
        </button>
      )}
    </div>
  );
}
