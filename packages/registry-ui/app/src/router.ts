/**
 * Hash routes, so the page works under any mount path with no server-side
 * fallback: `#/` (the list; `?filter=&orderBy=` keep a search linkable) and
 * `#/models/<id>` (one model).
 */
import { useEffect, useState } from "preact/hooks";

/** Where the page is. */
export type Route =
  | { readonly page: "list"; readonly filter: string; readonly orderBy: string }
  | { readonly page: "model"; readonly id: string }
  | { readonly page: "notFound"; readonly path: string };

/** Reads a location hash (`#/models/abc`, `#/?filter=...`). */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  // Split at the first "?" only: a raw "?" in the search belongs to a value.
  const mark = raw.indexOf("?");
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const search = mark < 0 ? "" : raw.slice(mark + 1);
  const params = new URLSearchParams(search);
  if (path === "/" || path === "") {
    return { page: "list", filter: params.get("filter") ?? "", orderBy: params.get("orderBy") ?? "" };
  }
  const model = /^\/models\/([^/]+)$/.exec(path);
  if (model?.[1]) {
    try {
      return { page: "model", id: decodeURIComponent(model[1]) };
    } catch {
      // A malformed escape (`%E0%A4%A`): no such page, rather than a blank one.
      return { page: "notFound", path };
    }
  }
  return { page: "notFound", path };
}

/** The hash of a route, for links. */
export function hrefOf(route: Route): string {
  if (route.page === "model") return `#/models/${encodeURIComponent(route.id)}`;
  if (route.page === "list") {
    const params = new URLSearchParams();
    if (route.filter !== "") params.set("filter", route.filter);
    if (route.orderBy !== "") params.set("orderBy", route.orderBy);
    const search = params.toString();
    return search === "" ? "#/" : `#/?${search}`;
  }
  return `#${route.path}`;
}

/** Goes to `route`; `replace` keeps the browser history from growing (a search typed in place). */
export function navigate(route: Route, replace = false): void {
  const href = hrefOf(route);
  if (replace) history.replaceState(null, "", href);
  else location.hash = href.slice(1);
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** The current route, updated on every hash change. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
