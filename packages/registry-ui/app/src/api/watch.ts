/**
 * The live feed: `GET /api/v1/models:watch` as server-sent events, read with
 * `fetch` (so the token goes in the Authorization header, which an
 * EventSource cannot send), resumed after the last revision seen when the
 * connection drops.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError,
  apiUrl,
  authHeaders,
  errorOf,
  isOwnRevision,
  notifyAuthenticated,
  notifyUnauthenticated,
  refuseUnsendableToken,
  violationsOf,
} from "./http";
import type { ModelEvent, WatchMessage } from "./types";

/** The feed's state, for the page's "Live" indicator. */
export type WatchStatus = "connecting" | "live" | "reconnecting" | "failed";

/** What a watch tells its owner. */
export interface WatchHandlers {
  /** One committed change; `own` is true when this page's own write made it. */
  onEvent(event: ModelEvent, own: boolean): void;
  /** The feed's state changed; `error` says why it is reconnecting or failed. */
  onStatus?(status: WatchStatus, error?: ApiError): void;
}

/** What to watch. */
export interface WatchOptions {
  /** The ListModels filter syntax; events of models matching it only. */
  readonly filter?: string;
  /** Resume after this revision (a decimal string); default: from now. */
  readonly afterRevision?: string;
}

/** Shortest and longest wait before reconnecting (exponential, with jitter). */
const minDelayMs = 500;
const maxDelayMs = 15_000;

/** The wait before reconnect attempt `attempt` (0-based): doubling from 0.5 s up to 15 s, 50–100 % of it. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/** The ApiError of an SSE `event: error` frame (its data is the AIP-193 error body). */
function streamError(data: string): ApiError {
  try {
    const error = (JSON.parse(data) as { error?: Record<string, unknown> }).error ?? {};
    const { fieldViolations, preconditionViolations, reason } = violationsOf(error.details);
    return new ApiError(
      Number(error.code ?? 0),
      String(error.status ?? "UNKNOWN"),
      String(error.message ?? "The live feed failed."),
      fieldViolations,
      preconditionViolations,
      reason,
    );
  } catch {
    return new ApiError(0, "UNKNOWN", "The live feed sent an error that could not be read.");
  }
}

/** Thrown inside a connection to end the watch for good (a bad filter, no credentials). */
class Fatal extends Error {
  constructor(readonly apiError: ApiError) {
    super(apiError.message);
  }
}

/** One connection: resolves when the stream ends, throws ApiError (retry) or Fatal (stop). */
async function connectOnce(
  options: WatchOptions,
  position: { revision: string | undefined },
  signal: AbortSignal,
  onOpen: () => void,
  onEvent: (event: ModelEvent) => void,
): Promise<void> {
  const refused = refuseUnsendableToken();
  if (refused !== undefined) throw new Fatal(refused);
  const headers: Record<string, string> = { Accept: "text/event-stream", ...authHeaders() };
  if (position.revision !== undefined) headers["Last-Event-ID"] = position.revision;
  let response: Response;
  try {
    response = await fetch(
      apiUrl("/api/v1/models:watch", { filter: options.filter, afterRevision: position.revision }),
      { headers, signal, cache: "no-store" },
    );
  } catch {
    throw new ApiError(0, "UNAVAILABLE", "The gateway cannot be reached.");
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) notifyUnauthenticated(error);
    if (
      response.status >= 400 &&
      response.status < 500 &&
      response.status !== 408 &&
      response.status !== 429
    ) {
      throw new Fatal(error);
    }
    throw error;
  }
  if (response.body === null) throw new ApiError(0, "UNAVAILABLE", "The live feed sent no body.");
  notifyAuthenticated();
  onOpen();
  let failure: ApiError | undefined;
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      if (message.event === "error") {
        failure = streamError(message.data);
        return;
      }
      let parsed: WatchMessage;
      try {
        parsed = JSON.parse(message.data) as WatchMessage;
      } catch {
        return;
      }
      if (parsed.revision) position.revision = parsed.revision;
      else if (message.id) position.revision = message.id;
      if (parsed.event !== undefined) onEvent(parsed.event);
    },
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
      if (failure !== undefined) break;
    }
  } catch (error) {
    if (signal.aborted) return;
    throw new ApiError(0, "UNAVAILABLE", `The live feed was interrupted (${String(error)}).`);
  } finally {
    reader.cancel().catch(() => undefined);
  }
  if (failure !== undefined) {
    if (failure.status === 401) notifyUnauthenticated(failure);
    if (failure.status === 400 || failure.status === 401 || failure.status === 403) throw new Fatal(failure);
    throw failure;
  }
}

/** Starts watching; returns the function that stops it. */
export function watchModels(options: WatchOptions, handlers: WatchHandlers): () => void {
  const controller = new AbortController();
  const position = { revision: options.afterRevision };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  const status = (value: WatchStatus, error?: ApiError) => {
    if (!controller.signal.aborted) handlers.onStatus?.(value, error);
  };
  const run = async (): Promise<void> => {
    status(attempt === 0 ? "connecting" : "reconnecting");
    let error: ApiError | undefined;
    try {
      await connectOnce(
        options,
        position,
        controller.signal,
        () => status("live"),
        (event) => {
          attempt = 0;
          handlers.onEvent(event, isOwnRevision(event.revision));
        },
      );
    } catch (thrown) {
      if (controller.signal.aborted) return;
      if (thrown instanceof Fatal) {
        status("failed", thrown.apiError);
        return;
      }
      error = thrown instanceof ApiError ? thrown : new ApiError(0, "UNKNOWN", String(thrown));
    }
    if (controller.signal.aborted) return;
    const delay = backoffDelay(attempt);
    attempt++;
    status("reconnecting", error);
    timer = setTimeout(() => void run(), delay);
  };
  void run();
  return () => {
    controller.abort();
    if (timer !== undefined) clearTimeout(timer);
  };
}

/* The status of the page's current watch, for the shell's indicator (the latest watch started wins). */
let currentStatus: WatchStatus = "connecting";
const statusListeners = new Set<(status: WatchStatus) => void>();

/** Publishes the page's live-feed status to the indicator. */
export function publishLiveStatus(status: WatchStatus): void {
  currentStatus = status;
  for (const listener of statusListeners) listener(status);
}

/** The page's live-feed status, updated as it changes (the shell's "Live" indicator). */
export function useLiveStatus(): WatchStatus {
  const [status, setStatus] = useState(currentStatus);
  useEffect(() => {
    setStatus(currentStatus);
    statusListeners.add(setStatus);
    return () => {
      statusListeners.delete(setStatus);
    };
  }, []);
  return status;
}

/** What {@link useWatch} varies. */
export interface UseWatchOptions {
  /** false: no watch (e.g. while the page has nothing to show). Default true. */
  readonly enabled?: boolean;
  /** Whether this watch drives the shell's indicator. Default true. */
  readonly publish?: boolean;
  /**
   * Called once per watch (with its filter) when its first connection
   * attempt ends: opened, or failed. Opened means the registry has
   * registered it (the gateway answers after the stream's first message):
   * a read made after this, plus the watch's events, miss no change. After
   * a failed attempt the watch starts from "now" when it reconnects, so
   * there is no such promise; callers read anyway rather than wait.
   */
  readonly onSettled?: (filter: string) => void;
}

/**
 * Watches `filter` while the component is mounted (restarted when the filter
 * changes); calls the latest `onEvent` for every change. Returns the feed's
 * status. Pages use this (the list and the model page alike).
 */
export function useWatch(
  filter: string,
  onEvent: (event: ModelEvent, own: boolean) => void,
  options: UseWatchOptions = {},
): WatchStatus {
  const { enabled = true, publish = true } = options;
  const [status, setStatus] = useState<WatchStatus>("connecting");
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const settledHandler = useRef(options.onSettled);
  settledHandler.current = options.onSettled;
  useEffect(() => {
    if (!enabled) return;
    let settled = false;
    return watchModels(filter === "" ? {} : { filter }, {
      onEvent: (event, own) => handler.current(event, own),
      onStatus: (value) => {
        setStatus(value);
        if (publish) publishLiveStatus(value);
        if (!settled && value !== "connecting") {
          settled = true;
          settledHandler.current?.(filter);
        }
      },
    });
  }, [filter, enabled, publish]);
  return status;
}
