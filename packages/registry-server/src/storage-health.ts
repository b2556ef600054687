import type { Logger } from "@modelreg/proto";
import type { StorageAdapter } from "./storage/adapter";

/** A status the server reports for itself. */
export type ServingStatus = "SERVING" | "NOT_SERVING";

/** While NOT_SERVING, storage is pinged at least this often, so readiness returns soon after storage does. */
export const recoveryPingIntervalMs = 100;

/** How often storage is pinged, and how long a ping may take. */
export interface HealthCheckTiming {
  /** Between the end of one ping and the start of the next, while SERVING. */
  readonly intervalMs: number;
  /** A ping not answered in this time counts as failed. */
  readonly timeoutMs: number;
}

/**
 * Rejects if `promise` has not settled within `ms`, checked once more after
 * the event loop's poll phase: an answer that arrived while the loop was
 * blocked past the timeout counts.
 */
function timeLimited(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const error = new Error(`storage did not answer its ping within ${ms} ms`);
    timer = setTimeout(() => setImmediate(() => reject(error)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether the server can serve: SERVING while storage answers its pings
 * within `timeoutMs` (every `intervalMs` once started; every
 * {@link recoveryPingIntervalMs} at most while NOT_SERVING), NOT_SERVING
 * while it fails and for good once stopped. One ping at a time: after one
 * outlasts its timeout, no other starts until it settles. Tells `onChange` of each change.
 */
export class StorageHealth {
  readonly #storage: StorageAdapter;
  readonly #logger: Logger;
  readonly #onChange: (status: ServingStatus) => void;
  #serving = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** The ping under way, until it settles (even after its timeout). */
  #pending: Promise<void> | undefined;

  constructor(storage: StorageAdapter, logger: Logger, onChange: (status: ServingStatus) => void) {
    this.#storage = storage;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  get serving(): boolean {
    return this.#serving;
  }

  /** Pings storage now, then again `intervalMs` after each ping ends (sooner while NOT_SERVING). */
  async start(timing: HealthCheckTiming): Promise<void> {
    const next = () => {
      if (this.#stopped) return;
      const wait = this.#serving ? timing.intervalMs : Math.min(timing.intervalMs, recoveryPingIntervalMs);
      this.#timer = setTimeout(() => void this.#check(timing.timeoutMs).then(next), wait);
      this.#timer.unref();
    };
    await this.#check(timing.timeoutMs);
    next();
  }

  /** NOT_SERVING from now on; pings stop. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#set(false);
  }

  async #check(timeoutMs: number): Promise<void> {
    // A ping that outlasted its timeout and has not settled yet: no second
    // one beside it (one ping at a time), NOT_SERVING until it settles.
    if (this.#pending !== undefined) {
      this.#set(false);
      return;
    }
    const ping = Promise.resolve().then(() => this.#storage.ping());
    const pending = ping.then(
      () => {},
      () => {},
    );
    this.#pending = pending;
    void pending.then(() => {
      if (this.#pending === pending) this.#pending = undefined;
    });
    try {
      await timeLimited(ping, timeoutMs);
      if (!this.#stopped) this.#set(true);
    } catch (error) {
      if (this.#serving) this.#logger.warn({ err: error }, "storage is unreachable");
      this.#set(false);
    }
  }

  #set(value: boolean): void {
    if (this.#serving === value) return;
    this.#serving = value;
    const status = value ? "SERVING" : "NOT_SERVING";
    this.#onChange(status);
    this.#logger.info({ status }, "health status changed");
  }
}
