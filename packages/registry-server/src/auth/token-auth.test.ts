// The built-in authorizer on a real gRPC server over a real socket: tokens
// and roles, the refusals a caller reads (never with its token), client
// certificates of mutual TLS as principals, and the auth file reloaded on
// change and on reload() without a restart or a dropped call.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { Code, type Logger, RegistryError } from "@modelreg/proto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeTestCertificates } from "../../../../test-support/certs";
import { until } from "../../../../test-support/waiting";
import {
  createMemoryStorage,
  createRegistryServer,
  createTokenAuth,
  hashToken,
  type RegistryServerOptions,
  type TokenAuth,
} from "../index";
import { createTestClient } from "../test-support/grpc-client";

const readerToken = "reader-token-0123456789";
const writerToken = "writer-token-0123456789";
const adminToken = "admin-token-0123456789";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const entry = (token: string, subject: string, role: string) => ({
  sha256: hashToken(token),
  subject,
  roles: [role],
});
const threeRoles = {
  tokens: [
    entry(readerToken, "reader-bot", "reader"),
    entry(writerToken, "ci-bot", "writer"),
    entry(adminToken, "ops", "admin"),
  ],
};

/** Every log line, stringified, to check that no token was ever written. */
function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (fields: unknown, message?: string) =>
    lines.push(`${level} ${JSON.stringify(fields)} ${message ?? ""}`);
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function authFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-auth-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "auth.json");
  writeFileSync(file, JSON.stringify(content));
  return file;
}

/** Replaces the file as editors and Kubernetes volumes do: a new file renamed over it. */
function replaceFile(file: string, content: unknown): void {
  writeFileSync(`${file}.tmp`, typeof content === "string" ? content : JSON.stringify(content));
  renameSync(`${file}.tmp`, file);
}

/** A server whose authorize is `auth`'s; `principals` records what interceptors see. */
async function start(auth: TokenAuth, options: Partial<RegistryServerOptions> = {}) {
  const principals: (string | undefined)[] = [];
  const server = createRegistryServer({
    storage: createMemoryStorage(),
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: recordingLogger([]),
    authorize: auth.authorize,
    interceptors: [
      (next) => (call) => {
        principals.push(call.context.principal?.subject);
        return next(call);
      },
    ],
    ...options,
  });
  const { port } = await server.listen();
  cleanups.push(() => server.shutdown({ graceMs: 100 }));
  return { port, principals };
}

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    return RegistryError.from(error);
  }
  throw new Error("the call succeeded");
}

async function startWithFile(content: unknown, logs: string[] = []) {
  const file = authFile(content);
  const auth = await createTokenAuth({ file, logger: recordingLogger(logs), pollIntervalMs: 200 });
  cleanups.push(() => auth.close());
  const { port, principals } = await start(auth);
  const client = createTestClient(`127.0.0.1:${port}`);
  cleanups.push(() => client.close());
  return { file, auth, client, principals, logs };
}

describe("bearer tokens", () => {
  it("let each role do what the method table says, and no more", async () => {
    const { client, principals } = await startWithFile(threeRoles);
    const model = { model: { name: "resnet", version: "1" } };
    expect(await client.call("ListModels", {}, bearer(readerToken))).toMatchObject({ models: [] });
    const denied = await rejection(client.call("CreateModel", model, bearer(readerToken)));
    expect([denied.code, denied.reason, denied.message]).toEqual([
      Code.PERMISSION_DENIED,
      "ROLE_MISSING",
      "reader-bot may not call CreateModel: that needs the writer role, and it has reader.",
    ]);
    const { model: created } = await client.call<{ model: { id: string } }>(
      "CreateModel",
      model,
      bearer(writerToken),
    );
    const importing = await rejection(client.importModels([], 10_000, bearer(readerToken)));
    expect(importing.message).toBe(
      "reader-bot may not call ImportModels: that needs the writer role, and it has reader.",
    );
    const deleting = await rejection(client.call("DeleteModel", { id: created.id }, bearer(writerToken)));
    expect(deleting.message).toBe(
      "ci-bot may not call DeleteModel: that needs the admin role, and it has writer.",
    );
    // admin includes writer and reader.
    await client.call("GetModel", { id: created.id }, bearer(adminToken));
    await client.call("DeleteModel", { id: created.id }, bearer(adminToken));
    expect(principals).toEqual(["reader-bot", "ci-bot", "ops", "ops"]);
  });

  it("refuse missing, malformed and unknown credentials as UNAUTHENTICATED, never echoing a token", async () => {
    const { client, logs } = await startWithFile(threeRoles);
    const missing = await rejection(client.call("ListModels", {}));
    expect([missing.code, missing.reason]).toEqual([Code.UNAUTHENTICATED, "CREDENTIALS_MISSING"]);
    expect(missing.message).toContain("`Authorization: Bearer <token>`");
    const basic = await rejection(client.call("ListModels", {}, { authorization: "Basic dXNlcjpwYXNz" }));
    expect([basic.code, basic.message]).toEqual([
      Code.UNAUTHENTICATED,
      "The `Authorization` header must read `Bearer <token>`.",
    ]);
    const guessed = await rejection(client.call("ListModels", {}, bearer("guessed-token-42")));
    expect([guessed.code, guessed.reason]).toEqual([Code.UNAUTHENTICATED, "TOKEN_UNKNOWN"]);
    // A watch is refused before it starts, as any other call.
    const watch = client.watch({}, {});
    expect((await watch.ended)?.code).toBe(Code.UNAUTHENTICATED);
    for (const text of [missing, basic, guessed].map((e) => e.message).concat(logs)) {
      expect(text).not.toMatch(/guessed-token-42|dXNlcjpwYXNz|token-0123456789/);
    }
  });
});

describe("client certificates (mutual TLS)", () => {
  it("name the principal by the first name the file lists; a token wins over the certificate", async () => {
    const certs = makeTestCertificates({
      trainer: { commonName: "trainer", subjectAltName: "URI:spiffe://example.org/trainer,DNS:trainer" },
      stranger: { commonName: "stranger" },
    });
    const file = authFile({
      ...threeRoles,
      certificates: [
        { subject: "URI:spiffe://example.org/trainer", roles: ["writer"] },
        { subject: "CN=modelreg test client", roles: ["reader"] },
      ],
    });
    const auth = await createTokenAuth({ file });
    cleanups.push(() => auth.close());
    const { port, principals } = await start(auth, {
      insecure: false,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
    });
    const connect = (identity: { cert: Buffer; key: Buffer }) => {
      const client = createTestClient(
        `localhost:${port}`,
        {},
        grpc.credentials.createSsl(certs.ca, identity.key, identity.cert),
      );
      cleanups.push(() => client.close());
      return client;
    };
    const trainer = connect(certs.clients.trainer as { cert: Buffer; key: Buffer });
    const known = connect({ cert: certs.clientCert, key: certs.clientKey });
    const stranger = connect(certs.clients.stranger as { cert: Buffer; key: Buffer });

    await trainer.call("CreateModel", { model: { name: "resnet", version: "1" } });
    await known.call("ListModels", {});
    const denied = await rejection(known.call("CreateModel", { model: { name: "x", version: "1" } }));
    expect(denied.message).toBe(
      "CN=modelreg test client may not call CreateModel: that needs the writer role, and it has reader.",
    );
    // A certificate the file does not list (a gateway's own, say) counts as no credentials,
    // and the refusal does not name it.
    const unlisted = await rejection(stranger.call("ListModels", {}));
    expect([unlisted.code, unlisted.reason, unlisted.message]).toEqual([
      Code.UNAUTHENTICATED,
      "CERTIFICATE_UNKNOWN",
      "This registry does not know the client certificate: send the header `Authorization: Bearer <token>`, or a client certificate it lists.",
    ]);
    expect(unlisted.message).not.toContain("stranger");
    await stranger.call("ListModels", {}, bearer(readerToken));
    expect(principals).toEqual(["URI:spiffe://example.org/trainer", "CN=modelreg test client", "reader-bot"]);
  });
});

describe("the auth file", () => {
  it("is reloaded when replaced on disk, without a restart or dropping the calls in flight", async () => {
    const { file, client, logs } = await startWithFile(threeRoles);
    const newToken = "rotated-token-0123456789";
    const watch = client.watch({}, bearer(readerToken));
    await watch.waitFor(1);
    // The reader's token is revoked, a new writer token added.
    replaceFile(file, {
      tokens: [entry(writerToken, "ci-bot", "writer"), entry(newToken, "new-bot", "writer")],
    });
    await until(async () => {
      await client.call("ListModels", {}, bearer(newToken));
      return true;
    }, "the new token works");
    expect(logs.some((line) => line.includes("auth file reloaded"))).toBe(true);
    expect((await rejection(client.call("ListModels", {}, bearer(readerToken)))).code).toBe(
      Code.UNAUTHENTICATED,
    );
    // The watch authorized before the change still runs.
    await client.call("CreateModel", { model: { name: "after", version: "1" } }, bearer(newToken));
    const [, change] = await watch.waitFor(2);
    expect(change?.event?.model?.name).toBe("after");
    watch.cancel();

    // A broken version is logged and ignored: the last good one stays in force.
    replaceFile(file, '{ "tokens": [ { "sha256": "nothex", "subject": "x", "roles": ["admin"] } ] }');
    await until(() => logs.some((line) => line.includes("auth file not reloaded")), "the error is logged");
    expect(logs.find((line) => line.includes("auth file not reloaded"))).toContain("tokens[0]");
    // Seen by the watch and by the poll, read twice each, logged once.
    await new Promise((r) => setTimeout(r, 1000));
    expect(logs.filter((line) => line.includes("auth file not reloaded"))).toHaveLength(1);
    await client.call("ListModels", {}, bearer(newToken));

    // Edited in place (no rename), it is seen too.
    writeFileSync(file, JSON.stringify({ tokens: [entry(readerToken, "reader-bot", "reader")] }));
    await until(async () => {
      await client.call("ListModels", {}, bearer(readerToken));
      return true;
    }, "the edited file applies");
  });

  it("logs the same broken edit again after the file went back to the version in force", async () => {
    const good = { tokens: [entry(readerToken, "reader-bot", "reader")] };
    const broken = '{ "tokens": [ { "sha256": "nothex", "subject": "x", "roles": ["admin"] } ] }';
    const { file, client, logs } = await startWithFile(good);
    const refusals = () => logs.filter((line) => line.includes("auth file not reloaded")).length;
    replaceFile(file, broken);
    await until(() => refusals() === 1, "the broken edit is logged");
    replaceFile(file, good);
    // The good text is the one in force: nothing is reloaded, but the refusal is forgotten.
    await sleep(800);
    await client.call("ListModels", {}, bearer(readerToken));
    replaceFile(file, broken);
    await until(() => refusals() === 2, "the same broken edit, made again, is logged again");
    await sleep(800);
    expect(refusals()).toBe(2);
    expect(logs.some((line) => line.includes("auth file reloaded"))).toBe(false);
  });

  it("stops the pending second read of a broken file on close(): nothing is read or logged after", async () => {
    const { file, auth, logs } = await startWithFile({
      tokens: [entry(readerToken, "reader-bot", "reader")],
    });
    const timers = vi.spyOn(globalThis, "setTimeout");
    cleanups.push(() => timers.mockRestore());
    replaceFile(file, "{ not json");
    // The first read of the change fails; the second is due 250 ms later, and close() comes first.
    await until(() => timers.mock.calls.some(([, ms]) => ms === 250), "the second read is scheduled");
    auth.close();
    await sleep(600);
    expect(logs.filter((line) => line.includes("auth file not reloaded"))).toEqual([]);
    expect(auth.counts()).toEqual({ tokens: 1, certificates: 0 });
  });

  it("is read again on reload(), which rejects a broken version and keeps the last good one", async () => {
    const file = authFile({ tokens: [entry(readerToken, "reader-bot", "reader")] });
    const auth = await createTokenAuth({ file, watch: false });
    cleanups.push(() => auth.close());
    const { port } = await start(auth);
    const client = createTestClient(`127.0.0.1:${port}`);
    cleanups.push(() => client.close());
    writeFileSync(file, JSON.stringify({ tokens: [entry(readerToken, "reader-bot", "writer")] }));
    await client.call("GetModel", { id: "none" }, bearer(readerToken)).catch(() => {});
    expect(
      (
        await rejection(
          client.call("CreateModel", { model: { name: "a", version: "1" } }, bearer(readerToken)),
        )
      ).code,
    ).toBe(Code.PERMISSION_DENIED);
    await auth.reload();
    await client.call("CreateModel", { model: { name: "a", version: "1" } }, bearer(readerToken));
    writeFileSync(
      file,
      JSON.stringify({ tokens: [{ ...entry(readerToken, "reader-bot", "reader"), extra: 1 }] }),
    );
    await expect(auth.reload()).rejects.toThrow(`auth file ${file}: tokens[0]: unknown field "extra"`);
    expect(auth.counts()).toEqual({ tokens: 1, certificates: 0 });
    await client.call("CreateModel", { model: { name: "b", version: "1" } }, bearer(readerToken));
  });

  it("refuses options that are not valid with a TypeError naming the option", async () => {
    const file = authFile({ tokens: [] });
    const cases: [unknown, string][] = [
      [{}, "`file` must be"],
      [{ file: 42 }, "`file` must be"],
      [{ file: " " }, "`file` must be"],
      [{ file, watch: "yes" }, "`watch` must be true or false"],
      [{ file, pollIntervalMs: 0 }, "`pollIntervalMs` must be"],
      [{ file, pollIntervalMs: "2000" }, "`pollIntervalMs` must be"],
      [{ file, pollIntervalMs: Number.NaN }, "`pollIntervalMs` must be"],
      [{ file, pollIntervalMs: 1.5 }, "`pollIntervalMs` must be"],
    ];
    for (const [options, message] of cases) {
      const refused = createTokenAuth(options as Parameters<typeof createTokenAuth>[0]);
      await expect(refused).rejects.toThrow(TypeError);
      await expect(refused).rejects.toThrow(`createTokenAuth: ${message}`);
    }
  });

  it("refuses to start with a file that is missing or not valid, naming the entry", async () => {
    const file = authFile({ tokens: [entry(readerToken, "reader-bot", "owner")] });
    await expect(createTokenAuth({ file })).rejects.toThrow(
      new TypeError(`auth file ${file}: tokens[0]: unknown role "owner" (roles are reader, writer, admin)`),
    );
    await expect(createTokenAuth({ file: `${file}.missing` })).rejects.toThrow(
      `auth file ${file}.missing: cannot read it (ENOENT)`,
    );
  });
});
