import type { StatsMessage } from "./serve";

/**
 * The child side of the benchmark's process protocol (see proc.ts): answers
 * `stats` with this process's CPU time and RSS, runs `cleanup` and exits
 * when the parent goes away (or closes the channel), and says `ready`.
 */
export function answerParent(cleanup: () => void): void {
  process.on("message", (message: { type?: string }) => {
    if (message.type !== "stats") return;
    const { user, system } = process.cpuUsage();
    const stats: StatsMessage = {
      type: "stats",
      cpuMicros: user + system,
      rssBytes: process.memoryUsage().rss,
    };
    process.send?.(stats);
  });
  process.on("disconnect", () => {
    cleanup();
    process.exit(0);
  });
  process.send?.({ type: "ready" });
}
