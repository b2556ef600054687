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
  /** The title in the header and the browser tab. Default `modelreg`. */
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

/** The folder of the prebuilt page: `dist/ui` beside the built module, or the package's when run from source. */
function uiFolder(): string {
  const here = typeof __dirname === "string" ? __dirname : dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, "ui"), join(here, "..", "dist", "ui")]) {
    if (existsSync(join(candidate, "index.html"))) return candidate;
  }
  throw new Error("@modelreg/registry-ui: the prebuilt page is missing (dist/ui); run `npm run build`");
}

/**
 * The registry's web page, to mount on any Express (4 or 5) or Connect app:
 *
 * ```ts
 * app.use(createGatewayMiddleware({ client }));
 * app.use(createRegistryUi());
 * ```
 */
export function createRegistryUi(options: RegistryUiOptions = {}): RegistryUiHandler {
  const folder = uiFolder();
  const settings = JSON.stringify({
    apiBaseUrl: options.apiBaseUrl ?? "",
    title: options.title ?? "modelreg",
    pageSize: options.pageSize ?? 50,
  }).replace(/</g, "\\u003c");
  const index = readFileSync(join(folder, "index.html"), "utf8").replace(
    /(<script type="application\/json" id="modelreg-ui-config">)[^<]*(<\/script>)/,
    `$1${settings}$2`,
  );
  const assets = serveStatic(folder, { index: false, immutable: true, maxAge: "1y", fallthrough: true });
  return (req, res, next) => {
    const path = (req.url ?? "/").split("?")[0];
    if ((req.method === "GET" || req.method === "HEAD") && (path === "/" || path === "/index.html")) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" });
      res.end(req.method === "HEAD" ? undefined : index);
      return;
    }
    if (path?.startsWith("/assets/")) {
      assets(req, res, () => next());
      return;
    }
    next();
  };
}
