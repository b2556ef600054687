/**
 * Reads that wait for their live feed: a page read before its watch is registered at the registry, with
 * a change committed in between, would have that change in neither. So a read of a filter's data waits
 * until the filter's watch has settled (see `UseWatchOptions.onSettled`), at most {@link feedWaitMs}.
 */
import { useEffect, useMemo, useRef } from "preact/hooks";

/**
 * How long a read waits for its filter's watch to open before it is made anyway (a proxy that holds
 * streamed responses back, a slow registry). Past it, a change committed between the read and the
 * watch's start is shown only after a reload.
 */
export const feedWaitMs = 2000;

/** What {@link useFeedGate} gives. */
export interface FeedGate {
  /**
   * Runs `read` once the watch of `filter` has settled: at once if it has, else when it does, or after
   * {@link feedWaitMs} (then that watch counts as settled: later reads do not wait again). Not after
   * `signal` aborts. A later call replaces a read still waiting.
   */
  whenOpen(filter: string, signal: AbortSignal, read: () => void): void;
  /** Give it to `useWatch` as `onSettled`. */
  onSettled(filter: string): void;
}

/** A read waiting for its filter's watch. */
interface WaitingRead {
  readonly filter: string;
  readonly start: () => void;
}

/**
 * The gate of the watch of `watched` (the filter given to `useWatch`). Call it before the effects that
 * read: when `watched` changes, its reset must run first, so that they wait for the new watch.
 */
export function useFeedGate(watched: string): FeedGate {
  /** The filter whose watch has settled (or not opened in time): its reads run at once. */
  const ready = useRef<string | null>(null);
  const waiting = useRef<WaitingRead | null>(null);
  useEffect(() => {
    ready.current = null;
  }, [watched]);
  return useMemo(
    () => ({
      whenOpen(filter, signal, read) {
        if (ready.current === filter) {
          read();
          return;
        }
        const entry: WaitingRead = {
          filter,
          start: () => {
            clearTimeout(timer);
            if (waiting.current === entry) waiting.current = null;
            if (!signal.aborted) read();
          },
        };
        const timer = setTimeout(() => {
          if (waiting.current === entry) ready.current = filter;
          entry.start();
        }, feedWaitMs);
        signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
        waiting.current = entry;
      },
      onSettled(filter) {
        ready.current = filter;
        if (waiting.current?.filter === filter) waiting.current.start();
      },
    }),
    [],
  );
}
