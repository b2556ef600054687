/** The list's data: one keyset page, the token stack for Previous, and live marks from the watch. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { listModels } from "../api/registry";
import type { Model, ModelEvent } from "../api/types";
import { useWatch, type WatchStatus } from "../api/watch";
import { config } from "../config";
import { isDefaultOrder } from "./filter";

/** How a row changed since the page loaded. */
export type LiveMark = "new" | "changed" | "deleted";

/** One row of the table. */
export interface Row {
  readonly model: Model;
  readonly live?: LiveMark;
}

/** The query of the rows shown. */
export interface ListQueryState {
  readonly filter: string;
  readonly orderBy: string;
}

/** What {@link useListing} gives the page. */
export interface Listing {
  readonly rows: readonly Row[];
  /** null until the first page arrived. */
  readonly shown: ListQueryState | null;
  /** 1-based. */
  readonly page: number;
  readonly hasNext: boolean;
  readonly loading: boolean;
  readonly error: unknown;
  /** Models created (matching the filter) that are not shown: the "N new models — show" button. */
  readonly pendingNew: number;
  readonly status: WatchStatus;
  next(): void;
  previous(): void;
  /** Back to the first page of the shown query (shows the pending new models). */
  reload(): void;
}

/** The model a row shows after `event`, and its mark. */
function applyEvent(row: Row, event: ModelEvent, own: boolean): Row {
  if (event.type === "MODEL_EVENT_TYPE_DELETED") return { model: event.model ?? row.model, live: "deleted" };
  const model = event.model?.id === row.model.id ? event.model : row.model;
  if (own) return { model, ...(row.live ? { live: row.live } : {}) };
  return { model, live: row.live === "new" ? "new" : "changed" };
}

/** Loads `filter`/`orderBy` page by page (keyset tokens), keeping the old rows while loading or on error. */
export function useListing(filter: string, orderBy: string): Listing {
  const [rows, setRows] = useState<readonly Row[]>([]);
  const [shown, setShown] = useState<ListQueryState | null>(null);
  const [tokens, setTokens] = useState<readonly string[]>([""]);
  const [nextToken, setNextToken] = useState("");
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [pendingNew, setPendingNew] = useState(0);
  const inflight = useRef<AbortController | null>(null);

  const load = useCallback((query: ListQueryState, stack: readonly string[]) => {
    inflight.current?.abort();
    const controller = new AbortController();
    inflight.current = controller;
    setLoading(true);
    const pageToken = stack[stack.length - 1] ?? "";
    listModels({ ...query, pageSize: config.pageSize, pageToken }, controller.signal).then(
      (page) => {
        if (controller.signal.aborted) return;
        setRows(page.items.map((model) => ({ model })));
        setNextToken(page.nextPageToken);
        setTokens(stack);
        setShown(query);
        setError(null);
        setPendingNew(0);
        setLoading(false);
      },
      (failure: unknown) => {
        if (controller.signal.aborted) return;
        setError(failure);
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    load({ filter, orderBy }, [""]);
    return () => inflight.current?.abort();
  }, [filter, orderBy, load]);

  const onEvent = (event: ModelEvent, own: boolean) => {
    const id = event.model?.id ?? event.modelId;
    if (event.type === "MODEL_EVENT_TYPE_CREATED") {
      const model = event.model;
      if (model === undefined || shown === null) return;
      if (tokens.length === 1 && isDefaultOrder(shown.orderBy)) {
        setRows((old) => (old.some((r) => r.model.id === id) ? old : [{ model, live: "new" }, ...old]));
      } else {
        setPendingNew((n) => n + 1);
      }
      return;
    }
    setRows((old) =>
      old.some((r) => r.model.id === id)
        ? old.map((r) => (r.model.id === id ? applyEvent(r, event, own) : r))
        : old,
    );
  };
  // Watches the filter of the rows shown; before any (a first search that failed) the whole registry,
  // for the indicator only (events need rows).
  const status = useWatch(shown?.filter ?? "", onEvent, { enabled: shown !== null || error !== null });

  return {
    rows,
    shown,
    page: tokens.length,
    hasNext: nextToken !== "",
    loading,
    error,
    pendingNew,
    status,
    // While a page loads, another click waits for it (the buttons stay enabled, so focus stays on them).
    next: () => !loading && shown && nextToken !== "" && load(shown, [...tokens, nextToken]),
    previous: () => !loading && shown && tokens.length > 1 && load(shown, tokens.slice(0, -1)),
    reload: () => shown && load(shown, [""]),
  };
}
