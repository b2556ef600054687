// Tokens and roles in the reference deployment, on real processes: with
// AUTH_TOKENS_FILE the registry answers PERMISSION_DENIED / UNAUTHENTICATED
// over gRPC and the gateway 403 / 401 over REST; Grpc-Metadata-Authorization
// cannot stand in for Authorization; a mutual-TLS client is known by its
// certificate's subject; the file is read again on change and on SIGHUP
// without a restart; and the registry listens on loopback unless told, and
// warns when it is reachable from elsewhere without authentication.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@modelreg/proto";
import { createRegistryClient, type RegistryClientOptions } from "@modelreg/registry-client";
import { hashToken } from "@modelreg/registry-server";
import { afterAll, describe, expect, it } from "vitest";
import { makeTestCertificates } from "../../../test-support/certs";
import { rejection } from "../../../test-support/rejection";
import { until } from "../../../test-support/waiting";
import { http, start, startGateway, startRegistry, waitForLog } from "./processes";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-auth-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const readerToken = "reader-2b7e151628aed2a6abf71588";
const writerToken = "writer-3243f6a8885a308d313198a2";
const token = (value: string, subject: string, role: string) => ({
  sha256: hashToken(value),
  subject,
  roles: [role],
});
const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

/** Writes an auth file as editors do (a new file renamed over the old), and returns its path. */
function writeAuthFile(name: string, content: unknown): string {
  const file = join(tmp, name);
  writeFileSync(`${file}.tmp`, typeof content === "string" ? content : JSON.stringify(content));
  renameSync(`${file}.tmp`, file);
  return file;
}

function client(options: Partial<RegistryClientOptions> & { target: string }) {
  return createRegistryClient({ insecure: true, retry: false, ...options });
}

describe("tokens and roles (AUTH_TOKENS_FILE)", () => {
  it("let a reader list but not create, refuse calls without a token, over gRPC and REST", async () => {
    const file = writeAuthFile("roles.json", {
      tokens: [token(readerToken, "dashboard", "reader"), token(writerToken, "ci-bot", "writer")],
    });
    const registry = startRegistry("memory:", { AUTH_TOKENS_FILE: file });
    const address = `127.0.0.1:${(await registry.ready).port}`;
    expect(registry.logs.find((l) => l.msg === "tokens and roles on")).toMatchObject({ tokens: 2 });
    const gateway = startGateway(address);
    const base = `http://127.0.0.1:${(await gateway.ready).port}`;
    const grpc = client({ target: address });
    try {
      expect((await grpc.listModels({}, { metadata: bearer(readerToken) })).models).toEqual([]);
      const denied = await rejection(
        grpc.createModel({ model: { name: "m", version: "1" } }, { metadata: bearer(readerToken) }),
      );
      expect([denied.code, denied.message]).toEqual([
        Code.PERMISSION_DENIED,
        "dashboard may not call CreateModel: that needs the writer role, and it has reader.",
      ]);
      expect((await rejection(grpc.listModels({}))).code).toBe(Code.UNAUTHENTICATED);

      const model = { name: "resnet", version: "1" };
      expect((await http(base, "GET", "/api/v1/models", undefined, bearer(readerToken))).status).toBe(200);
      const forbidden = await http(base, "POST", "/api/v1/models", model, bearer(readerToken));
      expect(forbidden.status).toBe(403);
      expect(JSON.stringify(forbidden.json)).toContain("needs the writer role");
      const anonymous = await http(base, "POST", "/api/v1/models", model);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
      expect(JSON.stringify(anonymous.json)).toContain("Authorization: Bearer <token>");
      expect((await http(base, "GET", "/api/v1/models")).status).toBe(401);
      // A watch is refused before it starts, as any other call, and a reader may watch.
      expect((await http(base, "GET", "/api/v1/models:watch")).status).toBe(401);
      const watching = new AbortController();
      const watch = await fetch(`${base}/api/v1/models:watch`, {
        headers: { ...bearer(readerToken), accept: "text/event-stream" },
        signal: watching.signal,
      });
      watching.abort();
      expect(watch.status).toBe(200);
      expect(watch.headers.get("content-type")).toMatch(/^text\/event-stream/);

      // A writer's token in Grpc-Metadata-Authorization does not replace the reader's Authorization,
      // nor stand in for a missing one: both are refused, and nothing is created.
      for (const headers of [
        { ...bearer(readerToken), "grpc-metadata-authorization": `Bearer ${writerToken}` },
        { "grpc-metadata-authorization": `Bearer ${writerToken}` },
      ]) {
        const smuggled = await http(base, "POST", "/api/v1/models", model, headers);
        expect(smuggled.status).toBe(400);
      }
      const listed = await http(base, "GET", "/api/v1/models", undefined, bearer(writerToken));
      expect(listed.json.models ?? []).toEqual([]);

      const created = await http(base, "POST", "/api/v1/models", model, bearer(writerToken));
      expect(created.status).toBe(200);
      // No token reached a log line of either process.
      const logs = JSON.stringify([...registry.logs, ...gateway.logs]);
      expect(logs).not.toContain(readerToken);
      expect(logs).not.toContain(writerToken);
    } finally {
      grpc.close();
      registry.child.kill("SIGTERM");
      gateway.child.kill("SIGTERM");
      expect(await registry.exited).toBe(0);
      await gateway.exited;
    }
  }, 60_000);

  it("reads the file again when it changes and on SIGHUP, without a restart", async () => {
    const file = writeAuthFile("reload.json", { tokens: [token(readerToken, "dashboard", "reader")] });
    const registry = startRegistry("memory:", { AUTH_TOKENS_FILE: file });
    const address = `127.0.0.1:${(await registry.ready).port}`;
    const grpc = client({ target: address });
    const create = (value: string, name: string) =>
      grpc.createModel({ model: { name, version: "1" } }, { metadata: bearer(value) });
    try {
      expect((await rejection(create(writerToken, "a"))).code).toBe(Code.UNAUTHENTICATED);
      writeAuthFile("reload.json", {
        tokens: [token(readerToken, "dashboard", "reader"), token(writerToken, "ci-bot", "writer")],
      });
      await until(() => create(writerToken, "a").then(() => true), "the new token is accepted");
      expect(await waitForLog(registry.logs, "auth file reloaded")).toMatchObject({ tokens: 2 });

      // SIGHUP reads it too: a broken version is reported (with the entry) and ignored...
      writeAuthFile("reload.json", {
        tokens: [{ ...token(writerToken, "ci-bot", "writer"), roles: ["root"] }],
      });
      registry.child.kill("SIGHUP");
      await until(
        () => registry.logs.some((l) => l.signal === "SIGHUP" && l.msg.startsWith("auth file not reloaded")),
        "SIGHUP reports the broken file",
      );
      const refused = registry.logs.find((l) => l.signal === "SIGHUP" && l.level === 50);
      expect(JSON.stringify(refused)).toContain('tokens[0]: unknown role \\"root\\"');
      await create(writerToken, "b");
      // ...and a good one applies.
      writeAuthFile("reload.json", { tokens: [token(writerToken, "ci-bot", "reader")] });
      registry.child.kill("SIGHUP");
      await until(
        () => registry.logs.some((l) => l.msg === "auth file read again" && l.signal === "SIGHUP"),
        "SIGHUP reloads the file",
      );
      expect((await rejection(create(writerToken, "c"))).code).toBe(Code.PERMISSION_DENIED);
      expect((await rejection(grpc.listModels({}, { metadata: bearer(readerToken) }))).code).toBe(
        Code.UNAUTHENTICATED,
      );
      expect(registry.child.exitCode).toBeNull();
    } finally {
      grpc.close();
      registry.child.kill("SIGTERM");
      expect(await registry.exited).toBe(0);
    }
  }, 60_000);

  it("knows a mutual-TLS client by its certificate's subject", async () => {
    const certs = makeTestCertificates({
      trainer: { commonName: "trainer", subjectAltName: "URI:spiffe://example.org/trainer" },
      gateway: { commonName: "modelreg-gateway" },
    });
    const pem = (name: string, content: Buffer) => {
      writeFileSync(join(tmp, name), content);
      return join(tmp, name);
    };
    const file = writeAuthFile("mtls.json", {
      certificates: [
        { subject: "CN=modelreg test client", roles: ["reader"] },
        { subject: "URI:spiffe://example.org/trainer", roles: ["writer"] },
      ],
    });
    const registry = startRegistry("memory:", {
      AUTH_TOKENS_FILE: file,
      TLS_CERT_FILE: pem("server.pem", certs.serverCert),
      TLS_KEY_FILE: pem("server.key", certs.serverKey),
      TLS_CA_FILE: pem("ca.pem", certs.ca),
    });
    const target = `localhost:${(await registry.ready).port}`;
    const trainerCert = certs.clients.trainer as { cert: Buffer; key: Buffer };
    const known = client({
      target,
      insecure: false,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    const trainer = client({ target, insecure: false, tls: { ca: certs.ca, ...trainerCert } });
    // A gateway presenting its own certificate, which the file leaves out: its callers send tokens.
    const gateway = startGateway(target, {
      REGISTRY_TLS_CA_FILE: join(tmp, "ca.pem"),
      REGISTRY_TLS_CERT_FILE: pem("gateway.pem", (certs.clients.gateway as { cert: Buffer }).cert),
      REGISTRY_TLS_KEY_FILE: pem("gateway.key", (certs.clients.gateway as { key: Buffer }).key),
    });
    try {
      const anonymous = await http(`http://127.0.0.1:${(await gateway.ready).port}`, "GET", "/api/v1/models");
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
      expect(JSON.stringify(anonymous.json)).toContain("CERTIFICATE_UNKNOWN");
      expect(JSON.stringify(anonymous.json)).not.toContain("modelreg-gateway");
      expect((await known.listModels({})).models).toEqual([]);
      const denied = await rejection(known.createModel({ model: { name: "m", version: "1" } }));
      expect([denied.code, denied.message]).toEqual([
        Code.PERMISSION_DENIED,
        "CN=modelreg test client may not call CreateModel: that needs the writer role, and it has reader.",
      ]);
      expect((await trainer.createModel({ model: { name: "m", version: "1" } })).name).toBe("m");
      const deleting = await rejection(trainer.deleteModel({ id: "x" }));
      expect(deleting.message).toMatch(/^URI:spiffe:\/\/example.org\/trainer may not call DeleteModel/);
    } finally {
      known.close();
      trainer.close();
      gateway.child.kill("SIGTERM");
      registry.child.kill("SIGTERM");
      expect(await registry.exited).toBe(0);
      await gateway.exited;
    }
  }, 60_000);

  it("refuses to start with an auth file that is not valid, naming the entry", async () => {
    const file = writeAuthFile("broken.json", {
      tokens: [{ ...token(readerToken, "dashboard", "reader"), token: readerToken }],
    });
    const registry = startRegistry("memory:", { AUTH_TOKENS_FILE: file });
    await expect(registry.ready).rejects.toThrow("registry exited (1) before it was ready");
    expect(await registry.exited).toBe(1);
    const error = registry.logs.find((l) => l.level === 50);
    expect(error?.msg).toBe(
      `AUTH_TOKENS_FILE: auth file ${file}: tokens[0]: holds a plain "token"; store only its "sha256" (hashToken(token)), and replace the token, which the file has exposed`,
    );
    expect(JSON.stringify(registry.logs)).not.toContain(readerToken);
  }, 60_000);
});

describe("the registry's TLS settings", () => {
  it("refuses TLS_CA_FILE without TLS_CERT_FILE and TLS_KEY_FILE, instead of serving plaintext", async () => {
    const ca = join(tmp, "lone-ca.pem");
    writeFileSync(ca, makeTestCertificates().ca);
    const registry = startRegistry("memory:", { TLS_CA_FILE: ca });
    await expect(registry.ready).rejects.toThrow("registry exited (1) before it was ready");
    expect(await registry.exited).toBe(1);
    expect(registry.logs.find((l) => l.level === 50)?.msg).toBe(
      "TLS_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates are checked only over TLS",
    );
  }, 60_000);

  it("warns that bearer tokens travel in the clear with AUTH_TOKENS_FILE over plaintext off loopback", async () => {
    const clear = (l: { msg: string }) => l.msg.startsWith("bearer tokens reach this registry in the clear");
    const file = writeAuthFile("clear.json", { tokens: [token(readerToken, "dashboard", "reader")] });
    const open = startRegistry("memory:", { REGISTRY_HOST: "0.0.0.0", AUTH_TOKENS_FILE: file });
    const local = startRegistry("memory:", { AUTH_TOKENS_FILE: file });
    await Promise.all([open.ready, local.ready]);
    expect(open.logs.find(clear)).toMatchObject({ level: 40, host: "0.0.0.0" });
    expect(open.logs.find(clear)?.msg).toContain("TLS_CERT_FILE");
    expect(local.logs.some(clear)).toBe(false);
    for (const p of [open, local]) p.child.kill("SIGTERM");
    expect(await Promise.all([open.exited, local.exited])).toEqual([0, 0]);
  }, 60_000);
});

describe("the registry's listen address", () => {
  it("is 127.0.0.1 unless REGISTRY_HOST says otherwise, and warns when open to others without auth", async () => {
    const warning = (l: { msg: string }) => l.msg.startsWith("anyone who can reach this host");
    const local = start(
      "registry",
      { REGISTRY_PORT: "0", REGISTRY_HOST: "", DATABASE_URL: "memory:" },
      (l) => l.msg === "gRPC server listening",
    );
    const open = startRegistry("memory:", { REGISTRY_HOST: "0.0.0.0" });
    const guarded = startRegistry("memory:", {
      REGISTRY_HOST: "0.0.0.0",
      AUTH_TOKENS_FILE: writeAuthFile("open.json", { tokens: [token(readerToken, "dashboard", "reader")] }),
    });
    await Promise.all([local.ready, open.ready, guarded.ready]);
    expect(local.logs.find((l) => l.msg === "gRPC server starting")).toMatchObject({ host: "127.0.0.1" });
    expect(local.logs.some(warning)).toBe(false);

    expect(open.logs.find(warning)).toMatchObject({ level: 40, host: "0.0.0.0" });
    expect(open.logs.find(warning)?.msg).toContain("AUTH_TOKENS_FILE");

    expect(guarded.logs.some(warning)).toBe(false);
    for (const p of [local, open, guarded]) p.child.kill("SIGTERM");
    expect(await Promise.all([local.exited, open.exited, guarded.exited])).toEqual([0, 0, 0]);
  }, 60_000);
});
