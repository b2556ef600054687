import { type ChildProcess, spawn } from "node:child_process";
import { getEventListeners } from "node:events";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import {
  createMemoryStorage,
  type RegistryServer,
  type RegistryServerOptions,
  type StorageAdapter,
} from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCertificates } from "../../../test-support/certs";
import { startTestRegistry } from "../../../test-support/registry";
import { startTcpProxy } from "../../../test-support/tcp-proxy";
import { until } from "../../../test-support/waiting";
import { Code, createRegistryClient, type RegistryClient, RegistryError } from "./index";
import { startConnected, stopConnected } from "./test-support/connected";
import { rejection } from "./test-support/rejection";

const startServer = (
  storage: StorageAdapter = createMemoryStorage(),
  extra: Partial<RegistryServerOptions> = {},
) => startTestRegistry({ ...extra, storage });

/** Starts the test server script in its own process (so it can be stopped with signals). */
async function startServerProcess(port = 0): Promise<{ child: ChildProcess; port: number }> {
  const tsx = createRequire(import.meta.url).resolve("tsx");
  const child = spawn(
    process.execPath,
    ["--import", tsx, join(import.meta.dirname, "test-support/server-process.ts"), String(port)],
    {
      stdio: ["ignore", "pipe", "inherit"],
      cwd: join(import.meta.dirname, "../../.."),
    },
  );
  const bound = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (line) =>
      resolve(JSON.parse(line).port),
    );
    child.once("exit", (code) => reject(new Error(`server process exited early (${code})`)));
  });
  return { child, port: bound };
}

describe("every method against a real server", () => {
  let server: RegistryServer;
  let client: RegistryClient;

  beforeAll(async () => {
    ({ server, client } = await startConnected());
  });
  afterAll(() => stopConnected({ server, client }));

  it("creates, reads, lists, edits and deletes", async () => {
    const created = await client.createModel({
      model: { name: "bert", version: "1.0.0", framework: "pytorch" },
    });
    expect(created).toMatchObject({ name: "bert", version: "1.0.0", etag: '"1"' });
    expect(await client.getModel({ id: created.id })).toEqual(created);
    expect(await client.lookupModel({ name: "bert", version: "1.0.0" })).toEqual(created);
    expect((await client.listModels({ filter: 'name = "bert"' })).models).toEqual([created]);
    expect(await client.batchGetModels({ ids: [created.id] })).toEqual([created]);

    const tagged = await client.addModelTags({ id: created.id, tags: ["prod", "nlp"] });
    expect(tagged.tags).toEqual(["nlp", "prod"]);
    expect((await client.removeModelTags({ id: created.id, tags: ["nlp"] })).tags).toEqual(["prod"]);
    const meta = await client.updateModelMetadata({ id: created.id, set: { owner: "ana" } });
    expect(meta.metadata).toEqual({ owner: "ana" });
    const updated = await client.updateModel({
      model: { id: created.id, description: "a model", etag: meta.etag },
      updateMask: { paths: ["description"] },
    });
    expect(updated.description).toBe("a model");
    await client.deleteModel({ id: created.id, etag: updated.etag });
    const gone = await rejection(client.getModel({ id: created.id }));
    expect(gone.code).toBe(Code.NOT_FOUND);
  });

  it("walks every page with listAllModels", async () => {
    for (let i = 0; i < 7; i++) await client.createModel({ model: { name: "paged", version: `${i}` } });
    const versions: string[] = [];
    for await (const model of client.listAllModels({
      filter: 'name = "paged"',
      orderBy: "version",
      pageSize: 2,
    })) {
      versions.push(model.version);
    }
    expect(versions).toEqual(["0", "1", "2", "3", "4", "5", "6"]);
  });

  it("reports field violations and codes as RegistryError", async () => {
    const error = await rejection(client.createModel({ model: { name: "", version: "1" } }));
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.violations).toEqual([{ field: "model.name", description: "is required" }]);
    expect(error.cause).toBeDefined();
  });
});

describe("deadlines and cancellation", () => {
  it("fails with DEADLINE_EXCEEDED on time when the server is stalled (SIGSTOP)", async () => {
    const { child, port } = await startServerProcess();
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    try {
      await client.connect({ timeoutMs: 5000 });
      child.kill("SIGSTOP");
      const started = Date.now();
      const error = await rejection(client.getModel({ id: "abc" }, { timeoutMs: 500 }));
      const elapsed = Date.now() - started;
      expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(1500);
    } finally {
      client.close();
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  });

  it("cancels the call on the server when the AbortSignal fires", async () => {
    // A bare grpc-js server that never answers and records the cancellation it sees.
    const server = new grpc.Server();
    let cancelledOnServer: () => void = () => {};
    const serverSawCancel = new Promise<void>((resolve) => {
      cancelledOnServer = resolve;
    });
    server.addService(
      {
        GetModel: {
          path: "/modelregistry.v1.ModelService/GetModel",
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: Buffer) => v,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (v: Buffer) => v,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        GetModel: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
          call.on("cancelled", () => cancelledOnServer());
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    try {
      const controller = new AbortController();
      const call = rejection(client.getModel({ id: "abc" }, { signal: controller.signal }));
      setTimeout(() => controller.abort(), 200);
      const error = await call;
      expect(error.code).toBe(Code.CANCELLED);
      await serverSawCancel;
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it("leaves no listener on a shared AbortSignal after 10,000 calls", async () => {
    // 500 calls at once: more than the server's default admission (64 + 64 queued) takes.
    const { server, port } = await startServer(createMemoryStorage(), { admission: { maxQueuedCalls: 500 } });
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true, poolSize: 2 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const controller = new AbortController();
      const model = await client.createModel({ model: { name: "shared-signal", version: "1" } });
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 500 }, () => client.getModel({ id: model.id }, { signal: controller.signal })),
        );
      }
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  }, 60_000);
});

describe("connections", () => {
  it("a pool of 4 opens 4 TCP connections, and close() leaves none", async () => {
    const { server, port } = await startServer();
    const proxy = await startTcpProxy({ host: "127.0.0.1", port });
    const client = createRegistryClient({ target: `127.0.0.1:${proxy.port}`, insecure: true, poolSize: 4 });
    try {
      await client.connect({ timeoutMs: 5000 });
      await Promise.all(Array.from({ length: 20 }, () => client.listModels({})));
      expect(proxy.accepted()).toBe(4);
      expect(proxy.open()).toBe(4);
      expect(client.channels().map((c) => c.state)).toEqual(["READY", "READY", "READY", "READY"]);
      client.close();
      client.close();
      for (let i = 0; i < 50 && proxy.open() > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(proxy.open()).toBe(0);
    } finally {
      client.close();
      await proxy.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("connect() fails clearly when nothing listens", async () => {
    const client = createRegistryClient({ target: "127.0.0.1:1", insecure: true });
    try {
      const error = await rejection(client.connect({ timeoutMs: 500 }));
      expect(error.code).toBe(Code.UNAVAILABLE);
      expect(error.message).toContain("127.0.0.1:1");
    } finally {
      client.close();
    }
  });

  it("fails fast while nothing listens: UNAVAILABLE at once (not after ~6 s), reads included", async () => {
    const client = createRegistryClient({ target: "127.0.0.1:1", insecure: true });
    try {
      for (const call of [
        () => client.getModel({ id: "x" }),
        () => client.listModels(),
        () => client.getModel({ id: "x" }),
      ]) {
        const started = performance.now();
        const error = await rejection(call());
        // Before: ~6 s, three 2-second waits of the retries for a connection.
        // Measured 1-73 ms; the bound leaves room for a loaded 2-core CI machine.
        const elapsed = performance.now() - started;
        expect(elapsed, `UNAVAILABLE after ${elapsed.toFixed(0)} ms`).toBeLessThan(2000);
        expect(error.code).toBe(Code.UNAVAILABLE);
      }
    } finally {
      client.close();
    }
  });

  it("a call with waitForReady waits for the registry to come up", async () => {
    const storage = createMemoryStorage();
    // A port that nothing listens on any more.
    const { server: gone, port } = await startServer(storage);
    await gone.shutdown({ graceMs: 0 });
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    // Started half a second into the call; awaited before the checks, so a
    // failure to start (the port taken) fails the test instead of going unhandled.
    const starting = new Promise((resolve) => setTimeout(resolve, 500)).then(() =>
      startServer(storage, { port }),
    );
    starting.catch(() => {});
    try {
      const page = await client.listModels({}, { waitForReady: true, timeoutMs: 10_000 });
      expect(page.models).toEqual([]);
      await expect(starting).resolves.toBeDefined();
    } finally {
      client.close();
      await (await starting.catch(() => undefined))?.server.shutdown({ graceMs: 100 });
    }
  });

  it("onReadyChange reports the first READY connection at once, its loss, and its return", async () => {
    const { server, port } = await startServer();
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    const changes: { ready: boolean; at: number }[] = [];
    const stop = client.onReadyChange((ready) => changes.push({ ready, at: Date.now() }));
    try {
      // No call made: watching alone connects.
      await until(() => changes.length === 1, "the first READY", { timeoutMs: 5000 });
      expect(changes[0]?.ready).toBe(true);
      await server.shutdown({ graceMs: 0 });
      await until(() => changes.length === 2, "the loss", { timeoutMs: 5000 });
      expect(changes[1]?.ready).toBe(false);
      const back = await startServer(createMemoryStorage(), { port });
      const listening = Date.now();
      await until(() => changes.length === 3, "the return", { timeoutMs: 5000 });
      expect(changes[2]?.ready).toBe(true);
      // grpc-js retries a refused connection at most ~1.2 s apart (the client's backoff cap).
      expect((changes[2]?.at ?? 0) - listening).toBeLessThan(2500);
      stop();
      await back.server.shutdown({ graceMs: 0 });
      await new Promise((r) => setTimeout(r, 300));
      expect(changes).toHaveLength(3);
    } finally {
      client.close();
    }
  });

  it("reconnects after the server restarts; a read that waits for it succeeds", async () => {
    const storage = createMemoryStorage();
    const first = await startServer(storage);
    const client = createRegistryClient({
      target: `127.0.0.1:${first.port}`,
      insecure: true,
      retry: { maxAttempts: 10, initialBackoffMs: 50, maxBackoffMs: 300 },
    });
    try {
      const model = await client.createModel({ model: { name: "restart", version: "1" } });
      await first.server.shutdown({ graceMs: 100 });
      const restarted = setTimeout(async () => {
        second = await startServer(storage, { port: first.port });
      }, 300);
      let second: Awaited<ReturnType<typeof startServer>> | undefined;
      const got = await client.getModel({ id: model.id }, { timeoutMs: 10_000, waitForReady: true });
      expect(got.id).toBe(model.id);
      clearTimeout(restarted);
      await second?.server.shutdown({ graceMs: 100 });
    } finally {
      client.close();
    }
  });

  it("keeps serving idempotent calls when one of two replicas goes away", async () => {
    const storage = createMemoryStorage();
    const a = await startServer(storage);
    const b = await startServer(storage);
    const client = createRegistryClient({
      target: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
      insecure: true,
    });
    try {
      await client.connect();
      const model = await client.createModel({
        model: { name: "replicated", version: "1" },
        requestId: "r-1",
      });
      await a.server.shutdown({ graceMs: 100 });
      const results = await Promise.all(Array.from({ length: 40 }, () => client.getModel({ id: model.id })));
      expect(results.every((m) => m.id === model.id)).toBe(true);
    } finally {
      client.close();
      await b.server.shutdown({ graceMs: 100 });
    }
  });
});

describe("TLS", () => {
  it("talks mutual TLS, and refuses a client without a certificate or without TLS", async () => {
    const certs = makeTestCertificates();
    const { server, port } = await startServer(createMemoryStorage(), {
      insecure: false,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
    });
    const target = `localhost:${port}`;
    const trusted = createRegistryClient({
      target,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    const anonymous = createRegistryClient({ target, tls: { ca: certs.ca }, retry: false });
    const plaintext = createRegistryClient({ target, insecure: true, retry: false });
    try {
      const model = await trusted.createModel({ model: { name: "tls", version: "1" } });
      expect(model.name).toBe("tls");
      expect((await rejection(anonymous.listModels({}, { timeoutMs: 2000 }))).code).toBe(Code.UNAVAILABLE);
      expect((await rejection(plaintext.listModels({}, { timeoutMs: 2000 }))).code).toBe(Code.UNAVAILABLE);
    } finally {
      for (const c of [trusted, anonymous, plaintext]) c.close();
      await server.shutdown({ graceMs: 100 });
    }
  });
});

describe("keepalive", () => {
  it("pings an idle connection without the server closing it (no too_many_pings)", async () => {
    const { server, port } = await startServer();
    const proxy = await startTcpProxy({ host: "127.0.0.1", port });
    const client = createRegistryClient({
      target: `127.0.0.1:${proxy.port}`,
      insecure: true,
      poolSize: 1,
      keepalive: { timeMs: 100, timeoutMs: 1000 },
    });
    try {
      await client.connect();
      await new Promise((r) => setTimeout(r, 1500));
      await client.listModels({});
      expect(client.channels().map((c) => c.state)).toEqual(["READY"]);
      expect(proxy.accepted()).toBe(1);
    } finally {
      client.close();
      await proxy.close();
      await server.shutdown({ graceMs: 100 });
    }
  });
});

describe("retries", () => {
  it("retries idempotent calls on UNAVAILABLE, never a write without a request_id", async () => {
    const calls = new Map<string, number>();
    const { server, port } = await startServer(createMemoryStorage(), {
      authorize: ({ method }) => {
        calls.set(method, (calls.get(method) ?? 0) + 1);
        throw new RegistryError(Code.UNAVAILABLE, "try later");
      },
    });
    const client = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      retry: { maxAttempts: 3, initialBackoffMs: 10, budget: { maxTokens: 100 } },
    });
    const count = (method: string) => calls.get(`/modelregistry.v1.ModelService/${method}`) ?? 0;
    try {
      expect((await rejection(client.getModel({ id: "x" }))).code).toBe(Code.UNAVAILABLE);
      expect(count("GetModel")).toBe(3);
      await rejection(client.createModel({ model: { name: "n", version: "1" } }));
      expect(count("CreateModel")).toBe(1);
      await rejection(client.createModel({ model: { name: "n", version: "1" }, requestId: "req" }));
      expect(count("CreateModel")).toBe(4);
      await rejection(client.addModelTags({ id: "x", tags: ["t"] }));
      expect(count("AddModelTags")).toBe(1);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("does not retry a registry that answered its database is unreachable", async () => {
    let attempts = 0;
    const { server, port } = await startServer(createMemoryStorage(), {
      authorize: () => {
        attempts++;
        throw new RegistryError(Code.UNAVAILABLE, "The model database is unreachable.", {
          reason: "DATABASE_UNAVAILABLE",
        });
      },
    });
    const client = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      retry: { maxAttempts: 3, initialBackoffMs: 10, budget: { maxTokens: 100 } },
    });
    try {
      const error = await rejection(client.getModel({ id: "x" }));
      expect([error.code, error.reason]).toEqual([Code.UNAVAILABLE, "DATABASE_UNAVAILABLE"]);
      expect(attempts).toBe(1);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("stops retrying when the retry budget runs low", async () => {
    let attempts = 0;
    const { server, port } = await startServer(createMemoryStorage(), {
      authorize: () => {
        attempts++;
        throw new RegistryError(Code.UNAVAILABLE, "down");
      },
    });
    const client = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      retry: { maxAttempts: 5, initialBackoffMs: 1, budget: { maxTokens: 4 } },
    });
    try {
      for (let i = 0; i < 5; i++) await rejection(client.getModel({ id: "x" }));
      // 4 tokens: retries stop once 2 are spent, so 5 calls cost far fewer than 25 attempts.
      expect(attempts).toBeLessThan(10);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });
});

describe("metadata and interceptors", () => {
  it("sends client and per-call headers, and runs interceptors once per call", async () => {
    const seen: Record<string, string>[] = [];
    const { server, port } = await startServer(createMemoryStorage(), {
      authorize: ({ metadata }) => {
        seen.push({
          authorization: String(metadata.get("authorization")[0] ?? ""),
          trace: String(metadata.get("x-trace")[0] ?? ""),
        });
      },
    });
    const methods: string[] = [];
    const client = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      metadata: async () => ({ authorization: "Bearer t0k3n" }),
      interceptors: [
        {
          interceptUnary(next, method, input, options) {
            methods.push(method.name);
            return next(method, input, options);
          },
        },
      ],
    });
    try {
      await client.listModels({}, { metadata: { "x-trace": "abc" } });
      expect(seen).toEqual([{ authorization: "Bearer t0k3n", trace: "abc" }]);
      expect(methods).toEqual(["ListModels"]);
    } finally {
      client.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("token sends authorization: Bearer on every call, watch and import included, a function's value per call", async () => {
    const seen: string[] = [];
    const { server, port } = await startServer(createMemoryStorage(), {
      authorize: ({ method, metadata }) => {
        const authorization = String(metadata.get("authorization")[0] ?? "");
        seen.push(`${method.split("/").pop()} ${authorization}`);
        if (!/^Bearer t-\d$/.test(authorization)) throw new RegistryError(Code.UNAUTHENTICATED, "no token");
      },
    });
    let issued = 0;
    const client = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      token: async () => `t-${++issued}`,
    });
    const fixed = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true, token: "t-0" });
    const none = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    try {
      await client.createModel({ model: { name: "tok", version: "1" } });
      const watch = client.watchModels();
      expect((await watch.next()).done).toBe(false);
      await watch.return?.(undefined);
      await client.importModels([{ model: { name: "tok", version: "2" } }]);
      await fixed.listModels();
      expect(seen).toEqual([
        "CreateModel Bearer t-1",
        "WatchModels Bearer t-2",
        "ImportModels Bearer t-3",
        "ListModels Bearer t-0",
      ]);
      expect((await rejection(none.listModels())).code).toBe(Code.UNAUTHENTICATED);
      // A call's own authorization wins (the gateway forwards its caller's).
      await client.listModels({}, { metadata: { authorization: "Bearer t-9" } });
      expect(seen.at(-1)).toBe("ListModels Bearer t-9");
    } finally {
      client.close();
      fixed.close();
      none.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("an authorization in metadata, in any case, replaces the token's: exactly one header is sent", async () => {
    const seen: string[][] = [];
    const { server, port } = await startServer(createMemoryStorage(), {
      authorize: ({ metadata }) => {
        seen.push(metadata.get("authorization").map(String));
      },
    });
    const fixed = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      token: "from-token",
      metadata: { Authorization: "Bearer from-metadata" },
    });
    const dynamic = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      token: async () => "from-token",
      metadata: async () => ({ AUTHORIZATION: "Bearer from-function" }),
    });
    try {
      await fixed.listModels();
      await dynamic.listModels();
      await dynamic.listModels({}, { metadata: { Authorization: "Bearer from-call" } });
      expect(seen).toEqual([["Bearer from-metadata"], ["Bearer from-function"], ["Bearer from-call"]]);
    } finally {
      fixed.close();
      dynamic.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("refuses a token that is not RFC 6750 token68 without ever echoing it", async () => {
    const secret = "s3cr\u00e9t";
    let thrown: unknown;
    try {
      createRegistryClient({ target: "x:1", insecure: true, token: secret });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(String((thrown as Error).message)).toMatch(/`token`/);
    expect(JSON.stringify(thrown) + String(thrown)).not.toContain("s3cr");
    let authorized = 0;
    const { server, port } = await startServer(createMemoryStorage(), {
      authorize: () => {
        authorized++;
      },
    });
    const tokens = [secret, "a b", "tab\tbad", "x\u0000y", "=abc", "\u2603"];
    const client = createRegistryClient({
      target: `127.0.0.1:${port}`,
      insecure: true,
      token: async () => tokens.shift() ?? "",
    });
    const header = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
    try {
      for (let i = 0; i < 6; i++) {
        const error = await rejection(client.listModels());
        expect(error.code).toBe(Code.INVALID_ARGUMENT);
        expect(error.message).toMatch(/token/);
        expect(error.cause).toBeUndefined();
      }
      // A bad authorization given as a header: refused too, no cause carrying it.
      const error = await rejection(
        header.listModels({}, { metadata: { authorization: `Bearer ${secret}` } }),
      );
      expect(error.code).toBe(Code.INVALID_ARGUMENT);
      expect(error.cause).toBeUndefined();
      expect(error.message).not.toContain("s3cr");
      expect(authorized).toBe(0);
      // Token68 with padding passes.
      const padded = createRegistryClient({
        target: `127.0.0.1:${port}`,
        insecure: true,
        token: "aB9-._~+/==",
      });
      await padded.listModels().finally(() => padded.close());
      expect(authorized).toBe(1);
    } finally {
      client.close();
      header.close();
      await server.shutdown({ graceMs: 100 });
    }
  });

  it("validates its options", () => {
    expect(() => createRegistryClient({ target: "x:1", insecure: true, token: "a\r\nb" })).toThrow(/token/);
    expect(() => createRegistryClient({ target: "", insecure: true })).toThrow(/target/);
    expect(() => createRegistryClient({ target: "localhost:9090" })).toThrow(/insecure: true/);
    expect(() => createRegistryClient({ target: "localhost:9090", insecure: true, poolSize: 0 })).toThrow(
      /poolSize/,
    );
  });
});
