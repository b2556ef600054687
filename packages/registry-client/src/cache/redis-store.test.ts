import { randomBytes } from "node:crypto";
import { Code, RegistryError } from "@modelreg/proto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { redisUrl, requireRedis } from "../../../../test-support/redis";
import { closedPort } from "../../../../test-support/tcp-proxy";
import { until } from "../../../../test-support/waiting";
import { createRedisCacheStore, type RedisCacheStore } from "../redis";
import type { SharedCacheWrite } from "./types";

const redisAvailable = await requireRedis("redis-store.test.ts");

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A store on the tests' Redis under a prefix of its own (removed after the file). */
function freshStore(prefix = `modelreg-test:${randomBytes(6).toString("hex")}:`): RedisCacheStore {
  const store = createRedisCacheStore({ url: redisUrl, keyPrefix: prefix });
  cleanups.push(async () => {
    await store.clear();
    await store.close();
  });
  return store;
}

/** A plain connection to the tests' Redis, to look at what the store wrote. */
function rawClient(): Redis {
  const client = new Redis(redisUrl, { lazyConnect: true });
  client.on("error", () => {});
  cleanups.push(async () => client.disconnect());
  return client;
}

function write(key: string, revision: bigint, data: string | Uint8Array, ttlMs = 60_000): SharedCacheWrite {
  return { key, revision, data: typeof data === "string" ? new TextEncoder().encode(data) : data, ttlMs };
}

const text = (data: Uint8Array | undefined) =>
  data === undefined ? undefined : new TextDecoder().decode(data);

describe("createRedisCacheStore options", () => {
  it("names the wrong option in a TypeError", () => {
    expect(() => createRedisCacheStore({})).toThrow(/exactly one of options.url .* and options.client/);
    expect(() => createRedisCacheStore({ url: "not a url" })).toThrow(TypeError);
    expect(() => createRedisCacheStore({ url: "redis://h", keyPrefix: "" })).toThrow(/options.keyPrefix/);
    expect(() => createRedisCacheStore({ url: "redis://h", commandTimeoutMs: 0 })).toThrow(
      /options.commandTimeoutMs/,
    );
    expect(() => createRedisCacheStore({ url: "redis://h/db1" })).toThrow(/database number/);
    const client = new Redis({ lazyConnect: true });
    expect(() => createRedisCacheStore({ url: "redis://h", client })).toThrow(/exactly one/);
    expect(() => createRedisCacheStore({ client, connectTimeoutMs: 5 })).toThrow(/only with options.url/);
    client.disconnect();
  });

  it("never shows the URL's password in a message", async () => {
    const secret = "s3cret-pw";
    const bad = () => createRedisCacheStore({ url: `http://user:${secret}@127.0.0.1:6379/0` });
    expect(bad).toThrow(/redis: or rediss:/);
    expect(bad).not.toThrow(new RegExp(secret));
    // Nothing listens on the port: every call fails, naming the server but not the password.
    const port = await closedPort();
    const store = createRedisCacheStore({
      url: `redis://user:${secret}@127.0.0.1:${port}/0`,
      connectTimeoutMs: 500,
    });
    try {
      const error = await store.get(["id:x"]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as RegistryError).code).toBe(Code.UNAVAILABLE);
      expect((error as RegistryError).message).toContain(`redis://127.0.0.1:${port}/0`);
      expect((error as RegistryError).message).not.toContain(secret);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!redisAvailable)("Redis cache store (the tests' Redis)", () => {
  it("answers each key's entry in order, byte for byte, undefined for a key without one", async () => {
    const store = freshStore();
    const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
    await store.set([
      write("id:a", 7n, everyByte),
      write("id:empty", 1n, new Uint8Array()),
      write("nv:b\n1", 2n, "z"),
    ]);
    const [missing, a, empty, b] = await store.get(["id:none", "id:a", "id:empty", "nv:b\n1"]);
    expect(missing).toBeUndefined();
    expect(a?.revision).toBe(7n);
    expect(a?.data).toEqual(everyByte);
    expect(empty).toEqual({ revision: 1n, data: new Uint8Array() });
    expect(text(b?.data)).toBe("z");
    expect(await store.get([])).toEqual([]);
  });

  it("keeps an entry against writes of a lower or equal revision, and takes a higher one", async () => {
    const store = freshStore();
    await store.set([write("k", 10n, "ten")]);
    await store.set([write("k", 9n, "nine"), write("k", 10n, "other ten")]);
    expect(text((await store.get(["k"]))[0]?.data)).toBe("ten");
    await store.set([write("k", 11n, "eleven"), write("k", 2n, "two")]);
    const [entry] = await store.get(["k"]);
    expect(entry?.revision).toBe(11n);
    expect(text(entry?.data)).toBe("eleven");
    // Revisions compare as unsigned 64-bit numbers, not as the first byte.
    await store.set([write("big", 2n ** 63n + 5n, "high"), write("big", 256n, "low")]);
    expect((await store.get(["big"]))[0]?.revision).toBe(2n ** 63n + 5n);
  });

  it("ends with the highest revision of every key when two processes write at once", async () => {
    const prefix = `modelreg-test:${randomBytes(6).toString("hex")}:`;
    const [a, b] = [freshStore(prefix), freshStore(prefix)];
    const keys = Array.from({ length: 20 }, (_, i) => `id:${i}`);
    const shuffled = (revisions: bigint[]) => revisions.sort(() => Math.random() - 0.5);
    const rounds = (writer: string, revisions: bigint[]) =>
      shuffled(revisions).map((revision) => keys.map((key) => write(key, revision, `${writer}${revision}`)));
    // Each writer sends 30 calls of 20 keys in random revision order; a has the odd revisions, b the even.
    const odd = Array.from({ length: 30 }, (_, i) => BigInt(2 * i + 1));
    const even = Array.from({ length: 30 }, (_, i) => BigInt(2 * i + 2));
    await Promise.all([...rounds("a", odd).map((w) => a.set(w)), ...rounds("b", even).map((w) => b.set(w))]);
    for (const entry of await a.get(keys)) {
      expect(entry?.revision).toBe(60n);
      expect(text(entry?.data)).toBe("b60");
    }
  });

  it("gives every entry its time to live, and it is gone after it", async () => {
    const store = freshStore();
    await store.set([write("short", 1n, "x", 300), write("long", 1n, "y", 600_000)]);
    const raw = rawClient();
    const pttl = await raw.pttl(`${store.keyPrefix}e:long`);
    expect(pttl).toBeGreaterThan(300_000);
    expect(pttl).toBeLessThanOrEqual(600_000);
    await until(async () => (await store.get(["short"]))[0] === undefined, "the short entry expired");
    expect(text((await store.get(["long"]))[0]?.data)).toBe("y");
  });

  it("writes a call of more writes than one script takes", async () => {
    const store = freshStore();
    const writes = Array.from({ length: 1300 }, (_, i) => write(`id:${i}`, BigInt(i + 1), `m${i}`));
    await store.set(writes);
    const entries = await store.get(writes.map((w) => w.key));
    expect(entries.map((e) => text(e?.data))).toEqual(writes.map((_, i) => `m${i}`));
  });

  it("drops a fill below the applied revision or without one, so a cleared newer entry does not come back older", async () => {
    const store = freshStore();
    const fill = (key: string, revision: bigint, data: string) => ({
      ...write(key, revision, data),
      fill: true,
    });
    // No applied revision (new, or just cleared): a fill is dropped, a change event's write is kept.
    await store.set([fill("id:f", 10n, "fill"), write("id:e", 10n, "event")]);
    expect((await store.get(["id:f", "id:e"])).map((e) => text(e?.data))).toEqual([undefined, "event"]);
    await store.markApplied(11n);
    // The scenario: a process at revision 10 read before the change at 11, whose entry was then removed.
    await store.set([fill("id:k", 10n, "etag 1, read at 10")]);
    expect(await store.get(["id:k"])).toEqual([undefined]);
    // A fill at (or past) the applied revision is stored, set-if-newer as any write.
    await store.set([fill("id:k", 11n, "etag 2, read at 11"), fill("id:j", 12n, "at 12")]);
    expect((await store.get(["id:k", "id:j"])).map((e) => text(e?.data))).toEqual([
      "etag 2, read at 11",
      "at 12",
    ]);
  });

  it("keeps the highest applied revision, undefined before any", async () => {
    const prefix = `modelreg-test:${randomBytes(6).toString("hex")}:`;
    const [a, b] = [freshStore(prefix), freshStore(prefix)];
    expect(await a.appliedRevision()).toBeUndefined();
    await a.markApplied(99n);
    await b.markApplied(100n);
    await a.markApplied(98n);
    expect(await b.appliedRevision()).toBe(100n);
    const revisions = Array.from({ length: 200 }, (_, i) => BigInt(i * 37 + 1));
    await Promise.all(revisions.map((r, i) => (i % 2 ? a : b).markApplied(r)));
    expect(await a.appliedRevision()).toBe(199n * 37n + 1n);
    await a.markApplied(2n ** 64n - 1n);
    expect(await b.appliedRevision()).toBe(2n ** 64n - 1n);
    await expect(a.markApplied(-1n)).rejects.toThrow(TypeError);
  });

  it("clear() removes every entry and the applied revision under its prefix, and no other key", async () => {
    const base = `modelreg-test:${randomBytes(6).toString("hex")}`;
    // Glob characters in the prefix are matched literally.
    const store = freshStore(`${base}:[a]*:`);
    const sibling = freshStore(`${base}:a1:`);
    const writes = Array.from({ length: 2500 }, (_, i) => write(`id:${i}`, 1n, "x"));
    await Promise.all([store.set(writes), sibling.set(writes.slice(0, 3))]);
    await Promise.all([store.markApplied(5n), sibling.markApplied(6n)]);
    await store.clear();
    const raw = rawClient();
    expect(await raw.keys(`${base}:\\[a\\]\\**`)).toEqual([]);
    expect(await store.appliedRevision()).toBeUndefined();
    expect(await store.get(["id:0", "id:2499"])).toEqual([undefined, undefined]);
    expect((await sibling.get(["id:0", "id:1", "id:2"])).map((e) => text(e?.data))).toEqual(["x", "x", "x"]);
    expect(await sibling.appliedRevision()).toBe(6n);
    await store.set([write("id:0", 1n, "again")]);
    expect(text((await store.get(["id:0"]))[0]?.data)).toBe("again");
  });

  it("works on a client of your own, which close() leaves open, keyPrefix included", async () => {
    const client = new Redis(redisUrl, { keyPrefix: "modelreg-test:own:" });
    cleanups.push(async () => client.disconnect());
    const store = createRedisCacheStore({ client, keyPrefix: `${randomBytes(6).toString("hex")}:` });
    await store.set([write("id:a", 3n, "a")]);
    await store.markApplied(3n);
    expect(text((await store.get(["id:a"]))[0]?.data)).toBe("a");
    await store.clear();
    expect(await store.get(["id:a"])).toEqual([undefined]);
    expect(await store.appliedRevision()).toBeUndefined();
    await store.close();
    await store.close();
    expect(await client.ping()).toBe("PONG");
    await expect(store.get(["id:a"])).rejects.toThrow(/after close\(\)/);
  });

  it("rejects a malformed write with a TypeError naming it, writing none of the call", async () => {
    const store = freshStore();
    await expect(store.set([write("a", 1n, "x"), write("b", -1n, "y")])).rejects.toThrow(
      /writes\[1\].revision/,
    );
    await expect(store.set([write("a", 1n, "x", 0)])).rejects.toThrow(/writes\[0\].ttlMs/);
    await expect(store.set([write("", 1n, "x")])).rejects.toThrow(/writes\[0\].key/);
    expect(await store.get(["a"])).toEqual([undefined]);
  });
});
