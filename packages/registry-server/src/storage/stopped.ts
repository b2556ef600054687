/**
 * When a call must stop (its deadline passed, its signal aborted), the
 * errors it stops with, and an abortable pause: shared by the server's call
 * scope (the reasons its signal aborts with), every adapter and the
 * service's own retry loops.
 */
import { Code, RegistryError } from "@modelreg/proto";
import type { StorageCallOptions } from "./adapter";

/** DEADLINE_EXCEEDED: the call's deadline passed before it finished (or the database cancelled a statement at it). */
export const deadlineExceeded = (cause?: unknown): RegistryError =>
  new RegistryError(
    Code.DEADLINE_EXCEEDED,
    "The call's deadline passed before it finished; nothing more was done.",
    cause === undefined ? {} : { cause },
  );

/** CANCELLED: the caller cancelled the call before it finished; what was not committed was not made. */
export const cancelled = (): RegistryError =>
  new RegistryError(Code.CANCELLED, "The call was cancelled before it finished; nothing more was done.");

/**
 * An options object may answer "has the call been abandoned?" under this key
 * without making its signal: the server's call contexts do, since their
 * AbortSignal is made on first read and one costs Node 20 ~15 µs of CPU and
 * garbage collection per call. Other options objects just have `signal`.
 *
 * @internal
 */
export const abandoned: unique symbol = Symbol("modelreg.abandoned");

/** Whether the call's signal has aborted, asked without making a lazy signal. */
export function isAborted(options: StorageCallOptions | undefined): boolean {
  const probe = (options as { [abandoned]?: () => boolean } | undefined)?.[abandoned];
  return probe ? probe.call(options) : options?.signal?.aborted === true;
}

/**
 * Why a call whose signal has aborted stops: DEADLINE_EXCEEDED when its
 * deadline has passed (the signal also aborts then), CANCELLED otherwise.
 */
export function stoppedError(options: StorageCallOptions | undefined): RegistryError {
  const deadline = options?.deadline;
  return deadline !== undefined && deadline - Date.now() <= 0 ? deadlineExceeded() : cancelled();
}

/**
 * Throws if the call must not start (more) work: its deadline has passed
 * (checked first, so a past deadline is always DEADLINE_EXCEEDED) or its
 * signal has aborted.
 */
export function throwIfStopped(options: StorageCallOptions | undefined): void {
  const deadline = options?.deadline;
  if (deadline !== undefined && deadline - Date.now() <= 0) throw deadlineExceeded();
  if (isAborted(options)) throw cancelled();
}

/** Throws DEADLINE_EXCEEDED if the call's deadline has passed; leaves its signal alone. */
export function throwIfPastDeadline(options: StorageCallOptions | undefined): void {
  const deadline = options?.deadline;
  if (deadline !== undefined && deadline - Date.now() <= 0) throw deadlineExceeded();
}

/** Sleeps `ms`, or less if `signal` aborts meanwhile (the caller then checks it): a retry's pause should not outlast the call. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
