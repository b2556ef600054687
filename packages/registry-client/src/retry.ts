import { Code, type RegistryError } from "@modelreg/proto";

/**
 * How failed calls are retried. Only idempotent calls that failed with
 * UNAVAILABLE are retried, and not when the registry answered that its
 * database is unreachable (reason `DATABASE_UNAVAILABLE`): it says so only
 * once it has found out, so a retry would wait for the same answer.
 */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 4; 1 disables retries. */
  maxAttempts?: number;
  /** Backoff before the first retry. Default 100 ms. */
  initialBackoffMs?: number;
  /** Upper bound of one backoff. Default 2000 ms. */
  maxBackoffMs?: number;
  /** Growth of the backoff per attempt. Default 2. */
  multiplier?: number;
  /**
   * Retry budget, as gRPC's retry throttling: the client holds `maxTokens`
   * tokens (default 10); a failed attempt costs one, a success returns
   * `tokenRatio` (default 0.1). Retries stop while fewer than half remain,
   * so a registry that is down gets no retry storm from this client.
   */
  budget?: { maxTokens?: number; tokenRatio?: number };
}

/** Retry state shared by every call of one client. */
export class RetryPolicy {
  readonly maxAttempts: number;
  /** Upper bound of one backoff, in ms. */
  readonly maxBackoffMs: number;
  readonly #initial: number;
  readonly #multiplier: number;
  readonly #maxTokens: number;
  readonly #tokenRatio: number;
  #tokens: number;

  constructor(options: RetryOptions = {}) {
    this.maxAttempts = Math.max(1, Math.trunc(options.maxAttempts ?? 4));
    this.#initial = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 2000;
    this.#multiplier = options.multiplier ?? 2;
    this.#maxTokens = options.budget?.maxTokens ?? 10;
    this.#tokenRatio = options.budget?.tokenRatio ?? 0.1;
    this.#tokens = this.#maxTokens;
  }

  /**
   * Whether a call that failed with `error` on attempt `attempt` (1-based) may
   * be retried now. `neverSent` marks a failure to connect: the request never
   * reached a server, so it does not draw on the budget (as gRPC's
   * transparent retries), though `maxAttempts` still bounds it.
   */
  shouldRetry(error: RegistryError, attempt: number, neverSent: boolean): boolean {
    if (error.code !== Code.UNAVAILABLE || attempt >= this.maxAttempts) return false;
    if (error.reason === "DATABASE_UNAVAILABLE") return false;
    return neverSent || this.#tokens > this.#maxTokens / 2;
  }

  /** Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(this.maxBackoffMs, this.#initial * this.#multiplier ** (attempt - 1));
    return Math.random() * ceiling;
  }

  recordFailure(): void {
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  recordSuccess(): void {
    this.#tokens = Math.min(this.#maxTokens, this.#tokens + this.#tokenRatio);
  }
}
