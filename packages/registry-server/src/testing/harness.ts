import type { StorageAdapter, StorageCapabilities } from "../storage/adapter";
import type { StorageConformanceOptions, StorageTestContext, StorageTestSettings } from "./options";

/** A test's body: it gets a fresh adapter, which the harness closes and destroys afterwards. */
export type TestBody = (adapter: StorageAdapter) => Promise<void>;

/** Registers one test of the suite. */
export type TestFn = (name: string, body: TestBody) => void;

/**
 * Runs `body` on a fresh adapter, then always closes and destroys it. The
 * body's failure wins over a failure to clean up (often its consequence).
 */
export async function withAdapter(
  options: StorageConformanceOptions,
  body: TestBody,
  settings?: StorageTestSettings,
): Promise<void> {
  const adapter = await (settings === undefined ? options.createAdapter() : options.createAdapter(settings));
  let failure: { readonly error: unknown } | undefined;
  try {
    await body(adapter);
  } catch (error) {
    failure = { error };
  }
  const cleanupErrors: unknown[] = [];
  try {
    await adapter.close();
  } catch (error) {
    cleanupErrors.push(error);
  }
  try {
    await options.destroyAdapter?.(adapter);
  } catch (error) {
    cleanupErrors.push(error);
  }
  if (failure) throw failure.error;
  if (cleanupErrors.length === 1) throw cleanupErrors[0];
  if (cleanupErrors.length > 1)
    throw new AggregateError(cleanupErrors, "closing and destroying the adapter failed");
}

/** The timeout of every test, in milliseconds. */
export function timeoutOf(options: StorageConformanceOptions): number {
  return options.timeoutMs ?? 30_000;
}

/** A {@link TestFn} whose tests run on every adapter (made with `settings`, when given). */
export function makeTest(options: StorageConformanceOptions, settings?: StorageTestSettings): TestFn {
  const timeoutMs = timeoutOf(options);
  return (name, body) => options.it(name, () => withAdapter(options, body, settings), timeoutMs);
}

/**
 * A {@link TestFn} whose tests run only on an adapter that claims
 * `capability`. The adapter is made per test, so the claim is read at run
 * time: a test of an unclaimed capability asks the framework to mark it
 * skipped (vitest's `ctx.skip()`, node:test's `t.skip()`) and returns. A
 * framework that passes no context gets a process warning, once per suite
 * and capability, instead of a silent pass.
 */
export function makeClaimedTest(
  options: StorageConformanceOptions,
  capability: keyof StorageCapabilities,
): TestFn {
  const timeoutMs = timeoutOf(options);
  const note = `skipped: the adapter does not claim capabilities.${capability}`;
  let warned = false;
  return (name, body) => {
    // A rest parameter keeps `fn.length` 0: jest and mocha pass a `done` callback to functions declaring one.
    const fn = (...args: [context?: StorageTestContext]) =>
      withAdapter(options, async (adapter) => {
        if (adapter.capabilities?.[capability] === true) return body(adapter);
        const skip = args[0]?.skip;
        if (skip) return skip.call(args[0], note);
        if (!warned) {
          warned = true;
          process.emitWarning(`storage conformance: ${options.name}: the ${capability} tests were ${note}`, {
            code: "MODELREG_CONFORMANCE_SKIPPED",
          });
        }
      });
    options.it(name, fn, timeoutMs);
  };
}
