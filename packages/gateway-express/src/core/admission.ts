/**
 * Admission control of the gateway (`GatewayOptions.admission`): at most
 * `maxConcurrentRequests` requests are served at once, up to
 * `maxQueuedRequests` more wait for a slot (first come, first served, for at
 * most `maxQueueWaitMs`), and any request beyond is answered at once with
 * 429, a `Retry-After` and the AIP-193 body (RESOURCE_EXHAUSTED, reason
 * `OVERLOADED`, a `google.rpc.RetryInfo`). Checked after the route is
 * matched and before the body is read or the registry called. Watches
 * (`GET /api/v1/models:watch`) are not counted; an import holds one slot
 * until it ends.
 */
import { Code, RegistryError } from "@modelreg/proto";
import { HttpError } from "./errors";
import { errorBody } from "./http-status";
import { apiHeaders, jsonTextResponse } from "./json-response";
import { exhausted, retryAfterHeader } from "./retry-after";
import type { GatewayResponse } from "./types";

/** Limits of {@link GatewayAdmission}; see `GatewayOptions.admission`. */
export interface GatewayAdmissionOptions {
  /** Requests served at once; the rest wait in the queue. Default 64. */
  maxConcurrentRequests?: number;
  /** Requests that may wait for a slot; one more is refused at once. 0: no queue. Default 64. */
  maxQueuedRequests?: number;
  /** Longest wait in the queue; a request still waiting then is refused with 429. Default 1000 ms. */
  maxQueueWaitMs?: number;
  /** `Retry-After` of a refusal, in whole seconds (also its RetryInfo). Default 1. */
  retryAfterSeconds?: number;
}

/** What admission control is doing: see `GatewayHandler.stats()`. */
export interface GatewayAdmissionStats {
  /** Requests being served now (slots taken). */
  readonly inFlight: number;
  /** Requests waiting for a slot now. */
  readonly queued: number;
  /** Requests refused with 429 since the gateway started: it was full, or no slot came free in time. */
  readonly refused: number;
}

const option = "createGateway: `admission";

/** `options` with the defaults; throws TypeError naming a value that is not usable. */
export function resolveGatewayAdmission(
  options: GatewayAdmissionOptions | false | undefined,
): Required<GatewayAdmissionOptions> | undefined {
  if (options === false) return undefined;
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${option}\` must be an object of limits, or false to turn admission control off`);
  }
  const whole = (name: keyof GatewayAdmissionOptions, fallback: number, least: number) => {
    const value = options?.[name];
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new TypeError(`${option}.${name}\` must be a whole number of at least ${least} (got ${value})`);
    }
    return value;
  };
  return {
    maxConcurrentRequests: whole("maxConcurrentRequests", 64, 1),
    maxQueuedRequests: whole("maxQueuedRequests", 64, 0),
    maxQueueWaitMs: whole("maxQueueWaitMs", 1000, 1),
    retryAfterSeconds: whole("retryAfterSeconds", 1, 0),
  };
}

/** 429 with `Retry-After` for a request the gateway has no room for. */
function overloaded(message: string, retryAfterSeconds: number): HttpError {
  const error = exhausted(message, retryAfterSeconds, "OVERLOADED");
  return new HttpError(429, error, retryAfterHeader(error));
}

/** The request went away while it waited: nobody reads this answer (499, as for a cancelled call). */
const goneAway = () =>
  new RegistryError(Code.CANCELLED, "The client closed the request before it was served.");

/** The gateway's slots and queue. */
export class GatewayAdmission {
  readonly #limits: Required<GatewayAdmissionOptions>;
  /** Insertion-ordered: the first is the oldest waiter. */
  readonly #queue = new Set<() => void>();
  #inFlight = 0;
  #refused = 0;

  /** The refusals, made once: under overload thousands a second are sent, all alike. */
  readonly #full: HttpError;
  readonly #waitedTooLong: HttpError;

  /** The body and headers of {@link refusal}, serialized once. */
  readonly #fullJson: string;
  readonly #fullHeaders: Readonly<Record<string, string>>;

  constructor(limits: Required<GatewayAdmissionOptions>) {
    this.#limits = limits;
    const { maxQueueWaitMs, retryAfterSeconds } = limits;
    const retryIn = `retry in ${retryAfterSeconds} s`;
    this.#full = overloaded(`The gateway is at capacity; ${retryIn}.`, retryAfterSeconds);
    this.#waitedTooLong = overloaded(
      `The gateway is at capacity: no slot came free within ${maxQueueWaitMs} ms; ${retryIn}.`,
      retryAfterSeconds,
    );
    this.#fullJson = JSON.stringify(errorBody(this.#full.error, 429));
    this.#fullHeaders = { ...this.#full.headers, ...apiHeaders };
  }

  /** Every slot is taken and the queue is full: a request now would be refused. */
  get full(): boolean {
    return (
      this.#inFlight >= this.#limits.maxConcurrentRequests &&
      this.#queue.size >= this.#limits.maxQueuedRequests
    );
  }

  /** Requests in flight and queued now, and refused so far. */
  stats(): GatewayAdmissionStats {
    return { inFlight: this.#inFlight, queued: this.#queue.size, refused: this.#refused };
  }

  /** The 429 a request gets while the gateway is {@link full}, as the core would answer it. */
  refusal(requestId: string): GatewayResponse {
    this.#refused++;
    return jsonTextResponse(
      429,
      this.#fullJson,
      Object.assign({ "x-request-id": requestId }, this.#fullHeaders),
    );
  }

  /**
   * Runs `serve` holding a slot, once one is free; rejects with a 429
   * {@link HttpError} when none comes. `request.signal` (a request that
   * went away stops waiting) is read only if the request has to wait.
   */
  async run<T>(request: { readonly signal: AbortSignal }, serve: () => Promise<T>): Promise<T> {
    if (this.#inFlight < this.#limits.maxConcurrentRequests) this.#inFlight++;
    else await this.#wait(request.signal);
    try {
      return await serve();
    } finally {
      const next = this.#queue.values().next();
      if (next.done) this.#inFlight--;
      else next.value(); // the slot passes to the oldest waiter
    }
  }

  #wait(signal: AbortSignal): Promise<void> {
    if (this.#queue.size >= this.#limits.maxQueuedRequests) {
      this.#refused++;
      return Promise.reject(this.#full);
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (error: unknown) => {
        done();
        reject(error);
      };
      const admit = () => {
        done();
        resolve();
      };
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#queue.delete(admit);
      };
      const onAbort = () => leave(goneAway());
      const timer = setTimeout(() => {
        this.#refused++;
        leave(this.#waitedTooLong);
      }, this.#limits.maxQueueWaitMs);
      if (signal.aborted) return leave(goneAway());
      signal.addEventListener("abort", onAbort, { once: true });
      this.#queue.add(admit);
    });
  }
}
