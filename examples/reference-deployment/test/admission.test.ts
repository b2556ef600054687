// The admission-control settings of the reference deployment, on real
// processes: a burst beyond the configured limits is refused (429 with
// Retry-After through the gateway), the same burst with admission control off
// is served whole, and a bad value stops the process with a clear message.
import { describe, expect, it } from "vitest";
import { start, startGateway, startRegistry } from "./processes";

/** `count` GETs of one model through the gateway at once; their statuses and Retry-After headers. */
async function burst(base: string, id: string, count: number) {
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await fetch(`${base}/api/v1/models/${id}`);
      await response.arrayBuffer();
      return { status: response.status, retryAfter: response.headers.get("retry-after") };
    }),
  );
  return answers;
}

async function deployment(registryEnv: Record<string, string>, gatewayEnv: Record<string, string>) {
  const registry = startRegistry("memory:", registryEnv);
  // No read cache: its hits would answer the burst without a registry call, and each within one turn.
  const gateway = startGateway(`127.0.0.1:${Number((await registry.ready).port)}`, {
    CACHE_URL: "off",
    ...gatewayEnv,
  });
  const base = `http://127.0.0.1:${(await gateway.ready).port}`;
  const created = await fetch(`${base}/api/v1/models`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "burst", version: "1" }),
  });
  const { id } = (await created.json()) as { id: string };
  const stop = async () => {
    gateway.child.kill("SIGTERM");
    registry.child.kill("SIGTERM");
    await Promise.all([gateway.exited, registry.exited]);
  };
  return { base, id, stop };
}

describe("admission control settings", () => {
  it("GATEWAY_MAX_CONCURRENT_REQUESTS=1 with no queue refuses a burst's extra requests with 429 and Retry-After", async () => {
    const { base, id, stop } = await deployment(
      {},
      { GATEWAY_MAX_CONCURRENT_REQUESTS: "1", GATEWAY_MAX_QUEUED_REQUESTS: "0" },
    );
    try {
      const answers = await burst(base, id, 100);
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((a) => a.retryAfter === "1")).toBe(true);
      expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    } finally {
      await stop();
    }
  }, 60_000);

  it("with both set to 0 (off), the same burst is served whole", async () => {
    const { base, id, stop } = await deployment(
      { REGISTRY_MAX_CONCURRENT_CALLS: "0" },
      { GATEWAY_MAX_CONCURRENT_REQUESTS: "0" },
    );
    try {
      const answers = await burst(base, id, 100);
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    } finally {
      await stop();
    }
  }, 60_000);

  it("REGISTRY_MAX_CONCURRENT_CALLS=1 with no queue: the registry's refusals reach HTTP callers as 429", async () => {
    const { base, id, stop } = await deployment(
      { REGISTRY_MAX_CONCURRENT_CALLS: "1", REGISTRY_MAX_QUEUED_CALLS: "0" },
      { GATEWAY_MAX_CONCURRENT_REQUESTS: "0" },
    );
    try {
      const answers = await burst(base, id, 100);
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((a) => a.retryAfter === "1")).toBe(true);
    } finally {
      await stop();
    }
  }, 60_000);

  it("refuses a negative limit with a clear message and exit code 1", async () => {
    const bad = start("gateway", { GATEWAY_MAX_QUEUED_REQUESTS: "-1" }, () => false);
    await expect(bad.ready).rejects.toThrow(/exited \(1\)/);
    expect(bad.logs.map((l) => l.msg).join("\n")).toContain(
      "GATEWAY_MAX_QUEUED_REQUESTS must be an integer from 0 to 1000000",
    );
  });
});
