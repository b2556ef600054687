/**
 * The cache benchmarks' protection figures (`cache.ts`, parts 3 and 4),
 * counted at a registry process of our own (cache-server.ts counts the calls
 * per method): breakdown (1,000 concurrent reads of one cold key), penetration
 * (10,000 reads of unknown keys, twice, then a CREATED event), and Redis
 * killed (SIGKILL) and restarted under a read loop through L1 + L2.
 */
import { randomUUID } from "node:crypto";
import { Code, type RegistryClient, RegistryError } from "@modelreg/registry-client";
import {
  type CachedClient,
  type Counters,
  cachedClient,
  delta,
  plainClient,
  type Stats,
  waitCurrent,
} from "./cache-client";
import type { CountingRegistry, PrivateRedis } from "./cache-procs";
import { modelRecord } from "./fixture";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `op(i)` for i in [0, count) with at most `inFlight` at once. */
export async function pool(count: number, inFlight: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

/** A fresh model through `writer` (no cache); its id. */
export async function createModel(writer: RegistryClient, name: string, version = "1.0.0"): Promise<string> {
  const model = await writer.createModel({
    model: { name, version, framework: "pytorch", artifactUri: `s3://bench/${name}/${version}` },
  });
  return model.id;
}

const isNotFound = (error: unknown) => error instanceof RegistryError && error.code === Code.NOT_FOUND;

export interface StampedeResult {
  /** "running": the cache's watch was current before; "cold": a client's very first reads. */
  readonly process: "running" | "cold";
  readonly concurrent: number;
  readonly registryCalls: number;
  readonly wrongAnswers: number;
  readonly cache: Counters;
}

async function stampede(
  registry: CountingRegistry,
  cached: CachedClient,
  id: string,
  concurrent: number,
  kind: StampedeResult["process"],
): Promise<StampedeResult> {
  const before = (await registry.counts()).GetModel ?? 0;
  const stats = cached.stats();
  const answers = await Promise.all(Array.from({ length: concurrent }, () => cached.client.getModel({ id })));
  const after = (await registry.counts()).GetModel ?? 0;
  return {
    process: kind,
    concurrent,
    registryCalls: after - before,
    wrongAnswers: answers.filter((m) => m.id !== id).length,
    cache: delta(stats, cached.stats()),
  };
}

/** Part 3a: concurrent reads of one cold key, in a running process and in a cold one. */
export async function breakdown(registry: CountingRegistry, concurrent: number): Promise<StampedeResult[]> {
  const target = `127.0.0.1:${registry.port}`;
  const writer = plainClient(target);
  // Created before the caches exist: their watches start after, so no CREATED event fills these keys.
  const hot = await createModel(writer, `hot-key-${Date.now()}`);
  const other = await createModel(writer, `cold-key-${Date.now()}`);
  writer.close();
  const running = cachedClient(target, true);
  try {
    await waitCurrent(running, modelRecord.id);
    const results = [await stampede(registry, running, hot, concurrent, "running")];
    const cold = cachedClient(target, true);
    try {
      results.push(await stampede(registry, cold, other, concurrent, "cold"));
    } finally {
      cold.client.close();
    }
    return results;
  } finally {
    running.client.close();
  }
}

export interface PenetrationPass {
  readonly pass: string;
  readonly reads: number;
  readonly registryCalls: number;
  readonly notFound: number;
  readonly found: number;
  readonly ms: number;
  readonly cache: Counters;
}

export interface PenetrationResult {
  readonly getModel: PenetrationPass[];
  readonly lookup: PenetrationPass[];
  /** After one of the looked-up (name, version) pairs was created by another client: ms until this cache found it. */
  readonly createdSeenAfterMs: number;
}

async function pass(
  registry: CountingRegistry,
  cached: CachedClient,
  method: "GetModel" | "LookupModel",
  name: string,
  count: number,
  read: (i: number) => Promise<unknown>,
): Promise<PenetrationPass> {
  // A pass starts with the watch current: a cache whose watch went quiet (the previous burst kept
  // this process busy) sends reads to the registry by design; the counters still show any it did.
  await waitCurrent(cached, modelRecord.id);
  const before = (await registry.counts())[method] ?? 0;
  const stats = cached.stats();
  let notFound = 0;
  let found = 0;
  const started = performance.now();
  await pool(count, 256, async (i) => {
    try {
      await read(i);
      found++;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      notFound++;
    }
  });
  const ms = performance.now() - started;
  const after = (await registry.counts())[method] ?? 0;
  const cache = delta(stats, cached.stats());
  return { pass: name, reads: count, registryCalls: after - before, notFound, found, ms, cache };
}

/**
 * Part 3b: `count` reads of random unknown ids, twice (the NOT_FOUND
 * answers are cached, so the second pass should make no registry call);
 * the same with LookupModel of unknown (name, version) pairs, then another
 * client creates one of them: this cache must find it (the CREATED event
 * evicts the negative entry) while the others stay cached.
 */
export async function penetration(registry: CountingRegistry, count: number): Promise<PenetrationResult> {
  const target = `127.0.0.1:${registry.port}`;
  // NOT_FOUND kept for a minute, so the passes see the entries of the first one.
  const cached = cachedClient(target, { notFoundTtlMs: 60_000 });
  const writer = plainClient(target);
  try {
    await waitCurrent(cached, modelRecord.id);
    const ids = Array.from({ length: count }, () => randomUUID());
    const run = Date.now().toString(36);
    const pairs = Array.from({ length: count }, (_, i) => ({ name: `ghost-${run}-${i}`, version: "1.0.0" }));
    const get = (i: number) => cached.client.getModel({ id: ids[i] as string });
    const lookup = (i: number) => cached.client.lookupModel(pairs[i] as { name: string; version: string });
    const getModel = [
      await pass(registry, cached, "GetModel", "first", count, get),
      await pass(registry, cached, "GetModel", "again", count, get),
    ];
    const lookups = [
      await pass(registry, cached, "LookupModel", "first", count, lookup),
      await pass(registry, cached, "LookupModel", "again", count, lookup),
    ];
    const created = pairs[Math.floor(count / 2)] as { name: string; version: string };
    const before = (await registry.counts()).LookupModel ?? 0;
    await createModel(writer, created.name, created.version);
    const started = performance.now();
    for (;;) {
      try {
        await cached.client.lookupModel(created);
        break;
      } catch (error) {
        if (!isNotFound(error)) throw error;
        if (performance.now() - started > 10_000)
          throw new Error("the created model was not found within 10 s");
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const createdSeenAfterMs = performance.now() - started;
    const third = await pass(registry, cached, "LookupModel", "after the CREATED event", count, lookup);
    const after = (await registry.counts()).LookupModel ?? 0;
    // The third pass's figure includes the reads made while waiting for the created model.
    lookups.push({ ...third, registryCalls: after - before });
    return { getModel, lookup: lookups, createdSeenAfterMs };
  } finally {
    writer.close();
    cached.client.close();
  }
}

export interface RedisPhase {
  readonly phase: string;
  readonly ms: number;
  readonly reads: number;
  readonly failed: number;
  readonly registryCalls: number;
  readonly cache: Counters;
}

export interface RedisKillResult {
  readonly models: number;
  readonly l1MaxBytes: number;
  readonly phases: RedisPhase[];
  readonly firstError?: string;
}

/** A read loop over `ids` with `inFlight` reads at once, until `stop()`; counts reads and failures. */
function readLoop(client: RegistryClient, ids: readonly string[], inFlight: number) {
  const state = { reads: 0, failed: 0, firstError: undefined as string | undefined, running: true };
  const worker = async () => {
    while (state.running) {
      const id = ids[Math.floor(Math.random() * ids.length)] as string;
      try {
        const model = await client.getModel({ id });
        if (model.id !== id) throw new Error(`asked ${id}, got ${model.id}`);
      } catch (error) {
        state.failed++;
        state.firstError ??= (error as Error).message;
      }
      state.reads++;
    }
  };
  const done = Promise.all(Array.from({ length: inFlight }, worker));
  return {
    state,
    stop: async () => {
      state.running = false;
      await done;
    },
  };
}

/** Seeds `count` models through `writer`, `inFlight` creates at once; their ids. */
async function seedModels(writer: RegistryClient, count: number): Promise<string[]> {
  const ids: string[] = [];
  const run = Date.now().toString(36);
  await pool(count, 64, async (i) => {
    ids.push(await createModel(writer, `redis-${run}-${i}`));
  });
  return ids;
}

/**
 * Part 4: a client with L1 + L2 (Redis) reads in a loop; Redis is
 * SIGKILLed, then restarted on the same port. Failed reads per phase
 * (expect 0), and where the answers came from. L1 is kept small so most
 * reads need L2 (another client filled it first).
 */
export async function redisKilled(
  registry: CountingRegistry,
  redis: { current: PrivateRedis; restart(): Promise<PrivateRedis> },
  makeStore: (url: string) => unknown,
  options: { models: number; phaseMs: number; l1MaxBytes: number },
): Promise<RedisKillResult> {
  const target = `127.0.0.1:${registry.port}`;
  const writer = plainClient(target);
  // Seeded before the caches exist, so their entries come from reads (filler -> L2), not from events.
  const ids = await seedModels(writer, options.models);
  const fillerStore = makeStore(redis.current.url) as { close(): Promise<void> };
  const store = makeStore(redis.current.url) as { close(): Promise<void> };
  const filler = cachedClient(target, { shared: fillerStore });
  const reader = cachedClient(target, { shared: store, maxBytes: options.l1MaxBytes });
  try {
    await waitCurrent(filler, modelRecord.id);
    await pool(ids.length, 64, async (i) => void (await filler.client.getModel({ id: ids[i] as string })));
    await waitCurrent(reader, modelRecord.id);
    const loop = readLoop(reader.client, ids, 16);
    const phases: RedisPhase[] = [];
    const phase = async (name: string, ms: number, action?: () => Promise<void>) => {
      const reads = loop.state.reads;
      const failed = loop.state.failed;
      const stats: Stats | undefined = reader.stats();
      const calls = (await registry.counts()).GetModel ?? 0;
      const started = performance.now();
      await action?.();
      await sleep(Math.max(0, ms - (performance.now() - started)));
      phases.push({
        phase: name,
        ms: performance.now() - started,
        reads: loop.state.reads - reads,
        failed: loop.state.failed - failed,
        registryCalls: ((await registry.counts()).GetModel ?? 0) - calls,
        cache: delta(stats, reader.stats()),
      });
    };
    await phase("before (Redis up)", options.phaseMs);
    await phase("Redis killed (SIGKILL)", options.phaseMs, () => redis.current.kill());
    await phase("restarted, first phase", options.phaseMs, async () => {
      await redis.restart();
    });
    await phase("restarted, second phase", options.phaseMs);
    await loop.stop();
    return {
      models: ids.length,
      l1MaxBytes: options.l1MaxBytes,
      phases,
      ...(loop.state.firstError ? { firstError: loop.state.firstError } : {}),
    };
  } finally {
    filler.client.close();
    reader.client.close();
    writer.close();
    await Promise.allSettled([fillerStore.close(), store.close()]);
  }
}
