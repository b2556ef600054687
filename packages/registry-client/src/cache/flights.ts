/**
 * Protection of the registry from the cache's misses: one registry read per
 * key at a time (single flight), and at most `limit` reads at once (a
 * bounded queue), so a cold start or a flushed shared level does not
 * stampede. A queued read all of whose callers gave up is dropped; a full
 * queue sends reads straight on (the queue is not a second outage).
 *
 * @internal
 */
import { Code, RegistryError } from "@modelreg/proto";

/** A read in flight. */
interface Flight {
  readonly key: string;
  readonly promise: Promise<unknown>;
  /** The revision the cache had applied when it was asked for. */
  readonly revision: bigint;
  /** The cache keys it reads. */
  readonly members: readonly string[];
  /** Callers waiting for it. */
  waiters: number;
  /** Drops it while still queued (not sent); false once it runs. */
  readonly cancel: () => boolean;
}

/** A read waiting for a slot. */
interface Queued {
  readonly start: () => void;
}

/** Options of one {@link Flights.run}. */
export interface RunOptions {
  /** The cache keys the read reads (default: its key): a change to one makes it unjoinable. */
  readonly members?: readonly string[];
  /** Not counted against the limit (the cache is not serving: the read is the caller's own, as without it). */
  readonly unlimited?: boolean;
}

/** Concurrent reads of one key share one promise; at most `limit` run at once. */
export class Flights {
  /** Each read in flight, with the revision the cache had applied when it was asked for. */
  readonly #inFlight = new Map<string, Flight>();
  /** The flights reading each cache key (a batch reads several). */
  readonly #byMember = new Map<string, Set<string>>();
  /** The flight of each promise {@link run} returned. */
  readonly #ofPromise = new WeakMap<Promise<unknown>, Flight>();
  readonly #waiting: Queued[] = [];
  readonly #limit: number;
  readonly #maxQueued: number;
  #running = 0;

  constructor(limit: number, maxQueued = 32 * limit) {
    this.#limit = limit;
    this.#maxQueued = maxQueued;
  }

  /** Reads waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
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
   * if {@link joinable}; `revision` is what the cache has applied now. Each
   * call is one waiter: call {@link leave} with the promise if it gives up.
   */
  run<T>(
    key: string,
    revision: bigint,
    minRevision: bigint | undefined,
    read: () => Promise<T>,
    options: RunOptions = {},
  ): Promise<T> {
    const joined = this.joinable(key, minRevision) ? this.#inFlight.get(key) : undefined;
    if (joined) {
      joined.waiters++;
      return joined.promise as Promise<T>;
    }
    const { promise, cancel } = this.#limited(read, options.unlimited === true);
    const members = options.members ?? [key];
    const flight: Flight = { key, promise, revision, members, waiters: 1, cancel };
    this.#inFlight.set(key, flight);
    this.#ofPromise.set(promise, flight);
    for (const member of members) {
      const flights = this.#byMember.get(member) ?? new Set<string>();
      flights.add(key);
      this.#byMember.set(member, flights);
    }
    const done = () => this.#remove(key, flight);
    promise.then(done, done);
    return promise;
  }

  /** A caller of `promise` gave up (its deadline, its abort): a queued read nobody waits for is dropped. */
  leave(promise: Promise<unknown>): void {
    const flight = this.#ofPromise.get(promise);
    if (!flight || --flight.waiters > 0) return;
    // Dropped: nobody may join it on the way out.
    if (flight.cancel()) this.#remove(flight.key, flight);
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

  /**
   * Runs `read` once fewer than `limit` reads run; at once when `unlimited`
   * or the queue is full. `cancel` drops it while it waits (it rejects with
   * CANCELLED) and says whether it did.
   */
  #limited<R>(read: () => Promise<R>, unlimited: boolean): { promise: Promise<R>; cancel: () => boolean } {
    if (unlimited || (this.#running >= this.#limit && this.#waiting.length >= this.#maxQueued)) {
      return { promise: read(), cancel: () => false };
    }
    const run = async (): Promise<R> => {
      try {
        return await read();
      } finally {
        const next = this.#waiting.shift();
        // The slot passes to the next waiter as it is; else it is freed.
        if (next) next.start();
        else this.#running--;
      }
    };
    if (this.#running < this.#limit) {
      this.#running++;
      return { promise: run(), cancel: () => false };
    }
    let queued: Queued | undefined;
    let drop: (error: RegistryError) => void = () => {};
    const promise = new Promise<R>((resolve, reject) => {
      drop = reject;
      queued = { start: () => resolve(run()) };
      this.#waiting.push(queued);
    });
    const cancel = () => {
      const at = queued ? this.#waiting.indexOf(queued) : -1;
      if (at < 0) return false;
      this.#waiting.splice(at, 1);
      drop(new RegistryError(Code.CANCELLED, "Every caller of this read gave up before it was sent."));
      return true;
    };
    return { promise, cancel };
  }
}
