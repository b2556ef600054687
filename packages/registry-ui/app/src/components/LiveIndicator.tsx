/** The shell's live-feed indicator: the status of the page's current watch. */
import { useLiveStatus, type WatchStatus } from "../api/watch";

const labels: Record<WatchStatus, string> = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  failed: "Offline",
};

/** `role="status"` named "Live updates"; text Live / Connecting… / Reconnecting… / Offline. */
export function LiveIndicator() {
  const status = useLiveStatus();
  return (
    <p class="live-indicator" role="status" aria-label="Live updates" data-state={status}>
      <span class="live-dot" aria-hidden="true" />
      {labels[status]}
    </p>
  );
}
