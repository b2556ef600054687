/**
 * The live feed: `GET /api/v1/models:watch` as server-sent events, read with
 * `fetch` (so the token goes in the Authorization header, which an
 * EventSource cannot send), resumed after the last revision seen when the
 * connection drops.
 *
 * CONTRACT (helper A implements; signatures fixed).
 */
import type { ApiError } from "./http";
import type { ModelEvent } from "./types";

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

/** Starts watching; returns the function that stops it. */
export function watchModels(_options: WatchOptions, _handlers: WatchHandlers): () => void {
  return () => {};
}
