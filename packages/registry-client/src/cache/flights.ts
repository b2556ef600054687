/**
 * Protection of the registry from the cache's misses: one registry read per
 * key at a time (single flight), and at most `limit` reads at once (a
 * queue), so a cold start or a flushed shared level does not stampede.
 *
 * @internal
 */

/** A read in flight. */
interface Flight {
  readonly promise: Promise<unknown>;
  /** The revision the cache had applied when it was asked for. */
  readonly revision: bigint;
  /** The cache keys it reads. */
  readonly members: readonly string[];
}

/** Concurrent reads of one key share one promise; at most `limit` run at once. */
export class Flights {
  /** Each read in flight, with the revision the cache had applied when it was asked for. */
  readonly #inFlight = new Map<string, Flight>();
  /** The flights reading each cache key (a batch reads several). */
  readonly #byMember = new Map<string, Set<string>>();
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
  run<T>(
    key: string,
    revision: bigint,
    minRevision: bigint | undefined,
    read: () => Promise<T>,
    members: readonly string[] = [key],
  ): Promise<T> {
    if (this.joinable(key, minRevision)) return this.#inFlight.get(key)?.promise as Promise<T>;
    const promise = this.limited(read);
    const flight: Flight = { promise, revision, members };
    this.#inFlight.set(key, flight);
    for (const member of members) {
      const flights = this.#byMember.get(member) ?? new Set<string>();
      flights.add(key);
      this.#byMember.set(member, flights);
    }
    const done = () => this.#remove(key, flight);
    promise.then(done, done);
    return promise;
  }

  /**
   * The cache applied a change to `member` (an event or a write): the reads
   * of it in flight may have been sent before it, so later callers do not
   * join them (those already waiting keep theirs).
   */
  forget(member: string): void {
    const flights = this.#byMember.get(member);
    if (!flights) return;
    for (const key of [...flights]) {
      const flight = this.#inFlight.get(key);
      if (flight) this.#remove(key, flight);
    }
  }

  /** The cache was emptied: no read in flight may be joined. */
  forgetAll(): void {
    this.#inFlight.clear();
    this.#byMember.clear();
  }

  #remove(key: string, flight: Flight): void {
    if (this.#inFlight.get(key) !== flight) return;
    this.#inFlight.delete(key);
    for (const member of flight.members) {
      const flights = this.#byMember.get(member);
      flights?.delete(key);
      if (flights?.size === 0) this.#byMember.delete(member);
    }
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
