import type { StorageAdapter } from "./storage/adapter";

/**
 * Tells open watches that the change history has grown. The history in
 * storage is the truth; this only decides when watchers look at it again:
 * at once when this process wrote (`notify`), and every `pollIntervalMs`
 * otherwise, so writes made by other replicas on the same database are seen
 * too. One poll serves every waiting watcher, however many there are.
 */
export class ChangeFeed {
  readonly #storage: StorageAdapter;
  readonly #pollIntervalMs: number;
  readonly #waiters = new Set<{ readonly after: number; readonly wake: () => void }>();
  #known = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #pollAgain = false;

  constructor(storage: StorageAdapter, pollIntervalMs: number) {
    this.#storage = storage;
    this.#pollIntervalMs = pollIntervalMs;
  }

  /** This process committed a write: look now rather than at the next poll. */
  notify(): void {
    if (this.#waiters.size > 0) void this.#poll();
  }

  /**
   * Resolves once a revision after `after` is known to be committed, after
   * `timeoutMs`, or when `signal` aborts, whichever comes first. Never rejects.
   */
  waitForChange(after: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#known > after || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter = {
        after,
        wake: () => {
          clearTimeout(timeout);
          signal.removeEventListener("abort", waiter.wake);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      const timeout = setTimeout(waiter.wake, Math.max(0, timeoutMs));
      signal.addEventListener("abort", waiter.wake, { once: true });
      this.#waiters.add(waiter);
      this.#schedule();
    });
  }

  /** Stops polling and releases every waiter. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of [...this.#waiters]) waiter.wake();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#waiters.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, this.#pollIntervalMs);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = true;
    try {
      do {
        this.#pollAgain = false;
        try {
          const { latestRevision } = await this.#storage.readChanges(this.#known, 0);
          // Not the max: a database restored or failed over to one that lost
          // commits goes back, and watches must then see it (they end).
          this.#known = latestRevision;
        } catch {
          // The database is away: watchers find out when they read, at
          // their next progress notification at the latest.
        }
        for (const waiter of [...this.#waiters]) {
          if (this.#known > waiter.after) waiter.wake();
        }
      } while (this.#pollAgain);
    } finally {
      this.#polling = false;
      this.#schedule();
    }
  }
}
