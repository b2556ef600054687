/**
 * The page's settings, written into index.html by `createRegistryUi` (a JSON
 * script element, so no inline script runs and the CSP stays strict).
 */
export interface UiConfig {
  /** Prefix of the gateway's `/api/v1/...` routes: "" (same origin, root) or a path or absolute URL. */
  readonly apiBaseUrl: string;
  /** The title shown in the header and the tab. */
  readonly title: string;
  /** Models per page in the list. */
  readonly pageSize: number;
}

const defaults: UiConfig = { apiBaseUrl: "", title: "modelreg", pageSize: 50 };

/** Reads the settings once; anything missing or malformed falls back to the defaults. */
export function readConfig(doc: Document = document): UiConfig {
  const text = doc.getElementById("modelreg-ui-config")?.textContent ?? "";
  let raw: Partial<Record<keyof UiConfig, unknown>> = {};
  try {
    const parsed: unknown = JSON.parse(text || "{}");
    if (parsed !== null && typeof parsed === "object") raw = parsed as typeof raw;
  } catch {
    // A page served without the middleware (vite preview): the defaults.
  }
  return {
    apiBaseUrl: typeof raw.apiBaseUrl === "string" ? raw.apiBaseUrl.replace(/\/+$/, "") : defaults.apiBaseUrl,
    title: typeof raw.title === "string" && raw.title !== "" ? raw.title : defaults.title,
    pageSize:
      typeof raw.pageSize === "number" && Number.isInteger(raw.pageSize) && raw.pageSize > 0
        ? raw.pageSize
        : defaults.pageSize,
  };
}

/** The settings of this page. */
export const config: UiConfig = readConfig();
