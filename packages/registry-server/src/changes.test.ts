// ChangeFeed on its own, over the memory storage adapter: the window's
// bounds, what it answers for cursors before, inside and at its head, and
// that callers starting together share one storage read.
import { Code, type WatchModelsRequest, WatchModelsResponse } from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { until } from "../../../test-support/waiting";
import { ChangeFeed, FeedEntry } from "./changes";
import type { CallContext } from "./context";
import type { ServiceDeps } from "./service/deps";
import { watchHandlers } from "./service/watch";
import type { StorageAdapter } from "./storage/adapter";
import { createMemoryStorage } from "./storage/memory";
import { makeModelRecord } from "./testing/fixtures";

function countingReads(storage: StorageAdapter) {
  const counter = { reads: 0 };
  const readChanges = storage.readChanges.bind(storage);
  storage.readChanges = (after, limit, options) => {
    counter.reads++;
    return readChanges(after, limit, options);
  };
  return counter;
}

const insertModels = async (storage: StorageAdapter, count: number) => {
  for (let i = 0; i < count; i++) await storage.insert(makeModelRecord());
};

describe("ChangeFeed", () => {
  it("keeps at most `windowChanges` of the latest changes; older cursors are sent to storage", async () => {
    const storage = createMemoryStorage();
    const feed = new ChangeFeed(storage, 60_000, { windowChanges: 10 });
    const signal = new AbortController().signal;
    expect(await feed.sync(signal)).toBe(0);
    await insertModels(storage, 25);
    // 25 changes: the feed reads them and keeps the last 10 (revisions 16 to 25).
    expect(await feed.sync(signal)).toBe(25);
    expect(feed.windowSize).toBe(10);
    expect(feed.next(14)).toEqual({ kind: "behind" });
    const step = feed.next(15);
    expect(step.kind === "change" && step.entry.change.revision).toBe(16);
    expect(feed.covers(15)).toBe(true);
    expect(feed.covers(14)).toBe(false);
    expect(feed.next(25)).toEqual({ kind: "current" });
    feed.close();
  });

  it("callers syncing together share one storage read; a waiting watch is woken by a notified write", async () => {
    const storage = createMemoryStorage();
    const counter = countingReads(storage);
    const feed = new ChangeFeed(storage, 60_000);
    const signal = new AbortController().signal;
    const heads = await Promise.all(
      Array.from({ length: 50 }, () => feed.sync(new AbortController().signal)),
    );
    expect(heads.every((head) => head === 0)).toBe(true);
    expect(counter.reads).toBeLessThanOrEqual(2);
    const woken = feed.waitForChange(0, 60_000, signal);
    await insertModels(storage, 1);
    feed.notify();
    await woken;
    const step = feed.next(0);
    expect(step.kind === "change" && step.entry.change.type).toBe("created");
    feed.close();
  });

  it("a closed feed no longer polls, and waits out timeouts instead of returning at once", async () => {
    const storage = createMemoryStorage();
    const counter = countingReads(storage);
    const feed = new ChangeFeed(storage, 10);
    feed.close();
    const signal = new AbortController().signal;
    expect(await feed.sync(signal)).toBeUndefined();
    const started = Date.now();
    await feed.waitForChange(0, 50, signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(counter.reads).toBe(0);
  });
});

/** A watch run by the real handler over `deps`: what it was sent, and how it ended. */
function startWatch(deps: ServiceDeps, request: Partial<WatchModelsRequest> = {}, block = false) {
  const abort = new AbortController();
  const watch = {
    progress: 0,
    events: [] as string[],
    outcome: undefined as unknown,
    ended: false,
    release: () => {},
    abort: () => abort.abort(),
  };
  const responses = {
    async send(message: unknown) {
      if (!Buffer.isBuffer(message)) {
        watch.progress++;
        return;
      }
      const { event, revision } = WatchModelsResponse.fromBinary(message);
      watch.events.push(`${revision}:${event?.model?.name}`);
      if (block && watch.events.length === 1) await new Promise<void>((r) => (watch.release = r));
    },
  };
  const handlers = watchHandlers(deps);
  const context = { signal: abort.signal } as CallContext;
  handlers.watchModels(request as WatchModelsRequest, responses as never, context).then(
    () => Object.assign(watch, { ended: true }),
    (error: unknown) => Object.assign(watch, { ended: true, outcome: error }),
  );
  return watch;
}

const depsOf = (
  storage: StorageAdapter,
  feed: ChangeFeed,
  pollIntervalMs: number,
  progressIntervalMs: number,
) => ({ storage, feed, settings: { pollIntervalMs, progressIntervalMs } }) as unknown as ServiceDeps;

describe("ChangeFeed under WatchModels", () => {
  it("one failed poll among successful ones ends no quiet watch", async () => {
    const storage = createMemoryStorage();
    await insertModels(storage, 3);
    const state = { failNext: false, failed: false };
    const readChanges = storage.readChanges.bind(storage);
    storage.readChanges = async (after, limit, options) => {
      if (state.failNext) {
        Object.assign(state, { failNext: false, failed: true });
        throw new Error("one transient failure");
      }
      return readChanges(after, limit, options);
    };
    // The feed polls every 100 ms; the watches' limit is progress + 2 x the server's poll interval
    // (1,100 ms here, far above the ~200 ms without a successful poll that one failure makes).
    const feed = new ChangeFeed(storage, 100);
    const watches = Array.from({ length: 20 }, () => startWatch(depsOf(storage, feed, 500, 100)));
    await until(() => watches.every((w) => w.progress >= 3 || w.ended), "every watch got progress");
    state.failNext = true;
    await until(() => state.failed, "a feed poll failed");
    const seen = watches.map((w) => w.progress);
    await until(
      () => watches.every((w, i) => w.ended || w.progress >= (seen[i] ?? 0) + 3),
      "every watch got three more progress notifications after the failure, or ended",
    );
    for (const watch of watches) watch.abort();
    feed.close();
    expect(watches.filter((w) => w.ended && w.outcome !== undefined).map((w) => String(w.outcome))).toEqual(
      [],
    );
  });

  it("a hung feed read fails after the feed's read timeout: a starting watch reads storage itself", async () => {
    const storage = createMemoryStorage();
    await insertModels(storage, 2);
    const state = { hangNext: false, hung: false, readsAfterHang: 0 };
    const readChanges = storage.readChanges.bind(storage);
    storage.readChanges = (after, limit, options) => {
      if (state.hung) state.readsAfterHang++;
      if (!state.hangNext) return readChanges(after, limit, options);
      Object.assign(state, { hangNext: false, hung: true });
      return new Promise(() => {}); // a statement that never answers, deadline or not
    };
    const feed = new ChangeFeed(storage, 100);
    const signal = new AbortController().signal;
    expect(await feed.sync(signal)).toBe(2);
    state.hangNext = true;
    const watch = startWatch(depsOf(storage, feed, 100, 200));
    await until(() => watch.progress >= 1 || watch.ended, "the watch sent its first message", {
      timeoutMs: 30_000,
    });
    expect(watch.ended).toBe(false);
    expect(state.hung).toBe(true);
    // The feed gives up on the hung read and polls again; the watch keeps getting progress.
    await until(() => state.readsAfterHang >= 3 && watch.progress >= 3, "the feed polled again", {
      timeoutMs: 30_000,
    });
    expect(watch.ended).toBe(false);
    watch.abort();
    feed.close();
  }, 60_000);

  it("a history restored below a blocked watcher and moved forward again ends it REVISION_AHEAD", async () => {
    const storage = createMemoryStorage();
    const change = (revision: number, tag: string) => ({
      revision,
      type: "created" as const,
      model: makeModelRecord({ name: `${tag}-${revision}` }),
      commitTime: revision * 1000,
      actor: "a",
      requestId: "",
    });
    let history = Array.from({ length: 100 }, (_, i) => change(i + 1, "old"));
    storage.readChanges = async (after, limit) => ({
      changes: history.filter((c) => c.revision > after).slice(0, limit),
      latestRevision: history.at(-1)?.revision ?? 0,
      prunedThrough: 0,
    });
    const feed = new ChangeFeed(storage, 60_000);
    const signal = new AbortController().signal;
    const watch = startWatch(depsOf(storage, feed, 60_000, 60_000), {}, true);
    await until(() => watch.progress === 1, "the watch started");
    history.push(change(101, "old"));
    feed.notify();
    await until(() => watch.events.length === 1, "the watch is blocked sending revision 101");
    history = history.slice(0, 90); // the database restored to revision 90
    expect(await feed.sync(signal)).toBe(90);
    for (let revision = 91; revision <= 110; revision++) history.push(change(revision, "NEW"));
    expect(await feed.sync(signal)).toBe(110);
    watch.release();
    await until(() => watch.ended || watch.events.length > 1, "the watch ended or went on");
    watch.abort();
    feed.close();
    expect(watch.events).toEqual(["101:old-101"]);
    expect(watch.outcome).toMatchObject({ code: Code.OUT_OF_RANGE, reason: "REVISION_AHEAD" });
  });

  it("the window's byte bound counts the state before an update and its LEFT_FILTER encoding", async () => {
    const storage = createMemoryStorage();
    const model = makeModelRecord({ name: "big", metadata: { notes: "x".repeat(4000) } });
    const change = (revision: number, type: "created" | "updated") => ({
      revision,
      type,
      model,
      ...(type === "updated" ? { before: model } : {}),
      commitTime: revision * 1000,
      actor: "a",
      requestId: "",
    });
    const history = Array.from({ length: 10 }, (_, i) => change(i + 1, "updated"));
    let latest = 0;
    storage.readChanges = async (after, limit) => ({
      changes: history.filter((c) => c.revision > after && c.revision <= latest).slice(0, limit),
      latestRevision: latest,
      prunedThrough: 0,
    });
    // Room for ten creations of this model: ten updates (each holding the model twice) do not fit.
    const windowBytes = 10 * new FeedEntry(change(1, "created")).bytes;
    const feed = new ChangeFeed(storage, 60_000, { windowBytes });
    const signal = new AbortController().signal;
    expect(await feed.sync(signal)).toBe(0);
    latest = 10;
    expect(await feed.sync(signal)).toBe(10);
    expect(feed.windowSize).toBeGreaterThanOrEqual(1);
    expect(feed.windowSize).toBeLessThanOrEqual(6);
    feed.close();
  });

  it("a sync after a burst of several pages answers the latest revision, not the first page's end", async () => {
    const storage = createMemoryStorage();
    const feed = new ChangeFeed(storage, 60_000, { windowChanges: 10_000 });
    const signal = new AbortController().signal;
    expect(await feed.sync(signal)).toBe(0);
    await insertModels(storage, 600);
    expect(await feed.sync(signal)).toBe(600);
    expect(feed.windowSize).toBe(600);
    feed.close();
  });
});
