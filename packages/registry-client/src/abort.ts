/**
 * One "abort" listener per AbortSignal, however many calls share it: a
 * signal passed to thousands of concurrent calls neither trips Node's
 * MaxListenersExceededWarning nor keeps listeners after the calls end (the
 * protobuf-ts grpc-transport pitfall: one listener per call, never removed).
 */
const subscriptions = new WeakMap<AbortSignal, { callbacks: Set<() => void>; fire: () => void }>();

/**
 * Runs `callback` when `signal` aborts, or in a microtask when it already
 * has (an "abort" listener added then would never fire). Call the returned
 * function when the work ends.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    let active = true;
    queueMicrotask(() => {
      if (active) callback();
    });
    return () => {
      active = false;
    };
  }
  let entry = subscriptions.get(signal);
  if (!entry) {
    const callbacks = new Set<() => void>();
    const fire = () => {
      subscriptions.delete(signal);
      for (const cb of callbacks) cb();
      callbacks.clear();
    };
    entry = { callbacks, fire };
    subscriptions.set(signal, entry);
    signal.addEventListener("abort", fire, { once: true });
  }
  const { callbacks, fire } = entry;
  callbacks.add(callback);
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return;
    subscriptions.delete(signal);
    signal.removeEventListener("abort", fire);
  };
}
