// Unit tests of the cache's parts on their own: L1's fill checks, the single
// flight's limits, and the shared level's bookkeeping against an in-memory
// store (the real one is Redis: see shared-cache.test.ts).
import { Code, Model } from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { until } from "../../../../test-support/waiting";
import { modelEntry } from "./entries";
import { Flights } from "./flights";
import { LocalLevel } from "./l1";
import { SharedLevel } from "./shared-level";
import type { SharedCacheEntry, SharedCacheStore, SharedCacheWrite } from "./types";

const model = (etag: number, description = "") =>
  Model.create({ id: "m1", name: "n", version: "1", etag: `"${etag}"`, description });

describe("L1", () => {
  it("does not store a fill whose key changed while it was in flight", () => {
    const l1 = new LocalLevel(1 << 20);
    const ticket = l1.open(5n);
    l1.apply("id:m1", modelEntry(model(2, "event"), 6n), "event");
    expect(l1.fill("id:m1", modelEntry(model(1, "stale read"), 5n), ticket)).toBe(false);
    expect(l1.fill("id:other", { kind: "pointer", id: "m1", revision: 5n }, ticket)).toBe(true);
    l1.close(ticket);
    const entry = l1.get("id:m1");
    expect(entry?.kind === "model" && entry.model.description).toBe("event");
  });

  it("orders two states of one model by its etag, whatever their revision tags", () => {
    const l1 = new LocalLevel(1 << 20);
    // A no-op write's header names the latest revision, with the model as it was.
    l1.apply("id:m1", modelEntry(model(3, "newer"), 10n, true), "write");
    l1.apply("id:m1", modelEntry(model(2, "older"), 20n, true), "write");
    const entry = l1.get("id:m1");
    expect(entry?.kind === "model" && entry.model.description).toBe("newer");
  });

  it("does not store a fill sent before a reset", () => {
    const l1 = new LocalLevel(1 << 20);
    const ticket = l1.open(1n);
    l1.clear();
    expect(l1.fill("id:m1", modelEntry(model(1), 1n), ticket)).toBe(false);
  });
});

describe("Flights", () => {
  it("runs at most `limit` reads at once and shares one per key", async () => {
    const flights = new Flights(2);
    let running = 0;
    let most = 0;
    const read = async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return running;
    };
    const same = [flights.run("k", 1n, undefined, read), flights.run("k", 1n, undefined, read)];
    expect(same[0]).toBe(same[1]);
    await Promise.all([...same, ...["a", "b", "c", "d"].map((k) => flights.run(k, 1n, undefined, read))]);
    expect(most).toBe(2);
  });

  it("does not let a caller with a newer minRevision share an older read", async () => {
    const flights = new Flights(4);
    const first = flights.run("k", 5n, undefined, () => new Promise((r) => setTimeout(() => r("old"), 20)));
    expect(flights.joinable("k", 5n)).toBe(true);
    expect(flights.joinable("k", 6n)).toBe(false);
    const second = flights.run("k", 6n, 6n, async () => "new");
    expect(await second).toBe("new");
    expect(await first).toBe("old");
  });
});

describe("Flights' queue", () => {
  /** A read that runs until `finish` is called; `started` says whether it was sent. */
  function blocked() {
    let finish = () => {};
    const state = { started: false, finish: () => finish() };
    const read = () =>
      new Promise<string>((resolve) => {
        state.started = true;
        finish = () => resolve("done");
      });
    return { state, read };
  }

  it("sends a read straight on when the queue is full, instead of queueing without bound", async () => {
    const flights = new Flights(1, 2);
    const reads = [blocked(), blocked(), blocked(), blocked()];
    const promises = reads.map((r, i) => flights.run(`k${i}`, 1n, undefined, r.read));
    expect(reads.map((r) => r.state.started)).toEqual([true, false, false, true]);
    expect(flights.queued).toBe(2);
    // Each finished read passes its slot to the next queued one.
    await until(() => {
      for (const r of reads) r.state.finish();
      return reads.every((r) => r.state.started);
    }, "the queued reads ran");
    for (const r of reads) r.state.finish();
    await Promise.all(promises);
  });

  it("drops a queued read once every caller gave up, and never sends it", async () => {
    const flights = new Flights(1);
    const first = blocked();
    const queued = blocked();
    const running = flights.run("a", 1n, undefined, first.read);
    const waiting = flights.run("b", 1n, undefined, queued.read);
    const joined = flights.run("b", 1n, undefined, queued.read);
    expect(joined).toBe(waiting);
    flights.leave(waiting);
    expect(flights.queued).toBe(1); // one caller still waits
    flights.leave(joined);
    expect(flights.queued).toBe(0);
    await expect(waiting).rejects.toMatchObject({ code: Code.CANCELLED });
    expect(flights.joinable("b", undefined)).toBe(false);
    first.state.finish();
    await running;
    expect(queued.state.started).toBe(false);
  });

  it("does not queue a read asked for while the cache is not serving (it still shares one per key)", async () => {
    const flights = new Flights(1);
    const first = blocked();
    const bypass = blocked();
    const running = flights.run("a", 1n, undefined, first.read);
    const direct = flights.run("b", 1n, undefined, bypass.read, { unlimited: true });
    expect(bypass.state.started).toBe(true);
    expect(flights.run("b", 1n, undefined, bypass.read, { unlimited: true })).toBe(direct);
    first.state.finish();
    bypass.state.finish();
    await Promise.all([running, direct]);
  });
});

/** A SharedCacheStore in memory, with the contract's set-if-newer, that can be made to fail. */
class MemoryStore implements SharedCacheStore {
  readonly entries = new Map<string, SharedCacheEntry>();
  applied: bigint | undefined;
  failing = false;
  clears = 0;
  readonly written: string[] = [];

  #check(): void {
    if (this.failing) throw new Error("store down");
  }
  async get(keys: readonly string[]) {
    this.#check();
    return keys.map((k) => this.entries.get(k));
  }
  async set(writes: readonly SharedCacheWrite[]) {
    this.#check();
    for (const w of writes) {
      const held = this.entries.get(w.key);
      if (!held || held.revision < w.revision)
        this.entries.set(w.key, { revision: w.revision, data: w.data });
      this.written.push(`${w.key}@${w.revision}`);
    }
  }
  async appliedRevision() {
    this.#check();
    return this.applied;
  }
  async markApplied(revision: bigint) {
    this.#check();
    if (this.applied === undefined || revision > this.applied) this.applied = revision;
  }
  async clear() {
    this.#check();
    this.entries.clear();
    this.applied = undefined;
    this.clears++;
  }
  async close() {}
}

const write = (key: string, revision: bigint): SharedCacheWrite => ({
  key,
  revision,
  data: new Uint8Array([4]),
  ttlMs: 60_000,
});

describe("the shared level's bookkeeping", () => {
  const level = (store: MemoryStore, maxBacklog = 100, behindWaitMs = 0) => {
    let errors = 0;
    const shared = new SharedLevel(store, {
      timeoutMs: 200,
      maxBacklog,
      behindWaitMs,
      onError: () => errors++,
    });
    return { shared, errors: () => errors };
  };

  it("starts where the store is exact, writes events in order and marks them applied", async () => {
    const store = new MemoryStore();
    store.applied = 10n;
    const { shared } = level(store);
    expect(await shared.startRevision()).toBe(10n);
    expect(shared.readable("a", 0n)).toBe(true);
    shared.event([write("a", 11n)], 11n);
    shared.event([write("a", 12n), write("b", 12n)], 12n);
    expect(shared.readable("a", 0n)).toBe(false);
    expect(shared.readable("c", 0n)).toBe(true);
    await until(() => store.applied === 12n, "the events are marked applied");
    expect(store.written).toEqual(["a@11", "a@12", "b@12"]);
    expect(shared.readable("a", 0n)).toBe(true);
    shared.close();
  });

  it("keeps events while the store fails and writes them, in order, when it answers", async () => {
    const store = new MemoryStore();
    store.applied = 1n;
    const { shared, errors } = level(store);
    await shared.startRevision();
    store.failing = true;
    shared.event([write("a", 2n)], 2n);
    await until(() => errors() > 0, "the failure is counted");
    shared.event([write("a", 3n)], 3n);
    expect(shared.readable("a", 0n)).toBe(false);
    store.failing = false;
    await until(() => shared.readable("a", 0n), "the store is readable again");
    expect(store.written).toEqual(["a@2", "a@3"]);
    expect(store.applied).toBe(3n);
    expect(store.clears).toBe(0);
    shared.close();
  });

  it("after its backlog overflowed, reads the store again only once it is proved or cleared", async () => {
    const store = new MemoryStore();
    store.applied = 1n;
    const { shared } = level(store, 2);
    await shared.startRevision();
    store.failing = true;
    shared.event([write("a", 2n), write("b", 2n)], 2n);
    shared.event([write("c", 3n)], 3n); // over the bound: dropped, the store must be proved from 3 on
    store.failing = false;
    // Nobody else brought the store to revision 3: it is cleared, then written from there.
    await until(() => shared.readable("x", 0n), "the store is readable again");
    expect(store.clears).toBe(1);
    shared.close();

    const kept = new MemoryStore();
    kept.applied = 1n;
    const second = level(kept, 2).shared;
    await second.startRevision();
    kept.failing = true;
    second.event([write("a", 2n), write("b", 2n)], 2n);
    second.event([write("c", 3n)], 3n);
    kept.applied = 5n; // another process kept the store up to date meanwhile
    kept.failing = false;
    await until(() => second.readable("x", 0n), "the store is readable again");
    expect(kept.clears).toBe(0);
    second.close();
  });

  it("clears a store without an applied revision when the watch starts from now", async () => {
    const store = new MemoryStore();
    store.entries.set("id:old", { revision: 1n, data: new Uint8Array([4]) });
    const { shared } = level(store);
    expect(await shared.startRevision()).toBeUndefined();
    shared.restart(50n);
    expect(shared.readable("x", 0n)).toBe(false);
    await until(() => shared.readable("x", 0n), "the store is readable");
    expect(store.entries.has("id:old")).toBe(false);
    // Marked at once: a process starting before the next change resumes from there, without a clear.
    expect(store.applied).toBe(50n);
    shared.close();
  });

  it("does not clear a store merely behind its start point while others bring it there", async () => {
    const store = new MemoryStore();
    store.applied = 10n;
    store.entries.set("id:kept", { revision: 9n, data: new Uint8Array([4]) });
    const { shared } = level(store, 100, 60_000);
    await shared.startRevision();
    // The watch started over from 20 (an apply error, a start-up timeout): the store is at 10.
    shared.restart(20n);
    // Before the fix the first sync round cleared it at once.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(shared.readable("x", 20n)).toBe(false);
    store.applied = 20n; // another process wrote its page up to 20
    await until(() => shared.readable("x", 20n), "the store is readable again");
    expect(store.clears).toBe(0);
    expect(store.entries.has("id:kept")).toBe(true);
    shared.close();
  });

  it("replays into a store nobody brings up, from its applied revision, instead of clearing it", async () => {
    const store = new MemoryStore();
    store.applied = 10n;
    store.entries.set("id:kept", { revision: 9n, data: new Uint8Array([4]) });
    const rewinds: bigint[] = [];
    const shared = new SharedLevel(store, {
      timeoutMs: 200,
      maxBacklog: 100,
      behindWaitMs: 0,
      onError: () => {},
      rewind: (after) => rewinds.push(after),
    });
    await shared.startRevision();
    shared.restart(20n);
    await until(() => rewinds.length === 1, "the watch is told to replay");
    expect(rewinds).toEqual([10n]);
    expect(store.clears).toBe(0);
    expect(store.entries.has("id:kept")).toBe(true);
    // The replayed events are written and marked as any others.
    shared.event([write("a", 11n)], 11n);
    await until(() => store.applied === 11n, "the replayed event is marked applied");
    expect(shared.readable("a", 11n)).toBe(true);
    shared.close();
  });

  it("clears the store after an OUT_OF_RANGE even when it claims to be current", async () => {
    const store = new MemoryStore();
    store.applied = 100n;
    store.entries.set("id:other-database", { revision: 90n, data: new Uint8Array([4]) });
    const { shared } = level(store);
    expect(await shared.startRevision()).toBe(100n);
    shared.restart(40n, true);
    await until(() => shared.readable("x", 0n), "the store is readable");
    expect(store.clears).toBe(1);
    expect(store.entries.size).toBe(0);
    shared.close();
  });
});
