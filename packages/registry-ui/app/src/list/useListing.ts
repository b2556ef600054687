/** The list's data: one keyset page, the token stack for Previous, and live marks from the watch. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { useFeedGate } from "../api/feed-gate";
import { listModels } from "../api/registry";
import type { Model, ModelEvent } from "../api/types";
import { useWatch, type WatchStatus } from "../api/watch";
import { config } from "../config";
import { isDefaultOrder } from "./filter";

/** How a row changed since the page loaded ("left": it no longer matches the filter). */
export type LiveMark = "new" | "changed" | "deleted" | "left";

/** One row of the table. */
export interface Row {
  readonly model: Model;
  readonly live?: LiveMark;
  /** Added by the live feed (not by the page's request): these count towards the cap. */
  readonly added?: boolean;
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
  /** The first page of the address's query again (Search pressed on an unchanged, perhaps failed, search). */
  retry(): void;
}

/** The rows and the count of new models not shown, which the live feed changes. */
interface LiveState {
  readonly rows: readonly Row[];
  readonly pendingNew: number;
}

/** Where the rows are: new models go on top only on the first page in the default order. */
interface LiveContext {
  readonly firstPageNewestFirst: boolean;
  /** How many rows the feed may add to the page (its size); past it they are counted in pendingNew. */
  readonly cap: number;
}

/** The model a row shows after `event`, and its mark. */
function applyEvent(row: Row, event: ModelEvent, own: boolean): Row {
  const added = row.added ? { added: true } : {};
  if (event.type === "MODEL_EVENT_TYPE_DELETED") {
    return { model: event.model ?? row.model, live: "deleted", ...added };
  }
  const model = event.model?.id === row.model.id ? event.model : row.model;
  if (event.type === "MODEL_EVENT_TYPE_LEFT_FILTER") return { model, live: "left", ...added };
  if (own) return { model, ...(row.live ? { live: row.live } : {}), ...added };
  return { model, live: row.live === "new" ? "new" : "changed", ...added };
}

/** `state` after one event of the feed (a pure step, so held events replay the same way). */
export function reduceLive(
  state: LiveState,
  event: ModelEvent,
  own: boolean,
  context: LiveContext,
): LiveState {
  const id = event.model?.id ?? event.modelId;
  const { rows } = state;
  if (event.type === "MODEL_EVENT_TYPE_CREATED") {
    const model = event.model;
    if (model === undefined || rows.some((r) => r.model.id === id)) return state;
    const addedCount = rows.filter((r) => r.added).length;
    if (context.firstPageNewestFirst && addedCount < context.cap) {
      return { ...state, rows: [{ model, live: "new", added: true }, ...rows] };
    }
    return { ...state, pendingNew: state.pendingNew + 1 };
  }
  const row = rows.find((r) => r.model.id === id);
  // Not shown, or an update the page already has (a held event replayed onto a page read after it).
  if (row === undefined) return state;
  if (event.type === "MODEL_EVENT_TYPE_UPDATED" && event.model?.etag === row.model.etag) return state;
  return { ...state, rows: rows.map((r) => (r.model.id === id ? applyEvent(r, event, own) : r)) };
}

/** One event held while the page for a new query loads. */
interface HeldEvent {
  readonly event: ModelEvent;
  readonly own: boolean;
}

/** Where new models go on the page of `query` at `stack` (its keyset tokens). */
function contextOf(query: ListQueryState, stack: readonly string[]): LiveContext {
  return { firstPageNewestFirst: stack.length === 1 && isDefaultOrder(query.orderBy), cap: config.pageSize };
}

/**
 * Loads `filter`/`orderBy` page by page (keyset tokens), keeping the old rows while loading or on error.
 * A page of a new filter is read once the filter's watch is open (registered at the registry), and the
 * watch's events wait until the page is there, then apply to it: a model created before the watch
 * started is in the page, one created after it comes from the feed, and none is missed or added twice.
 * That holds when the watch opens within `feedWaitMs`; a watch whose first attempt failed, or
 * that opens later, resumes from "now", and a change made before it does is shown after a reload.
 */
export function useListing(filter: string, orderBy: string): Listing {
  const [live, setLive] = useState<LiveState>({ rows: [], pendingNew: 0 });
  const [shown, setShown] = useState<ListQueryState | null>(null);
  const [tokens, setTokens] = useState<readonly string[]>([""]);
  const [nextToken, setNextToken] = useState("");
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const inflight = useRef<AbortController | null>(null);
  /** The feed's events while a page loads; null: none loading, apply them at once. */
  const held = useRef<HeldEvent[] | null>(null);
  /** The filter of the latest page asked for. */
  const [target, setTarget] = useState(filter);
  // Watches the filter being loaded (from the first request on); after a failed search, the filter of the
  // rows shown, or before any (a first search that failed) the whole registry, for the indicator only.
  const watched = error !== null && !loading ? (shown?.filter ?? "") : target;
  // Before the load effect, which may start a read at once: a new watch's pages wait for it.
  const gate = useFeedGate(watched);

  const load = useCallback(
    (query: ListQueryState, stack: readonly string[]) => {
      inflight.current?.abort();
      const controller = new AbortController();
      inflight.current = controller;
      held.current = [];
      setLoading(true);
      setTarget(query.filter);
      // Reads the page and shows it with the events held meanwhile applied.
      const read = () => {
        const pageToken = stack[stack.length - 1] ?? "";
        listModels({ ...query, pageSize: config.pageSize, pageToken }, controller.signal).then(
          (page) => {
            if (controller.signal.aborted) return;
            const context = contextOf(query, stack);
            const loaded: LiveState = { rows: page.items.map((model) => ({ model })), pendingNew: 0 };
            const events = held.current ?? [];
            held.current = null;
            setLive(events.reduce((state, h) => reduceLive(state, h.event, h.own, context), loaded));
            setNextToken(page.nextPageToken);
            setTokens(stack);
            setShown(query);
            setError(null);
            setLoading(false);
          },
          (failure: unknown) => {
            if (controller.signal.aborted) return;
            held.current = null;
            setError(failure);
            setLoading(false);
          },
        );
      };
      gate.whenOpen(query.filter, controller.signal, read);
    },
    [gate],
  );

  useEffect(() => {
    load({ filter, orderBy }, [""]);
    return () => inflight.current?.abort();
  }, [filter, orderBy, load]);

  const onEvent = (event: ModelEvent, own: boolean) => {
    if (held.current !== null) {
      held.current.push({ event, own });
      return;
    }
    if (shown === null) return;
    const context = contextOf(shown, tokens);
    setLive((state) => reduceLive(state, event, own, context));
  };
  const status = useWatch(watched, onEvent, { onSettled: gate.onSettled });

  const { rows, pendingNew } = live;
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
    retry: () => load({ filter, orderBy }, [""]),
  };
}
