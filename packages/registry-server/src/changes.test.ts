// ChangeFeed on its own, over the memory storage adapter: the window's
// bounds, what it answers for cursors before, inside and at its head, and
// that callers starting together share one storage read.
import { describe, expect, it } from "vitest";
import { ChangeFeed } from "./changes";
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
