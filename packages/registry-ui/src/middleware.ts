import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import serveStatic from "serve-static";

/** Options of {@link createRegistryUi}. */
export interface RegistryUiOptions {
  /**
   * Where the browser finds the gateway's `/api/v1/...` routes: "" (the
   * default) when the gateway is mounted at the same app's root, a path
   * prefix (`/registry`) when it is mounted under one, or an absolute URL of
   * a gateway on another origin (which must then allow this page's origin).
   */
  readonly apiBaseUrl?: string;
  /** The title in the header and the browser tab, up to 200 characters. Default `modelreg`. */
  readonly title?: string;
  /** Models per page of the list, 1-1000. Default 50. */
  readonly pageSize?: number;
}

/** A Connect/Express middleware: serves the page's files, passes everything else on. */
export type RegistryUiHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** The settings written into the page, every one checked and defaulted. */
interface Settings {
  readonly apiBaseUrl: string;
  readonly title: string;
  readonly pageSize: number;
}

const prefix = "@modelreg/registry-ui:";

/** The options checked: a TypeError names the option and says what to fix. */
function settingsOf(options: RegistryUiOptions): Settings & { readonly apiOrigin: string | undefined } {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `${prefix} the options must be an object (got ${options === null ? "null" : typeof options})`,
    );
  }
  const { apiBaseUrl = "", title = "modelreg", pageSize = 50 } = options;
  let apiOrigin: string | undefined;
  if (typeof apiBaseUrl !== "string") {
    throw new TypeError(`${prefix} apiBaseUrl must be a string (got ${typeof apiBaseUrl})`);
  }
  if (/^https?:\/\//i.test(apiBaseUrl)) {
    try {
      apiOrigin = new URL(apiBaseUrl).origin;
    } catch {
      throw new TypeError(`${prefix} apiBaseUrl is not a valid URL (got "${apiBaseUrl}")`);
    }
  } else if (apiBaseUrl !== "" && !(apiBaseUrl.startsWith("/") && !apiBaseUrl.startsWith("//"))) {
    throw new TypeError(
      `${prefix} apiBaseUrl must be "" (the same app), a path starting with "/" (such as "/registry") ` +
        `or an absolute http(s) URL (got "${apiBaseUrl}")`,
    );
  }
  if (/[\s"'<>\\]/.test(apiBaseUrl)) {
    throw new TypeError(`${prefix} apiBaseUrl must not contain spaces, quotes, "<", ">" or "\\"`);
  }
  if (typeof title !== "string" || title.length > 200) {
    throw new TypeError(
      `${prefix} title must be a string of up to 200 characters (got ${
        typeof title === "string" ? `${title.length} characters` : typeof title
      })`,
    );
  }
  if (typeof pageSize !== "number" || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new TypeError(`${prefix} pageSize must be an integer from 1 to 1000 (got ${String(pageSize)})`);
  }
  return { apiBaseUrl: apiBaseUrl.replace(/\/+$/, ""), title: title || "modelreg", pageSize, apiOrigin };
}

/** The folder of the prebuilt page: `dist/ui` beside the built module, or the package's when run from source. */
function uiFolder(): string {
  // import.meta.url in every build: tsup's CJS output derives it from the module's own __filename.
  // (Not a global __dirname check: `node -e` and the REPL define one, ".", that ESM code would see.)
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, "ui"), join(here, "..", "dist", "ui")]) {
    if (existsSync(join(candidate, "index.html"))) return candidate;
  }
  throw new Error(
    `${prefix} the prebuilt page is missing (no dist/ui/index.html near ${here}); ` +
      "build it with `npm run build -w @modelreg/registry-ui`",
  );
}

/** JSON that cannot end the script element it is written into, nor an HTML comment. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

const htmlEscapes: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text for HTML content or a quoted attribute. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => htmlEscapes[c] ?? c);
}

/** index.html with the settings in its config element and the title in `<title>`. */
function pageOf(template: string, settings: Settings): string {
  const configElement = /(<script type="application\/json" id="modelreg-ui-config">)[^<]*(<\/script>)/;
  if (!configElement.test(template)) {
    throw new Error(
      `${prefix} the prebuilt index.html has no modelreg-ui-config element; rebuild the package`,
    );
  }
  const json = scriptSafeJson({
    apiBaseUrl: settings.apiBaseUrl,
    title: settings.title,
    pageSize: settings.pageSize,
  });
  // Replacer functions: a `$` in the title is text, not a replacement pattern.
  return template
    .replace(configElement, (_m, open: string, close: string) => `${open}${json}${close}`)
    .replace(/<title>[^<]*<\/title>/, () => `<title>${escapeHtml(settings.title)}</title>`);
}

/** The page's security headers: nothing inline runs, nothing loads from elsewhere but the API. */
function securityHeaders(apiOrigin: string | undefined): Record<string, string> {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${apiOrigin ? ` ${apiOrigin}` : ""}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    "Content-Security-Policy": csp,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  };
}

/** Whether an If-None-Match header names `etag` (or is `*`). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === etag || tag === "*");
}

/**
 * The page's own URL. Mounted under a prefix, a request for the prefix
 * itself (`/ui`) is redirected to `/ui/`, so the page's relative asset URLs
 * resolve under it; and a path with `//` in it (Express 4 hands `/ui//` to
 * a page mounted at `/ui` as `/`) to the same path with single slashes, so
 * the page has one address. `root`: the request is for `/` (not
 * `/index.html`). Returns whether it redirected.
 */
function redirectToOwnUrl(
  req: IncomingMessage & { originalUrl?: string },
  res: ServerResponse,
  root: boolean,
): boolean {
  const original = req.originalUrl ?? req.url ?? "/";
  const query = original.indexOf("?");
  const path = query === -1 ? original : original.slice(0, query);
  // Single slashes: never a protocol-relative URL to another host either.
  const single = path.replace(/\/{2,}/g, "/");
  const own = root && !single.endsWith("/") ? `${single}/` : single;
  if (own === path) return false;
  const location = `${own}${query === -1 ? "" : original.slice(query)}`;
  res.writeHead(301, {
    Location: location,
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-cache",
  });
  res.end(req.method === "HEAD" ? undefined : `Moved to ${location}\n`);
  return true;
}

/**
 * The registry's web page, to mount on any Express (4 or 5) or Connect app,
 * at the root or under a prefix (`app.use("/ui", createRegistryUi())`), or
 * to call from a plain `node:http` server with a final handler as `next`:
 *
 * ```ts
 * app.use(createGatewayMiddleware({ client }));
 * app.use(createRegistryUi({ title: "ML models" }));
 * ```
 *
 * It answers GET and HEAD of `/` and `/index.html` (the page, settings
 * injected, `no-cache` with an ETag, a strict Content-Security-Policy) and
 * of `/assets/*` (content-hashed, cached for a year); everything else,
 * a missing asset too, goes to `next()`. Bad options throw a TypeError.
 */
export function createRegistryUi(options: RegistryUiOptions = {}): RegistryUiHandler {
  const { apiOrigin, ...settings } = settingsOf(options);
  const folder = uiFolder();
  const page = Buffer.from(pageOf(readFileSync(join(folder, "index.html"), "utf8"), settings));
  const etag = `"${createHash("sha256").update(page).digest("base64url").slice(0, 27)}"`;
  const pageHeaders = {
    ...securityHeaders(apiOrigin),
    "Cache-Control": "no-cache",
    ETag: etag,
  };
  const assets = serveStatic(join(folder, "assets"), {
    index: false,
    immutable: true,
    maxAge: "1y",
    fallthrough: true,
    dotfiles: "ignore",
    redirect: false,
    setHeaders: (res) => res.setHeader("X-Content-Type-Options", "nosniff"),
  });
  return (req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    if (path === "/" || path === "/index.html") {
      if (redirectToOwnUrl(req, res, path === "/")) return;
      if (matches(req.headers["if-none-match"], etag)) {
        res.writeHead(304, pageHeaders);
        res.end();
        return;
      }
      res.writeHead(200, {
        ...pageHeaders,
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": String(page.length),
      });
      res.end(req.method === "HEAD" ? undefined : page);
      return;
    }
    if (path.startsWith("/assets/")) {
      // serve-static resolves req.url (read at once) under the assets folder: "/assets" stripped for
      // it, so no path leads outside the folder (to the unfilled index.html); restored right after.
      req.url = url.slice("/assets".length);
      try {
        assets(req, res, () => next());
      } finally {
        req.url = url;
      }
      return;
    }
    next();
  };
}
