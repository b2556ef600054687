/**
 * The cache benchmarks' staleness figures (`cache.ts`, part 5):
 *
 * - after a write through another process (client B, cache-writer.ts), the
 *   time until the cache of process A (this process) serves the new version,
 *   polling A's cached read; several models ("lanes") at once, one write in
 *   flight per model;
 * - with a consistency token: write through gateway A, read through gateway
 *   B with `X-Modelreg-Revision`, compare etags (and the same without the
 *   token, to show what the token prevents).
 */
import { type Counters, cachedClient, delta, plainClient, waitCurrent } from "./cache-client";
import type { Writer } from "./cache-procs";
import { createModel } from "./cache-protection";
import { quantile } from "./load/stats";

const now = () => performance.timeOrigin + performance.now();
const tick = () => new Promise((resolve) => setImmediate(resolve));

export interface StalenessResult {
  readonly setup: string;
  readonly writes: number;
  readonly lanes: number;
  /** Ascending, ms from the writer's answer to A's first read of the new version (0 when A was first). */
  readonly sortedMs: number[];
  /** Writes whose new version A served before the writer had its answer. */
  readonly seenBeforeAck: number;
  /** Reads of A that answered a version other than the one written (should be 0). */
  readonly wrongVersion: number;
  /** The first few of those: the etag A served before the write, the one it then served, the one written. */
  readonly wrongVersions: { old: string; seen: string; written: string }[];
  readonly cache: Counters;
  readonly ms: number;
}

/**
 * `writes` writes through `writer` (B) spread over `lanes` models, one at a
 * time per model; A (a cached client on `readTarget`) polls its read of the
 * model until it answers the new etag.
 */
export async function staleness(
  setup: string,
  writeTarget: string,
  readTarget: string,
  writer: Writer,
  options: { writes: number; lanes: number; timeoutMs?: number },
): Promise<StalenessResult> {
  const creator = plainClient(writeTarget);
  const run = Date.now().toString(36);
  const ids = await Promise.all(
    Array.from({ length: options.lanes }, (_, i) => createModel(creator, `stale-${run}-${i}`)),
  );
  creator.close();
  const a = cachedClient(readTarget, true);
  const timeoutMs = options.timeoutMs ?? 10_000;
  try {
    await waitCurrent(a, ids[0] as string);
    for (const id of ids) await a.client.getModel({ id });
    const stats = a.stats();
    const samples: number[] = [];
    let seenBeforeAck = 0;
    let wrongVersion = 0;
    const wrongVersions: StalenessResult["wrongVersions"] = [];
    let seq = 0;
    const started = performance.now();
    const lane = async (id: string) => {
      while (seq < options.writes) {
        const mySeq = seq++;
        const old = (await a.client.getModel({ id })).etag;
        const ack = writer.write(id, mySeq);
        let seenAt = 0;
        let seen = old;
        for (const deadline = now() + timeoutMs; seen === old; await tick()) {
          seen = (await a.client.getModel({ id })).etag;
          seenAt = now();
          if (seenAt > deadline) throw new Error(`${setup}: A still served ${old} after ${timeoutMs} ms`);
        }
        const written = await ack;
        if (seen !== written.etag && wrongVersion++ < 5)
          wrongVersions.push({ old, seen, written: written.etag });
        if (seenAt < written.ackAt) seenBeforeAck++;
        samples.push(Math.max(0, seenAt - written.ackAt));
      }
    };
    await Promise.all(ids.map(lane));
    return {
      setup,
      writes: samples.length,
      lanes: options.lanes,
      sortedMs: samples.sort((x, y) => x - y),
      seenBeforeAck,
      wrongVersion,
      wrongVersions,
      cache: delta(stats, a.stats()),
      ms: performance.now() - started,
    };
  } finally {
    a.client.close();
  }
}

export const p = (sorted: readonly number[], q: number) => quantile(sorted, q);

export interface TokenResult {
  readonly withToken: boolean;
  readonly pairs: number;
  /** Models written and read at once (one pair in flight per model). */
  readonly lanes: number;
  readonly stale: number;
  /** Writes answered without an X-Modelreg-Revision header. */
  readonly missingToken: number;
  readonly failed: number;
  readonly firstFailure?: string;
  readonly ms: number;
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { raw: text.slice(0, 200) };
  }
}

/** One write via A then one read via B of the same model; whether B answered what was written. */
async function pair(a: string, b: string, id: string, seq: number, withToken: boolean) {
  const written = await fetch(`${a}/api/v1/models/${id}:updateMetadata`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ set: { seq: String(seq) } }),
  });
  const model = await json(written);
  if (written.status !== 200) throw new Error(`write via A: HTTP ${written.status} ${JSON.stringify(model)}`);
  const token = written.headers.get("x-modelreg-revision");
  const read = await fetch(`${b}/api/v1/models/${id}`, {
    headers: withToken && token ? { "x-modelreg-revision": token } : {},
  });
  const answer = await json(read);
  if (read.status !== 200) throw new Error(`read via B: HTTP ${read.status} ${JSON.stringify(answer)}`);
  return { stale: answer.etag !== model.etag, missingToken: token === null };
}

/**
 * `pairs` write-then-read pairs over `lanes` models (one pair in flight per
 * model): write through gateway `a`, read through gateway `b`, with or
 * without the write's X-Modelreg-Revision on the read. B has every model
 * cached before.
 */
export async function tokenPairs(
  registryTarget: string,
  a: string,
  b: string,
  options: { pairs: number; lanes: number; withToken: boolean },
): Promise<TokenResult> {
  const creator = plainClient(registryTarget);
  const run = Date.now().toString(36);
  const ids = await Promise.all(
    Array.from({ length: options.lanes }, (_, i) => createModel(creator, `token-${run}-${i}`)),
  );
  creator.close();
  for (const id of ids) for (const base of [a, b]) await (await fetch(`${base}/api/v1/models/${id}`)).text();
  let next = 0;
  const result = { stale: 0, missingToken: 0, failed: 0, firstFailure: undefined as string | undefined };
  const started = performance.now();
  await Promise.all(
    ids.map(async (id) => {
      while (next < options.pairs) {
        const seq = next++;
        try {
          const outcome = await pair(a, b, id, seq, options.withToken);
          if (outcome.stale) result.stale++;
          if (outcome.missingToken) result.missingToken++;
        } catch (error) {
          result.failed++;
          result.firstFailure ??= (error as Error).message;
        }
      }
    }),
  );
  return {
    withToken: options.withToken,
    pairs: options.pairs,
    lanes: options.lanes,
    stale: result.stale,
    missingToken: result.missingToken,
    failed: result.failed,
    ...(result.firstFailure ? { firstFailure: result.firstFailure } : {}),
    ms: performance.now() - started,
  };
}
