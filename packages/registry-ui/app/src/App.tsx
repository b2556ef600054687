/** The page's shell: header, token prompt, and the route's page. CONTRACT: helper A implements. */
import { ModelList } from "./pages/ModelList";
import { ModelPage } from "./pages/ModelPage";
import { useRoute } from "./router";

/** The whole page. */
export function App() {
  const route = useRoute();
  if (route.page === "model") return <ModelPage id={route.id} />;
  if (route.page === "list") return <ModelList filter={route.filter} orderBy={route.orderBy} />;
  return <p>Not found</p>;
}
