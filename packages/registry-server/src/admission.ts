import { Any, Code, Duration, RegistryError, RetryInfo } from "@modelreg/proto";
import type { ServerInterceptor } from "./interceptors";

/**
 * Admission control of ModelService calls (`RegistryServerOptions.admission`):
 * at most `maxConcurrentCalls` run at once, up to `maxQueuedCalls` more wait
 * for a slot (first come, first served, for at most `maxQueueWaitMs`), and
 * any call beyond that is refused at once with RESOURCE_EXHAUSTED, reason
 * `OVERLOADED` and a `google.rpc.RetryInfo` of `retryDelayMs`. A refused or
 * timed-out call never reaches `authorize`, the interceptors, the handler or
 * storage. WatchModels streams are not counted (a watch lasts for hours and
 * would hold a slot for good); an ImportModels stream holds one slot until it
 * ends. Health checks and reflection are separate services, never limited.
 *
 * A slot is given back at the end of the event-loop turn in which its call
 * ended, not at once: with a storage that answers without waiting (SQLite,
 * memory) each call is over before grpc-js hands over the next, so calls
 * piled up in front of the server (in socket buffers, read in one go) would
 * otherwise never be seen together, and a CPU-bound server would take
 * every one of them however long they waited.
 */
export interface AdmissionOptions {
  /** Calls served at once; the rest wait in the queue. Default 64. */
  maxConcurrentCalls?: number;
  /** Calls that may wait for a slot; one more is refused at once. 0: no queue. Default 64. */
  maxQueuedCalls?: number;
  /**
   * Longest wait in the queue: a call still waiting then is refused with
   * RESOURCE_EXHAUSTED (a call whose deadline comes first leaves with
   * DEADLINE_EXCEEDED, a cancelled one with CANCELLED). Default 1000 ms.
   */
  maxQueueWaitMs?: number;
  /** The delay refused callers are told to wait (`RetryInfo.retry_delay`). Default 1000 ms. */
  retryDelayMs?: number;
}

/** How many calls run and wait right now, and how many were refused so far. */
export interface AdmissionStats {
  readonly inFlight: number;
  readonly queued: number;
  readonly refused: number;
}

interface Waiter {
  readonly admit: () => void;
  readonly leave: (error: RegistryError) => void;
}

const option = "createRegistryServer: `admission";

/** Resolves `options` with the defaults; throws TypeError naming a value that is not usable. */
export function resolveAdmission(
  options: AdmissionOptions | false | undefined,
): Required<AdmissionOptions> | undefined {
  if (options === false) return undefined;
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${option}\` must be an object of limits, or false to turn admission control off`);
  }
  const whole = (name: keyof AdmissionOptions, fallback: number, least: number) => {
    const value = options?.[name];
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new TypeError(`${option}.${name}\` must be a whole number of at least ${least} (got ${value})`);
    }
    return value;
  };
  return {
    maxConcurrentCalls: whole("maxConcurrentCalls", 64, 1),
    maxQueuedCalls: whole("maxQueuedCalls", 64, 0),
    maxQueueWaitMs: whole("maxQueueWaitMs", 1000, 1),
    retryDelayMs: whole("retryDelayMs", 1000, 0),
  };
}

/** RESOURCE_EXHAUSTED for a call the server has no room for, with the delay to wait before retrying. */
function overloaded(message: string, retryDelayMs: number): RegistryError {
  const retryDelay = Duration.create({
    seconds: BigInt(Math.floor(retryDelayMs / 1000)),
    nanos: (retryDelayMs % 1000) * 1_000_000,
  });
  return new RegistryError(Code.RESOURCE_EXHAUSTED, message, {
    reason: "OVERLOADED",
    details: [Any.pack(RetryInfo.create({ retryDelay }), RetryInfo)],
  });
}

/** The slots and the queue; see {@link AdmissionOptions}. */
export class Admission {
  readonly #limits: Required<AdmissionOptions>;
  /** Insertion-ordered: the first is the oldest waiter; a waiter that leaves is deleted in place. */
  readonly #queue = new Set<Waiter>();
  #inFlight = 0;
  #refused = 0;
  /** Slots of calls that ended in this event-loop turn, given back at its end. */
  #ended = 0;

  /** The refusals, made once: under overload thousands a second are sent, all alike. */
  readonly #full: RegistryError;
  readonly #waitedTooLong: RegistryError;

  constructor(limits: Required<AdmissionOptions>) {
    this.#limits = limits;
    const { maxQueueWaitMs, retryDelayMs } = limits;
    const retryIn = `retry in ${retryDelayMs} ms`;
    this.#full = overloaded(`The registry is at capacity; ${retryIn}.`, retryDelayMs);
    this.#waitedTooLong = overloaded(
      `The registry is at capacity: no call slot came free within ${maxQueueWaitMs} ms; ${retryIn}.`,
      retryDelayMs,
    );
  }

  get stats(): AdmissionStats {
    return { inFlight: this.#inFlight, queued: this.#queue.size, refused: this.#refused };
  }

  /** Takes a slot if one is free; the caller must {@link release} it. */
  tryAcquire(): boolean {
    if (this.#inFlight >= this.#limits.maxConcurrentCalls) return false;
    this.#inFlight++;
    return true;
  }

  /**
   * Waits for a slot: resolves holding one, or rejects without one (queue
   * full, waited too long, or the call's signal aborted: it was cancelled or
   * its deadline passed). The signal is made only for a call that queues.
   */
  wait(call: { readonly signal: AbortSignal }): Promise<void> {
    if (this.#queue.size >= this.#limits.maxQueuedCalls) {
      this.#refused++;
      return Promise.reject(this.#full);
    }
    const { signal } = call;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#queue.delete(waiter);
      };
      const waiter: Waiter = {
        admit: () => {
          done();
          resolve();
        },
        leave: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = () => waiter.leave(signal.reason);
      const timer = setTimeout(() => {
        this.#refused++;
        waiter.leave(this.#waitedTooLong);
      }, this.#limits.maxQueueWaitMs);
      if (signal.aborted) return waiter.leave(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#queue.add(waiter);
    });
  }

  /** Frees a slot at the end of this event-loop turn: the oldest waiter takes it over, or it stays free. */
  release(): void {
    if (this.#ended++ === 0) setImmediate(this.#giveBack);
  }

  readonly #giveBack = () => {
    for (; this.#ended > 0; this.#ended--) {
      const next = this.#queue.values().next();
      if (next.done) this.#inFlight--;
      else next.value.admit();
    }
  };
}

/** Runs `next` holding a slot taken for it, and gives the slot back when the call ends, however it ends. */
function holding(admission: Admission, run: () => Promise<unknown>): Promise<unknown> {
  let settled: Promise<unknown>;
  try {
    settled = run();
  } catch (error) {
    settled = Promise.reject(error);
  }
  return settled.finally(() => admission.release());
}

/**
 * Admission as the outermost interceptor, before the error policy and
 * `authorize`: a call without a slot costs the server only its refusal.
 */
export function admissionInterceptor(admission: Admission): ServerInterceptor {
  return (next) => (call) => {
    if (call.method.serverStreaming) return next(call);
    if (admission.tryAcquire()) return holding(admission, () => next(call));
    return admission.wait(call.context).then(() => holding(admission, () => next(call)));
  };
}
