// The shared change feed behind WatchModels, over real gRPC on SQLite and
// PostgreSQL: hundreds of watchers get every event once, in order; the
// storage reads per write do not grow with the number of watches; a slow
// watcher falls behind the shared window and catches up from storage; the
// history going back or being pruned under a watch ends it OUT_OF_RANGE; a
// feed whose polls fail ends the watches UNAVAILABLE; LEFT_FILTER and
// progress_interval.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, type Model, RegistryError, type WatchModelsResponse } from "@modelreg/proto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresUrl, requirePostgres } from "../../../test-support/sql-servers";
import { until } from "../../../test-support/waiting";
import { createRegistryServer, type RegistryServerOptions, type StorageAdapter } from "./index";
import { createPostgresStorage } from "./storage/postgres";
import { createSqliteStorage } from "./storage/sqlite";
import { createTestClient } from "./test-support/grpc-client";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const tmp = mkdtempSync(join(tmpdir(), "modelreg-feed-"));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(tmp, { recursive: true, force: true });
});
const postgresAvailable = await requirePostgres("packages/registry-server/src/watch-feed.test.ts");
let files = 0;

const sqlite = (retainChanges?: number) =>
  createSqliteStorage({
    path: join(tmp, `feed-${files++}.db`),
    synchronous: "NORMAL",
    ...(retainChanges ? { retainChanges, retainHistory: retainChanges } : {}),
  });

async function postgres(): Promise<StorageAdapter> {
  const schema = `modelreg_feed_${randomBytes(6).toString("hex")}`;
  cleanups.push(async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });
  return createPostgresStorage({ connectionString: postgresUrl, schema });
}

/**
 * A thin delegating adapter: counts `readChanges` calls (and the `after`
 * of each), can switch to another adapter (a database failed over to a
 * replica that lost commits) and can fail every call (the database away).
 */
function counting(initial: StorageAdapter) {
  const state = { target: initial, reads: 0, afters: [] as number[], down: false };
  const proxy = new Proxy(initial, {
    get(_, name) {
      if (name === "readChanges") {
        return (...args: Parameters<StorageAdapter["readChanges"]>) => {
          state.reads++;
          state.afters.push(args[0]);
          if (state.down) return Promise.reject(new RegistryError(Code.UNAVAILABLE, "The database is away."));
          return state.target.readChanges(...args);
        };
      }
      const value = Reflect.get(state.target, name);
      return typeof value === "function" ? value.bind(state.target) : value;
    },
  });
  return { storage: proxy as StorageAdapter, state };
}

async function startServer(storage: StorageAdapter, extra: Partial<RegistryServerOptions> = {}) {
  const server = createRegistryServer({
    storage,
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: silent,
    admission: false,
    ...extra,
  });
  const { port } = await server.listen();
  const client = createTestClient(`127.0.0.1:${port}`);
  const stop = async () => {
    client.close();
    await server.shutdown({ graceMs: 1000 });
    await storage.close();
  };
  return { client, port, stop };
}

type Client = ReturnType<typeof createTestClient>;
type Watch = ReturnType<Client["watch"]>;

const create = (client: Client, model: Partial<Model>) =>
  client.call<{ model: Model }>("CreateModel", { model }).then((r) => r.model);

/** The revisions of the events a watch received (progress notifications left out). */
const revisions = (messages: readonly WatchModelsResponse[]) =>
  messages.flatMap((m) => (m.event ? [Number(m.revision)] : []));

const eventCount = (watch: Watch) => watch.received.filter((m) => m.event).length;

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const databases = [
  ["sqlite", true, () => sqlite()],
  ["postgres", postgresAvailable, postgres],
] as const;

describe.each(databases)("the change feed on %s", (_name, available, open) => {
  it.runIf(available)(
    "200 watchers each receive every event once, in order, while a writer writes",
    async () => {
      const { client, stop } = await startServer(await open());
      try {
        const watches = Array.from({ length: 200 }, () => client.watch({}));
        await until(() => watches.every((w) => w.received.length >= 1), "every watch started");
        const writes = 60;
        for (let i = 0; i < writes / 2; i++) {
          const model = await create(client, { name: `m${i}`, version: "1" });
          await client.call("AddModelTags", { id: model.id, tags: ["t"] });
        }
        await until(() => watches.every((w) => eventCount(w) >= writes), "every watch got every event", {
          timeoutMs: 60_000,
        });
        for (const watch of watches) {
          expect(revisions(watch.received)).toEqual(range(1, writes));
          watch.cancel();
        }
      } finally {
        await stop();
      }
    },
    90_000,
  );

  it.runIf(available)(
    "storage reads per write do not grow with the number of watches (1 vs 100)",
    async () => {
      /** readChanges calls made while `writes` writes reach `watchers` watchers. */
      const readsDuringWrites = async (watchers: number, writes: number) => {
        const { storage, state } = counting(await open());
        // No timed polls in the way: every read is the feed's answer to a write (or a watch's own).
        const { client, stop } = await startServer(storage, { streams: { pollIntervalMs: 600_000 } });
        try {
          const watches = Array.from({ length: watchers }, () => client.watch({}));
          await until(() => watches.every((w) => w.received.length >= 1), "every watch started");
          const before = state.reads;
          for (let i = 0; i < writes; i++) {
            await create(client, { name: `m${i}`, version: "1" });
            await until(() => watches.every((w) => eventCount(w) > i), `every watch got write ${i + 1}`);
          }
          return state.reads - before;
        } finally {
          await stop();
        }
      };
      const writes = 20;
      const one = await readsDuringWrites(1, writes);
      const hundred = await readsDuringWrites(100, writes);
      process.stdout.write(
        `[measured] readChanges calls for ${writes} writes: 1 watch ${one}, 100 watches ${hundred}\n`,
      );
      // About one feed read per write, whatever the number of watches (it was one per watch per write).
      expect(one).toBeLessThanOrEqual(writes + 2);
      expect(hundred).toBeLessThanOrEqual(writes + 2);
    },
    90_000,
  );
});

describe("the change feed's window", () => {
  /** A watcher on its own connection that reads one message and then nothing (HTTP/2 fills up). */
  const stalledWatcher = async (port: number) => {
    const watcher = createTestClient(`127.0.0.1:${port}`, { "grpc.use_local_subchannel_pool": 1 });
    const watch = watcher.watch({ afterRevision: 0n });
    await watch.waitFor(1);
    watch.stream.pause();
    return { watch, close: () => watcher.close() };
  };
  const description = "x".repeat(2000);
  const total = 5000;
  const importAll = (client: Client) =>
    client.importModels(
      Array.from({ length: total }, (_, i) => ({ model: { name: `m${i}`, version: "1", description } })),
      120_000,
    );

  it("a slow watcher falls behind the shared window, catches up from storage and misses nothing", async () => {
    const { storage, state } = counting(await sqlite());
    const { client, port, stop } = await startServer(storage, { streams: { watchStallTimeoutMs: 120_000 } });
    const slow = await stalledWatcher(port);
    try {
      const fast = client.watch({ afterRevision: 0n });
      expect(await importAll(client)).toMatchObject({ createdCount: total });
      await until(() => eventCount(fast) >= total, "the fast watcher got everything", { timeoutMs: 60_000 });
      const readsBefore = state.afters.length;
      slow.watch.stream.resume();
      await until(() => eventCount(slow.watch) >= total, "the slow watcher got everything", {
        timeoutMs: 60_000,
      });
      expect(revisions(slow.watch.received)).toEqual(range(1, total));
      expect(revisions(fast.received)).toEqual(range(1, total));
      // It read storage itself from before the window (which holds at most 4096 changes).
      expect(state.afters.slice(readsBefore).some((after) => after < total - 4096)).toBe(true);
      slow.watch.cancel();
      fast.cancel();
    } finally {
      slow.close();
      await stop();
    }
  }, 120_000);

  it("a slow watcher whose changes were pruned meanwhile ends OUT_OF_RANGE (REVISION_PRUNED)", async () => {
    const { client, port, stop } = await startServer(await sqlite(500), {
      streams: { watchStallTimeoutMs: 120_000 },
    });
    const slow = await stalledWatcher(port);
    try {
      const fast = client.watch({ afterRevision: 0n });
      await importAll(client);
      await until(() => eventCount(fast) >= total, "the fast watcher got everything", { timeoutMs: 60_000 });
      slow.watch.stream.resume();
      const error = await slow.watch.ended;
      expect(error?.code).toBe(Code.OUT_OF_RANGE);
      expect(error?.reason).toBe("REVISION_PRUNED");
      // Up to where it was cut, in order and complete.
      const got = revisions(slow.watch.received);
      expect(got).toEqual(range(1, got.length));
      fast.cancel();
    } finally {
      slow.close();
      await stop();
    }
  }, 120_000);
});

describe("the change feed and the database", () => {
  it("history going back under the watches (a restored database) ends them OUT_OF_RANGE (REVISION_AHEAD)", async () => {
    // The replica: the same first 5 writes, then nothing.
    const restored = await sqlite();
    const replica = createRegistryServer({ storage: restored, insecure: true, port: 0, logger: silent });
    const replicaClient = createTestClient(`127.0.0.1:${(await replica.listen()).port}`);
    for (let i = 0; i < 5; i++) await create(replicaClient, { name: `m${i}`, version: "1" });
    replicaClient.close();
    await replica.shutdown({ graceMs: 0 });
    const { storage, state } = counting(await sqlite());
    const { client, stop } = await startServer(storage, { streams: { pollIntervalMs: 50 } });
    try {
      for (let i = 0; i < 10; i++) await create(client, { name: `m${i}`, version: "1" });
      const watches = [client.watch({}), client.watch({ afterRevision: 3n })];
      await until(() => eventCount(watches[1] as Watch) >= 7, "the resumed watch caught up");
      await watches[0]?.waitFor(1);
      state.target = restored; // failed over to a replica that lost revisions 6 to 10
      for (const watch of watches) {
        const error = await watch.ended;
        expect(error?.code).toBe(Code.OUT_OF_RANGE);
        expect(error?.reason).toBe("REVISION_AHEAD");
        expect(error?.message).toMatch(/went back from revision 10 to 5/);
      }
    } finally {
      await stop();
      await restored.close();
    }
  });

  it("a feed whose polls fail ends idle watches with the storage error (UNAVAILABLE), not silence", async () => {
    const { storage, state } = counting(await sqlite());
    const { client, stop } = await startServer(storage, { streams: { pollIntervalMs: 50 } });
    try {
      const watches = Array.from({ length: 3 }, () =>
        client.watch({ progressInterval: { seconds: 0n, nanos: 200e6 } }),
      );
      await Promise.all(watches.map((w) => w.waitFor(1)));
      state.down = true;
      for (const watch of watches) {
        const error = await watch.ended;
        expect(error?.code).toBe(Code.UNAVAILABLE);
      }
    } finally {
      await stop();
    }
  });
});
