// watchModels' progressIntervalMs against a real registry: the server's own
// interval is 10 s, so notifications arriving every ~100 ms are the ones the
// client asked for; bad values are refused before anything is sent.

import type { RegistryServer } from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegistryClient } from "./index";
import { startConnected, stopConnected } from "./test-support/connected";

describe("watchModels progressIntervalMs", () => {
  let server: RegistryServer;
  let client: RegistryClient;
  beforeAll(async () => {
    ({ server, client } = await startConnected());
  });
  afterAll(() => stopConnected({ server, client }));

  it("asks the registry for progress notifications that often", async () => {
    const controller = new AbortController();
    const watch = client.watchModels({ progressIntervalMs: 100 }, { signal: controller.signal });
    const messages = [];
    const started = Date.now();
    // The first message is the start; five more within 5 s can only come from the asked interval.
    for await (const message of watch) {
      messages.push(message);
      if (messages.length === 6 || Date.now() - started > 5000) break;
    }
    expect(messages).toHaveLength(6);
    expect(messages.every((m) => m.event === undefined)).toBe(true);
  }, 15_000);

  it("refuses a value that is not a whole number of at least 100 ms", () => {
    for (const progressIntervalMs of [99, 0, -5, 150.5, Number.NaN, "250" as unknown as number]) {
      expect(() => client.watchModels({ progressIntervalMs })).toThrow(
        /progressIntervalMs` must be a whole number of milliseconds, at least 100/,
      );
    }
  });
});
