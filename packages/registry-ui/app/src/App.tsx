/** The page's shell: header (title, live indicator, sign in/out), the token prompt, and the route's page. */
import { useState } from "preact/hooks";
import { LiveIndicator } from "./components/LiveIndicator";
import { TokenDialog } from "./components/TokenDialog";
import { config } from "./config";
import { ModelList } from "./pages/ModelList";
import { ModelPage } from "./pages/ModelPage";
import { type Route, useRoute } from "./router";
import { AuthButtons } from "./shell/AuthButtons";
import { useDocumentTitle } from "./shell/title";

function NotFound({ path }: { readonly path: string }) {
  useDocumentTitle("Not found");
  return (
    <div role="alert" class="error-notice">
      <p class="error-message">There is no page at {path}.</p>
      <p>
        <a href="#/">Back to the models</a>
      </p>
    </div>
  );
}

function RoutePage({ route }: { readonly route: Route }) {
  // One page per model: nothing of the previous model's load (its feed, reads, held events) reaches it.
  if (route.page === "model") return <ModelPage key={route.id} id={route.id} />;
  if (route.page === "list") return <ModelList filter={route.filter} orderBy={route.orderBy} />;
  return <NotFound path={route.path} />;
}

/** The whole page. */
export function App() {
  const route = useRoute();
  // Bumped after sign-in and sign-out: the route's page mounts again and reloads with (or without) the token.
  const [generation, setGeneration] = useState(0);
  const reload = () => setGeneration((g) => g + 1);
  return (
    <>
      <button
        type="button"
        class="skip-link"
        onClick={() => {
          // The hash is the router's: move focus without navigating.
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </button>
      <header class="site-header">
        <a class="brand" href="#/">
          {config.title}
        </a>
        <div class="header-end">
          <LiveIndicator />
          <AuthButtons onSignedOut={reload} />
        </div>
      </header>
      <main id="main" tabIndex={-1} key={generation}>
        <RoutePage route={route} />
      </main>
      <TokenDialog onSignedIn={reload} />
    </>
  );
}
