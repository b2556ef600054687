/**
 * Protection of the registry from the cache's misses: one registry read per
 * key at a time (single flight), and at most `limit` reads at once (a
 * queue), so a cold start or a flushed shared level does not stampede.
 *
 * @internal
 */

/** Concurrent reads of one key share one promise; at most `limit` run at once. */
export class Flights {
  /** Each read in flight, with the revision the cache had applied when it was asked for. */
  readonly #inFlight = new Map<string, { promise: Promise<unknown>; revision: bigint }>();
  readonly #waiting: (() => void)[] = [];
  readonly #limit: number;
  #running = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Whether a read of `key` is in flight that a caller needing `minRevision`
   * may share: one asked for once the cache had applied that revision (an
   * older one may have been sent before the caller's write committed).
   */
  joinable(key: string, minRevision: bigint | undefined): boolean {
    const flight = this.#inFlight.get(key);
    return flight !== undefined && (minRevision === undefined || flight.revision >= minRevision);
  }

  /**
   * Runs `read` for `key` once a slot is free, or shares the one in flight
   * if {@link joinable}; `revision` is what the cache has applied now.
   */
  run<T>(key: string, revision: bigint, minRevision: bigint | undefined, read: () => Promise<T>): Promise<T> {
    if (this.joinable(key, minRevision)) return this.#inFlight.get(key)?.promise as Promise<T>;
    const promise = this.limited(read);
    const flight = { promise, revision };
    this.#inFlight.set(key, flight);
    const done = () => {
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
    };
    promise.then(done, done);
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
