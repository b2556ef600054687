/**
 * Protection of the registry from the cache's misses: one registry read per
 * key at a time (single flight), and at most `limit` reads at once (a
 * queue), so a cold start or a flushed shared level does not stampede.
 *
 * @internal
 */

/** Concurrent reads of one key share one promise; at most `limit` run at once. */
export class Flights {
  readonly #inFlight = new Map<string, Promise<unknown>>();
  readonly #waiting: (() => void)[] = [];
  readonly #limit: number;
  #running = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The read in flight for `key`, if any. */
  joinable(key: string): boolean {
    return this.#inFlight.has(key);
  }

  /** Runs `read` for `key`, unless one is in flight (then its promise), once a slot is free. */
  run<T>(key: string, read: () => Promise<T>): Promise<T> {
    const existing = this.#inFlight.get(key);
    if (existing) return existing as Promise<T>;
    const promise = this.limited(read).finally(() => {
      this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, promise);
    return promise;
  }

  /** Runs `read` once fewer than `limit` reads run. */
  async limited<R>(read: () => Promise<R>): Promise<R> {
    if (this.#running >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await read();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes to the next waiter as it is; else it is freed.
      if (next) next();
      else this.#running--;
    }
  }
}
