import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Code, type Logger, RegistryError } from "@modelreg/proto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { runToEnd } from "../../../../test-support/readme-examples";
import {
  type RedisServerProcess,
  requireRedisServer,
  startRedisServer,
} from "../../../../test-support/redis";
import { startTcpProxy } from "../../../../test-support/tcp-proxy";
import { until, within } from "../../../../test-support/waiting";
import { createRedisCacheStore, type RedisCacheStore } from "../redis";
import type { SharedCacheWrite } from "./types";

const redisServerAvailable = await requireRedisServer("redis-store-outage.test.ts");

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** Generous: a call that has not settled by then hangs (the store's command timeout is 500 ms). */
const settleMs = 10_000;

const write = (key: string, revision: bigint, ttlMs = 60_000): SharedCacheWrite => ({
  key,
  revision,
  data: new TextEncoder().encode(`${key}@${revision}`),
  ttlMs,
});

/** What `promise` rejected with, failing the test if it resolved or had not settled after {@link settleMs}. */
async function rejection(promise: Promise<unknown>, what: string): Promise<RegistryError> {
  const outcome = await within(
    promise.then(
      () => undefined,
      (error: unknown) => error,
    ),
    settleMs,
    `${what} settling`,
  );
  expect(outcome, `${what} should have failed`).toBeInstanceOf(RegistryError);
  expect((outcome as RegistryError).code).toBe(Code.UNAVAILABLE);
  return outcome as RegistryError;
}

/** A logger that keeps the level and message of every warn and info line. */
function recordingLogger() {
  const lines: string[] = [];
  const record = (level: string) => (fields: unknown, message?: string) => {
    lines.push(`${level}: ${message ?? fields}`);
  };
  const logger = { debug() {}, info: record("info"), warn: record("warn"), error: record("error") } as Logger;
  return { logger, lines };
}

async function privateServer(extraArgs: readonly string[] = []): Promise<RedisServerProcess> {
  const server = await startRedisServer(extraArgs);
  cleanups.push(() => server.stop());
  return server;
}

function storeAt(url: string, logger?: Logger): RedisCacheStore {
  const store = createRedisCacheStore({ url, commandTimeoutMs: 500, maxReconnectDelayMs: 200, logger });
  cleanups.push(() => store.close());
  return store;
}

describe.skipIf(!redisServerAvailable)("Redis cache store while Redis goes away", { timeout: 60_000 }, () => {
  it("fails every call promptly while Redis is killed, and works again after it restarts, same store", async () => {
    const server = await privateServer();
    const { logger, lines } = recordingLogger();
    const store = storeAt(server.url, logger);
    await store.set([write("id:a", 1n)]);
    await store.markApplied(1n);
    expect((await store.get(["id:a"]))[0]?.revision).toBe(1n);

    // Calls in flight when the server dies settle too (answered or failed), none hangs.
    const inFlight = Array.from({ length: 50 }, (_, i) => store.set([write(`id:${i}`, 2n)]).catch(() => {}));
    await server.kill();
    await within(Promise.all(inFlight), settleMs, "calls in flight when Redis was killed settling");

    for (let round = 0; round < 5; round++) {
      await rejection(store.get(["id:a"]), "get while Redis is down");
      await rejection(store.set([write("id:a", 3n)]), "set while Redis is down");
      await rejection(store.appliedRevision(), "appliedRevision while Redis is down");
      await rejection(store.markApplied(3n), "markApplied while Redis is down");
      await rejection(store.clear(), "clear while Redis is down");
    }
    // The warning comes from the connection's close/error event, which Node 24 may emit after
    // calls already failed fast on the unwritable socket: wait for it, then check it came once.
    await until(() => lines.length > 0, "the outage logged");
    expect(lines).toEqual([expect.stringMatching(/^warn: Redis cache store unreachable/)]);

    await server.restart();
    await until(
      async () => (await store.get(["id:a"]))[0] === undefined,
      "the store answering after the restart",
    );
    // The restarted server is empty (nothing saved); the store writes and reads it again.
    await store.set([write("id:a", 4n)]);
    expect((await store.get(["id:a"]))[0]?.revision).toBe(4n);
    expect(await store.appliedRevision()).toBeUndefined();
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^info: Redis cache store reachable again/),
      expect.stringMatching(/^warn: .*restarted or failed over/),
    ]);
  });

  it("never answers an entry older than one it stored after Redis restarts from an older snapshot", async () => {
    const server = await privateServer();
    const store = storeAt(server.url);
    const raw = new Redis(server.url, { lazyConnect: true });
    raw.on("error", () => {});
    cleanups.push(async () => raw.disconnect());
    await store.set([write("id:a", 5n)]);
    await store.markApplied(5n);
    await raw.save();
    await store.set([write("id:a", 6n)]);
    await store.markApplied(6n);
    await server.kill();
    await server.restart();
    // The server came back with the snapshot: revision 5, which the store had replaced with 6.
    expect((await raw.getBuffer(`${store.keyPrefix}e:id:a`))?.readBigUInt64BE(0)).toBe(5n);
    // The first answer after the restart (calls fail until the store has reconnected) has no entry.
    const answers: (bigint | undefined)[] = [];
    await until(async () => {
      const [entry] = await store.get(["id:a"]);
      answers.push(entry?.revision);
      return true;
    }, "the store answering after the restart");
    expect(answers).toEqual([undefined]);
    expect(await store.appliedRevision()).toBeUndefined();
  });

  it("works with a server whose ACL refuses INFO (as some providers do)", async () => {
    const server = await privateServer(["--user", "default", "on", "nopass", "~*", "&*", "+@all", "-info"]);
    const store = storeAt(server.url);
    await store.set([write("id:a", 1n)]);
    expect((await store.get(["id:a"]))[0]?.revision).toBe(1n);
  });

  it("fails a call that gets no answer within the command timeout (a silent network), and recovers", async () => {
    const server = await privateServer();
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
    cleanups.push(() => proxy.close());
    const store = storeAt(`redis://127.0.0.1:${proxy.port}/0`);
    // The store connects on first use, not when created.
    expect(proxy.accepted()).toBe(0);
    await store.set([write("id:a", 1n)]);
    expect(proxy.accepted()).toBe(1);

    proxy.partition();
    const error = await rejection(store.get(["id:a"]), "get over a silent network");
    expect(error.message).toMatch(/timed out/i);
    proxy.heal();
    await until(
      async () => (await store.get(["id:a"]))[0]?.revision === 1n,
      "the store answering after the heal",
    );
  });

  it("closes its own connection: close() while Redis is down settles, and calls after it fail", async () => {
    const server = await privateServer();
    const store = storeAt(server.url);
    await store.set([write("id:a", 1n)]);
    await server.kill();
    await within(store.close(), settleMs, "close() while Redis is down");
    await within(store.close(), settleMs, "a second close()");
    await expect(store.get(["id:a"])).rejects.toThrow(/after close\(\)/);
  });
});

describe("@modelreg/registry-client/redis without ioredis installed", { timeout: 60_000 }, () => {
  it("imports, and says to install ioredis when a store is created", async () => {
    // A child process in which resolving "ioredis" fails, as it does where it is not installed.
    const dir = join(import.meta.dirname, "..", "..");
    const block = join(dir, `.no-ioredis-${process.pid}.cjs`);
    writeFileSync(
      block,
      `const Module = require("node:module");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "ioredis") throw Object.assign(new Error("Cannot find module 'ioredis'"), { code: "MODULE_NOT_FOUND" });
  return resolve.call(this, request, ...rest);
};`,
    );
    cleanups.push(async () => (await import("node:fs")).rmSync(block, { force: true }));
    const script = `
      const { createRedisCacheStore } = await import(${JSON.stringify(join(dir, "src", "redis.ts"))});
      try { createRedisCacheStore({ url: "redis://127.0.0.1:6379/0" }); console.log("created"); }
      catch (error) { console.log(error.name + ": " + error.message); }`;
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = spawn(
      process.execPath,
      ["--require", block, "--import", tsx, "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const { code, stdout, stderr } = await runToEnd(child);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("RegistryError: @modelreg/registry-client/redis needs the ioredis package");
    expect(stdout).toContain("npm install ioredis");
  });
});
