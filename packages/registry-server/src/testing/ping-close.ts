import { insertAll, makeModelRecord } from "./fixtures";
import { type TestFn, timeoutOf } from "./harness";
import type { StorageConformanceOptions } from "./options";

/**
 * Registers the tests of `ping` and `close`. "close can be called twice"
 * makes its own adapter: the harness would close it a third time.
 */
export function definePingCloseTests(test: TestFn, options: StorageConformanceOptions): void {
  test("ping resolves", async (adapter) => {
    await adapter.ping();
    await insertAll(adapter, [makeModelRecord()]);
    await adapter.ping();
  });
  options.it(
    "close can be called twice",
    async () => {
      const adapter = await options.createAdapter();
      try {
        await insertAll(adapter, [makeModelRecord()]);
        await adapter.close();
        await adapter.close();
      } finally {
        await options.destroyAdapter?.(adapter);
      }
    },
    timeoutOf(options),
  );
}
