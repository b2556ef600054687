/**
 * A circuit breaker for a dependency across a network (a database server):
 * while it is known to be unreachable, calls fail at once instead of each
 * waiting out its own timeout. Probe-driven, so contention is never mistaken
 * for a partition: only a probe that fails or outlasts its timeout opens it
 * (not one the dependency refused for lack of connection slots).
 */

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerConfig {
  /**
   * Tests the dependency: resolves if it answers, rejects if not. `signal`
   * aborts when the probe has taken `probeTimeoutMs`; the probe should then
   * drop what it holds (a connection that hangs).
   */
  readonly probe: (signal: AbortSignal) => Promise<void>;
  /** How long a probe may take before the dependency counts as unreachable. */
  readonly probeTimeoutMs: number;
  /** While open, how often a probe tests whether the dependency is back (half-open). */
  readonly retryIntervalMs: number;
  /** The error calls fail with while the circuit is open (and calls it fails when it opens). */
  readonly openError: (cause: unknown) => Error;
  /** Called when the circuit opens, after the calls in flight were failed (drop their connections). */
  readonly onOpen?: (cause: unknown) => void;
  /**
   * Whether a probe's failure still shows the dependency answering (a
   * database out of connection slots): such a failure never opens the
   * circuit, and closes it if open, since dropping every pooled connection
   * would only make it worse. Default: no failure does.
   */
  readonly answered?: (error: unknown) => boolean;
}

/** Why a probe failed when it took too long. */
class ProbeTimeout extends Error {
  constructor(ms: number) {
    super(`the probe did not answer within ${ms} ms`);
    this.name = "ProbeTimeout";
  }
}

/** Runs `probe` with a timeout that aborts it and rejects. */
function probeWithTimeout(probe: CircuitBreakerConfig["probe"], ms: number): Promise<void> {
  const controller = new AbortController();
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    // Checked once more after the event loop's poll phase: when the loop was
    // blocked past the timeout, an answer that arrived meanwhile is read
    // then, and a busy process is not taken for an unreachable database.
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          const error = new ProbeTimeout(ms);
          controller.abort(error);
          reject(error);
        }),
      ms,
    );
    probe(controller.signal).then(
      () => {
        settled = true;
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * While closed, a call starts a probe if none started for this long: so an
 * adapter nobody pings (no health check) still finds a silent database.
 */
const probeStaleMs = 500;

/**
 * Closed: calls run. A failed (or too slow) probe opens it: the calls in
 * flight fail at once with `openError`, `onOpen` runs, and every call fails
 * at once until a probe succeeds. While open, a probe runs every
 * `retryIntervalMs` (and whenever {@link probe} is called); the first that
 * succeeds closes it. One probe at a time. While closed, probes run when
 * {@link probe} is called (the server's health check) and, when that has
 * not happened for half a second, on the next call or while calls are in flight.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerConfig;
  /** The cause of the opening, while open. */
  #openCause: { readonly error: unknown } | undefined;
  #probing: Promise<boolean> | undefined;
  /** When the last probe started (`performance.now()`). */
  #probedAt = Number.NEGATIVE_INFINITY;
  #retryTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #disposed = false;
  /** Fails each call in flight, by the caller's waiting promise. */
  readonly #inFlight = new Set<(error: Error) => void>();

  constructor(options: CircuitBreakerConfig) {
    this.#options = options;
  }

  /** Whether calls fail at once now. */
  get isOpen(): boolean {
    return this.#openCause !== undefined;
  }

  /**
   * Runs `call`, unless the circuit is open (then rejects at once with
   * `openError`). If the circuit opens while `call` runs, the returned
   * promise rejects at once and `call`'s outcome is ignored: `abandoned()`
   * tells `call` so, for it to stop before doing more (committing).
   */
  run<T>(call: (abandoned: () => boolean) => Promise<T>): Promise<T> {
    const open = this.#openCause;
    if (open !== undefined) return Promise.reject(this.#options.openError(open.error));
    // Nobody has probed lately (no health check pings): calls keep it probing.
    if (performance.now() - this.#probedAt > probeStaleMs) void this.probe();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        settled = true;
        reject(error);
      };
      this.#inFlight.add(fail);
      this.#watch();
      call(() => settled).then(
        (value) => {
          if (settled) return;
          settled = true;
          this.#inFlight.delete(fail);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          this.#inFlight.delete(fail);
          reject(error);
        },
      );
    });
  }

  /**
   * Probes now, or joins the probe under way; resolves whether the
   * dependency answered, after opening or closing the circuit accordingly.
   */
  probe(): Promise<boolean> {
    if (this.#probing === undefined) this.#probedAt = performance.now();
    this.#probing ??= this.#runProbe().finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  /** The error calls fail with now, if the circuit is open. */
  openError(): Error | undefined {
    const open = this.#openCause;
    return open === undefined ? undefined : this.#options.openError(open.error);
  }

  /** No more probes; the circuit stays as it is. */
  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#watchdog);
  }

  /** While calls are in flight, probes at least every {@link probeStaleMs} (a call may be stuck). */
  #watch(): void {
    if (this.#watchdog !== undefined || this.#disposed) return;
    this.#watchdog = setInterval(() => {
      if (this.#inFlight.size === 0 || this.#disposed) {
        clearInterval(this.#watchdog);
        this.#watchdog = undefined;
      } else if (performance.now() - this.#probedAt > probeStaleMs) {
        void this.probe();
      }
    }, probeStaleMs / 4);
    this.#watchdog.unref();
  }

  async #runProbe(): Promise<boolean> {
    try {
      await probeWithTimeout(this.#options.probe, this.#options.probeTimeoutMs);
    } catch (error) {
      if (this.#options.answered?.(error) === true) {
        this.#close();
        return false;
      }
      this.#open(error);
      return false;
    }
    this.#close();
    return true;
  }

  #open(cause: unknown): void {
    const wasOpen = this.#openCause !== undefined;
    this.#openCause = { error: cause };
    if (!wasOpen) {
      const failures = [...this.#inFlight];
      this.#inFlight.clear();
      for (const fail of failures) fail(this.#options.openError(cause));
      this.#options.onOpen?.(cause);
    }
    this.#scheduleRetry();
  }

  #close(): void {
    this.#openCause = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** Half-open: the next probe, `retryIntervalMs` after this one ended. */
  #scheduleRetry(): void {
    if (this.#disposed) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.isOpen && !this.#disposed) void this.probe();
    }, this.#options.retryIntervalMs);
    this.#retryTimer.unref();
  }
}
