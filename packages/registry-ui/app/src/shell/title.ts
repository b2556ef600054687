/** The tab's title follows the page: "<page> · <registry title>". */
import { useEffect } from "preact/hooks";
import { config } from "../config";

/** Sets `document.title` to `part · title` (just the title when `part` is empty) while mounted. */
export function useDocumentTitle(part: string): void {
  useEffect(() => {
    document.title = part === "" ? config.title : `${part} · ${config.title}`;
  }, [part]);
}
