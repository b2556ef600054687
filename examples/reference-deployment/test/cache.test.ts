// Issue 16's cache on the reference deployment's real processes: the
// gateway caches by default (CACHE_URL=memory:), answers every write with
// X-Modelreg-Revision and takes it back on reads, so that a write through
// one gateway is read through another with the token, never stale; GET
// /metrics shows the cache's counters; CACHE_URL=off and redis:// start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisUrl, requireRedis } from "../../../test-support/redis";
import { until } from "../../../test-support/waiting";
import { http, type StartedProcess, startGateway, startRegistry } from "./processes";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-cache-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let registryAddress: string;
/** Two gateways (CACHE_URL unset: the default, memory:) on one registry. */
let baseA: string;
let baseB: string;

const baseOf = async (gateway: StartedProcess) => `http://127.0.0.1:${(await gateway.ready).port}`;

beforeAll(async () => {
  const registry = startRegistry(`sqlite:${join(tmp, "registry.db")}`);
  registryAddress = `127.0.0.1:${(await registry.ready).port}`;
  [baseA, baseB] = await Promise.all([
    baseOf(startGateway(registryAddress)),
    baseOf(startGateway(registryAddress)),
  ]);
}, 60_000);

/** The value of a metric in Prometheus text (a sample without labels); undefined when absent. */
function metric(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function scrape(base: string): Promise<string> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return response.text();
}

let created = 0;
async function createModel(base: string, name = "cached") {
  const response = await http(base, "POST", "/api/v1/models", { name, version: `1.0.${created++}` });
  expect(response.status).toBe(200);
  return { id: response.json.id as string, etag: response.json.etag as string, response };
}

/** A revision token as a write answered it; fails the test when it is missing. */
function tokenOf(headers: Headers): string {
  const token = headers.get("x-modelreg-revision");
  expect(token).toMatch(/^\d{1,19}$/);
  return token as string;
}

describe("the consistency token across gateways", () => {
  it("a write via REST answers with X-Modelreg-Revision; later writes answer later revisions", async () => {
    const { id, response } = await createModel(baseA);
    const first = BigInt(tokenOf(response.headers));
    const edit = await http(baseA, "POST", `/api/v1/models/${id}:updateMetadata`, { set: { a: "1" } });
    expect(edit.status).toBe(200);
    expect(BigInt(tokenOf(edit.headers))).toBeGreaterThan(first);
  }, 30_000);

  it("1,000 writes via gateway A, each read via gateway B with its token: 0 stale reads", async () => {
    const models = await Promise.all(Array.from({ length: 10 }, () => createModel(baseA, "pairs")));
    // B has every model cached before the writes start: a read without the token could be stale.
    for (const { id } of models) {
      await http(baseB, "GET", `/api/v1/models/${id}`);
      expect((await http(baseB, "GET", `/api/v1/models/${id}`)).status).toBe(200);
    }
    const stale: string[] = [];
    await Promise.all(
      models.map(async ({ id }) => {
        for (let i = 0; i < 100; i++) {
          const write = await http(baseA, "POST", `/api/v1/models/${id}:updateMetadata`, {
            set: { step: String(i) },
          });
          expect(write.status).toBe(200);
          const read = await http(baseB, "GET", `/api/v1/models/${id}`, undefined, {
            "x-modelreg-revision": tokenOf(write.headers),
          });
          expect(read.status).toBe(200);
          if (read.json.etag !== write.json.etag)
            stale.push(`${id}: wrote ${write.json.etag}, read ${read.json.etag}`);
        }
      }),
    );
    expect(stale).toEqual([]);
  }, 180_000);

  it("a token far ahead of the registry is still answered (by the registry), and counted as a bypass", async () => {
    const { id, etag } = await createModel(baseA);
    await http(baseB, "GET", `/api/v1/models/${id}`);
    const before = metric(await scrape(baseB), "modelreg_cache_stale_bypasses_total") ?? 0;
    const read = await http(baseB, "GET", `/api/v1/models/${id}`, undefined, {
      "x-modelreg-revision": "9223372036854775807",
    });
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ id, etag });
    expect(metric(await scrape(baseB), "modelreg_cache_stale_bypasses_total")).toBeGreaterThan(before);
  }, 30_000);

  it("a malformed token is 400 INVALID_ARGUMENT naming the header", async () => {
    const { id } = await createModel(baseA);
    for (const token of ["abc", "-1", "1e3", "99999999999999999999"]) {
      const read = await http(baseB, "GET", `/api/v1/models/${id}`, undefined, {
        "x-modelreg-revision": token,
      });
      expect(read.status).toBe(400);
      expect(read.json).toMatchObject({ error: { status: "INVALID_ARGUMENT" } });
      expect(JSON.stringify(read.json)).toContain("X-Modelreg-Revision");
    }
  }, 30_000);
});

describe("GET /metrics", () => {
  it("shows the cache's counters, hits growing with repeated GETs", async () => {
    const { id } = await createModel(baseA);
    const text = await scrape(baseB);
    for (const name of [
      "modelreg_cache_hits_total",
      "modelreg_cache_shared_hits_total",
      "modelreg_cache_misses_total",
      "modelreg_cache_not_found_hits_total",
      "modelreg_cache_stale_bypasses_total",
      "modelreg_cache_coalesced_total",
      "modelreg_cache_invalidations_total",
      "modelreg_cache_shared_errors_total",
      "modelreg_cache_current",
      "modelreg_cache_revision",
      "modelreg_cache_bytes",
      "modelreg_cache_entries",
      "modelreg_gateway_requests_in_flight",
      "modelreg_gateway_requests_queued",
      "modelreg_gateway_requests_refused_total",
    ]) {
      expect(metric(text, name), name).toBeGreaterThanOrEqual(0);
    }
    expect(text).toContain("# TYPE modelreg_cache_hits_total counter");
    expect(text).toContain("# TYPE modelreg_cache_current gauge");
    const hitsBefore = metric(text, "modelreg_cache_hits_total") ?? 0;
    // The cache answers once its watch is current and the model is in it (the first GET fills it).
    await until(async () => {
      expect((await http(baseB, "GET", `/api/v1/models/${id}`)).status).toBe(200);
      return (metric(await scrape(baseB), "modelreg_cache_hits_total") ?? 0) >= hitsBefore + 5;
    }, "gateway B answers repeated GETs of one model from its cache");
    const after = await scrape(baseB);
    expect(metric(after, "modelreg_cache_current")).toBe(1);
    expect(metric(after, "modelreg_cache_entries")).toBeGreaterThan(0);
    expect(metric(after, "modelreg_cache_revision")).toBeGreaterThan(0);
  }, 60_000);
});

describe("CACHE_URL", () => {
  it("off: no cache counters, and the gateway still serves reads and writes", async () => {
    const gateway = startGateway(registryAddress, { CACHE_URL: "off" });
    const base = await baseOf(gateway);
    expect(gateway.logs.find((l) => l.msg === "read cache off")).toMatchObject({ cache: "off" });
    const { id, etag, response } = await createModel(base);
    tokenOf(response.headers);
    for (let i = 0; i < 3; i++)
      expect((await http(base, "GET", `/api/v1/models/${id}`)).json.etag).toBe(etag);
    const text = await scrape(base);
    expect(text).not.toContain("modelreg_cache_");
    expect(metric(text, "modelreg_gateway_requests_refused_total")).toBe(0);
    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
  }, 60_000);

  it.each([
    ["redis://user:hunter2@127.0.0.1:6379/0/extra", /CACHE_URL must be memory:, off, or redis:/],
    ["memcached://127.0.0.1:11211", /CACHE_URL must be .*the scheme "memcached:"/],
    ["memory", /CACHE_URL must be .*not a URL/],
  ])(
    "%s is refused at start with a ConfigError naming CACHE_URL, never the password",
    async (value, message) => {
      const gateway = startGateway(registryAddress, { CACHE_URL: value });
      gateway.ready.catch(() => {}); // it never is: it exits
      expect(await gateway.exited).toBe(1);
      expect(gateway.logs.map((l) => l.msg).join("\n")).toMatch(message);
      expect(JSON.stringify(gateway.logs)).not.toContain("hunter2");
      expect(gateway.logs.some((l) => l.msg === "API gateway listening")).toBe(false);
    },
    60_000,
  );

  it("redis://127.0.0.1:6379/0: starts with Redis as the shared level, and serves reads and writes", async () => {
    if (!(await requireRedis("examples/reference-deployment/test/cache.test.ts"))) return;
    const url = new URL(redisUrl);
    const gateway = startGateway(registryAddress, { CACHE_URL: `redis://${url.host}/0` });
    const base = await baseOf(gateway);
    expect(gateway.logs.find((l) => l.msg === "read cache on")).toMatchObject({
      cache: "redis",
      redis: `redis://${url.host}/0`,
    });
    const { id, response } = await createModel(base, "redis-backed");
    const edit = await http(base, "POST", `/api/v1/models/${id}:updateMetadata`, { set: { x: "1" } });
    const read = await http(base, "GET", `/api/v1/models/${id}`, undefined, {
      "x-modelreg-revision": tokenOf(edit.headers),
    });
    expect(BigInt(tokenOf(edit.headers))).toBeGreaterThan(BigInt(tokenOf(response.headers)));
    expect(read.json.etag).toBe(edit.json.etag);
    const text = await scrape(base);
    expect(metric(text, "modelreg_cache_shared_errors_total")).toBeGreaterThanOrEqual(0);
    gateway.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
  }, 60_000);
});
