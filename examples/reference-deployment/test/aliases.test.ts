// Issue 15's acceptance, on the reference deployment's real processes with
// authentication on (AUTH_TOKENS_FILE) and a promotion policy
// (ALIAS_POLICY_FILE, YAML): aliases moved with compare-and-set, resolved now
// and at a past read time, guarding deletes, listed in the audit history
// with the caller's principal, streamed to watchers; a protected alias moved
// only by its role to a version with its evidence, refusals recorded. The
// same flow three ways: the typed client over gRPC, REST through the
// gateway, and `buf curl` (connect-go, schema from server reflection).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ErrorInfo, ModelEventType, PreconditionFailure, type Timestamp } from "@modelreg/proto";
import { createRegistryClient, preconditionViolations, type RegistryClient } from "@modelreg/registry-client";
import { hashToken } from "@modelreg/registry-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeFor, runBufCurl } from "../../../test-support/buf-curl";
import { rejection } from "../../../test-support/rejection";
import { until } from "../../../test-support/waiting";
import { http, type StartedProcess, startGateway, startRegistry } from "./processes";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-aliases-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const writerToken = "writer-3243f6a8885a308d313198a2";
const adminToken = "admin-a4093822299f31d0082efa98";
const readerToken = "reader-2b7e151628aed2a6abf71588";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const writer = { metadata: bearer(writerToken) };
const admin = { metadata: bearer(adminToken) };
const reader = { metadata: bearer(readerToken) };

function writeFile(name: string, content: string): string {
  const file = join(tmp, name);
  writeFileSync(file, content);
  return file;
}

const authFile = () =>
  writeFile(
    "auth.json",
    JSON.stringify({
      tokens: [
        { sha256: hashToken(writerToken), subject: "ci-bot", roles: ["writer"] },
        { sha256: hashToken(adminToken), subject: "release-manager", roles: ["admin"] },
        { sha256: hashToken(readerToken), subject: "dashboard", roles: ["reader"] },
      ],
    }),
  );

/** The policy of the issue: `production` needs the admin role and `eval.passed = "true"`. */
const policyYaml = `# Moving "production" needs an admin and a passed evaluation.
protectedAliases:
  production:
    role: admin
    metadata:
      eval.passed: "true"
`;

type Caller = { metadata: Record<string, string> };
/** SetModelAlias through the typed client; the alias it set. */
const setAlias = (request: Parameters<RegistryClient["setModelAlias"]>[0], caller: Caller) =>
  grpc.setModelAlias(request, caller);
/** One page of ListModelHistory, newest first. */
async function history(request: Parameters<RegistryClient["listModelHistory"]>[0], caller: Caller) {
  return (await grpc.listModelHistory(request, caller)).entries;
}

const nanos = (t: Timestamp | undefined) => (t ? t.seconds * 1_000_000_000n + BigInt(t.nanos) : 0n);
const timestamp = (n: bigint): Timestamp => ({
  seconds: n / 1_000_000_000n,
  nanos: Number(n % 1_000_000_000n),
});
/** Nanoseconds since the epoch of an RFC 3339 time with up to 9 fraction digits. */
function nanosOfIso(iso: string): bigint {
  const match = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(iso);
  if (!match?.[1]) throw new Error(`not an RFC 3339 UTC time: ${iso}`);
  const fraction = BigInt((match[2] ?? "").padEnd(9, "0"));
  return BigInt(Date.parse(`${match[1]}Z`)) * 1_000_000n + fraction;
}
/** RFC 3339 with nanoseconds. */
function isoOfNanos(n: bigint): string {
  const seconds = n / 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}.${(n % 1_000_000_000n).toString().padStart(9, "0")}Z`;
}

let registry: StartedProcess;
let gateway: StartedProcess;
let address: string;
let base: string;
let grpc: RegistryClient;

beforeAll(async () => {
  registry = startRegistry(`sqlite:${join(tmp, "registry.db")}`, {
    AUTH_TOKENS_FILE: authFile(),
    ALIAS_POLICY_FILE: writeFile("policy.yaml", policyYaml),
  });
  address = `127.0.0.1:${(await registry.ready).port}`;
  gateway = startGateway(address);
  base = `http://127.0.0.1:${(await gateway.ready).port}`;
  grpc = createRegistryClient({ target: address, insecure: true, retry: false });
}, 60_000);

afterAll(async () => {
  grpc?.close();
  gateway?.child.kill("SIGTERM");
  registry?.child.kill("SIGTERM");
  await gateway?.exited;
  expect(await registry?.exited).toBe(0);
}, 30_000);

/** Watches `filter` as the reader, collecting alias events, until `stop` aborts. */
function watchAliasEvents(filter: string) {
  const stop = new AbortController();
  const events: { type: ModelEventType; version: string; alias: string }[] = [];
  let started = false;
  const done = (async () => {
    try {
      for await (const message of grpc.watchModels({ filter }, { ...reader, signal: stop.signal })) {
        started = true;
        const event = message.event;
        if (event?.alias)
          events.push({ type: event.type, version: event.alias.version, alias: event.alias.alias });
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
  })();
  return { events, stop, done, started: () => started };
}

/** Follows the gateway's Server-Sent Events watch as the reader, collecting alias events (`event: alias_*`). */
async function sseAliasEvents(filter: string) {
  const stop = new AbortController();
  const response = await fetch(`${base}/api/v1/models:watch?filter=${encodeURIComponent(filter)}`, {
    headers: { ...bearer(readerToken), accept: "text/event-stream" },
    signal: stop.signal,
  });
  expect(response.status).toBe(200);
  const events: { event: string; version: string }[] = [];
  let started = false;
  const done = (async () => {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { done: ended, value } = await reader.read();
        if (ended) return;
        started = true;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const fields = new Map<string, string>();
          for (const line of buffer.slice(0, end).split("\n")) {
            const colon = line.indexOf(":");
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
          }
          buffer = buffer.slice(end + 2);
          const event = fields.get("event") ?? "";
          if (event.startsWith("alias")) {
            const data = JSON.parse(fields.get("data") ?? "{}") as {
              event?: { alias?: { version?: string } };
            };
            events.push({ event, version: data.event?.alias?.version ?? "" });
          }
        }
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
  })();
  return { events, stop, done, started: () => started };
}

/**
 * The first detail of type `T` in an error as `buf curl` prints it: the
 * detail types are not in the registry's reflection, so buf prints each as
 * `{type, value}` with the message's bytes in base64.
 */
function detail<T extends object>(
  error: { details?: { type: string; value: string }[] },
  type: { typeName: string; fromBinary(bytes: Uint8Array): T },
): T | undefined {
  const found = error.details?.find((d) => d.type === type.typeName);
  return found ? type.fromBinary(Buffer.from(found.value, "base64")) : undefined;
}

describe("aliases, history and gated promotion through the reference deployment (auth on)", () => {
  it("over gRPC: compare-and-set moves, lookup now and then, the delete guard, history and watch", async () => {
    const watch = watchAliasEvents('name = "bert"');
    await until(watch.started, "the watch has started");

    for (const version of ["1.0.0", "1.1.0"]) {
      await grpc.createModel({ model: { name: "bert", version, framework: "pytorch" } }, writer);
    }
    const first = await setAlias(
      { name: "bert", alias: "champion", version: "1.0.0", expectedVersion: "" },
      writer,
    );
    expect(first).toMatchObject({ name: "bert", alias: "champion", version: "1.0.0", updatedBy: "ci-bot" });
    const moveTo11 = { name: "bert", alias: "champion", version: "1.1.0", expectedVersion: "1.0.0" };
    const second = await setAlias(moveTo11, writer);
    expect(second).toMatchObject({ version: "1.1.0", updatedBy: "ci-bot" });
    expect(second?.etag).not.toBe(first?.etag);

    // The same expectation again lost the race: ABORTED, naming where the alias is now.
    const lost = await rejection(setAlias(moveTo11, writer));
    expect([lost.code, lost.reason]).toEqual([Code.ABORTED, "ALIAS_CHANGED"]);
    expect(lost.message).toContain("1.1.0");

    const now = await grpc.lookupModel({ name: "bert", alias: "champion" }, reader);
    expect(await grpc.resolveAlias("bert", "champion", reader)).toEqual(now);
    expect(now.version).toBe("1.1.0");
    const between = (nanos(first?.updateTime) + nanos(second?.updateTime)) / 2n;
    expect(between).toBeGreaterThanOrEqual(nanos(first?.updateTime));
    const then = await grpc.lookupModel(
      { name: "bert", alias: "champion", readTime: timestamp(between) },
      reader,
    );
    expect(then.version).toBe("1.0.0");
    const before = await rejection(
      grpc.lookupModel(
        { name: "bert", alias: "champion", readTime: timestamp(nanos(first?.updateTime) - 1000n) },
        reader,
      ),
    );
    expect(before.code).toBe(Code.NOT_FOUND);

    // An admin may delete models, but not one an alias points at.
    const guarded = await rejection(grpc.deleteModel({ id: now.id }, admin));
    expect(guarded.code).toBe(Code.FAILED_PRECONDITION);
    expect(guarded.message).toContain("champion");
    expect((await grpc.getModel({ id: now.id }, reader)).version).toBe("1.1.0");

    const moves = await history({ name: "bert", alias: "champion" }, reader);
    expect(
      moves.map((e) => [e.type, e.actor, e.aliasBefore?.version ?? "", e.aliasAfter?.version, e.after?.id]),
    ).toEqual([
      [ModelEventType.ALIAS_SET, "ci-bot", "1.0.0", "1.1.0", now.id],
      [ModelEventType.ALIAS_SET, "ci-bot", "", "1.0.0", then.id],
    ]);
    expect(moves[0]?.revision).toBeGreaterThan(moves[1]?.revision ?? 0n);
    const created = await history({ name: "bert", filter: "type = CREATED" }, reader);
    expect(created.map((e) => [e.after?.version, e.actor])).toEqual([
      ["1.1.0", "ci-bot"],
      ["1.0.0", "ci-bot"],
    ]);

    await until(() => watch.events.length >= 2, "the watch saw both alias moves");

    // With force, the version goes with its alias, in one transaction, both in the history and the watch.
    await grpc.deleteModel({ id: now.id, force: true }, admin);
    const [deleted, unaliased] = await history({ name: "bert", pageSize: 2 }, reader);
    expect([deleted?.type, deleted?.actor, deleted?.before?.version]).toEqual([
      ModelEventType.DELETED,
      "release-manager",
      "1.1.0",
    ]);
    expect([unaliased?.type, unaliased?.aliasBefore?.alias, unaliased?.revision]).toEqual([
      ModelEventType.ALIAS_DELETED,
      "champion",
      (deleted?.revision ?? 0n) - 1n,
    ]);
    expect((await rejection(grpc.resolveAlias("bert", "champion", reader))).code).toBe(Code.NOT_FOUND);
    await until(() => watch.events.length >= 3, "the watch saw the alias deleted");
    watch.stop.abort();
    await watch.done;
    expect(watch.events).toEqual([
      { type: ModelEventType.ALIAS_SET, alias: "champion", version: "1.0.0" },
      { type: ModelEventType.ALIAS_SET, alias: "champion", version: "1.1.0" },
      { type: ModelEventType.ALIAS_DELETED, alias: "champion", version: "1.1.0" },
    ]);
  }, 60_000);

  it("over gRPC: a protected alias moves only for its role and to a version with its evidence", async () => {
    const model = await grpc.createModel({ model: { name: "gpt", version: "2.0.0" } }, writer);
    const move = (caller: Caller) => setAlias({ name: "gpt", alias: "production", version: "2.0.0" }, caller);

    const denied = await rejection(move(writer));
    expect(denied.code).toBe(Code.PERMISSION_DENIED);
    expect(denied.message).toContain("admin");
    const unmet = await rejection(move(admin));
    expect(unmet.code).toBe(Code.FAILED_PRECONDITION);
    expect(preconditionViolations(unmet)).toEqual([
      expect.objectContaining({ subject: expect.stringContaining("eval.passed") }),
    ]);
    // An unprotected alias of the same version moves for a writer.
    await setAlias({ name: "gpt", alias: "candidate", version: "2.0.0" }, writer);

    await grpc.updateModelMetadata({ id: model.id, set: { "eval.passed": "true" } }, writer);
    const promoted = await move(admin);
    expect(promoted).toMatchObject({ alias: "production", version: "2.0.0", updatedBy: "release-manager" });
    expect((await grpc.lookupModel({ name: "gpt", alias: "production" }, reader)).id).toBe(model.id);

    const refused = await history({ name: "gpt", filter: "refused = true" }, reader);
    expect(refused.map((e) => [e.actor, e.refusal?.code, e.aliasAfter?.alias])).toEqual([
      ["release-manager", Code.FAILED_PRECONDITION, "production"],
      ["ci-bot", Code.PERMISSION_DENIED, "production"],
    ]);
    // A refused move changed nothing: the first committed production entry is the admin's.
    const moves = await history({ name: "gpt", alias: "production", filter: "refused = false" }, reader);
    expect(moves.map((e) => [e.actor, e.aliasAfter?.version])).toEqual([["release-manager", "2.0.0"]]);
  }, 60_000);

  it("over REST: the same flow through the gateway with bearer tokens", async () => {
    const as = (token: string) => bearer(token);
    const put = (alias: string, body: object, token: string) =>
      http(base, "PUT", `/api/v1/aliases/${alias}`, body, as(token));
    const watch = await sseAliasEvents('name = "t5"');
    await until(watch.started, "the SSE watch has started");
    for (const version of ["1.0.0", "1.1.0"]) {
      const created = await http(base, "POST", "/api/v1/models", { name: "t5", version }, as(writerToken));
      expect(created.status).toBe(200);
    }
    const first = await put("champion", { name: "t5", version: "1.0.0" }, writerToken);
    expect([first.status, first.json]).toMatchObject([200, { alias: "champion", version: "1.0.0" }]);
    const second = await put(
      "champion",
      { name: "t5", version: "1.1.0", expectedVersion: "1.0.0" },
      writerToken,
    );
    expect([second.status, second.json]).toMatchObject([200, { version: "1.1.0", updatedBy: "ci-bot" }]);
    const lost = await put(
      "champion",
      { name: "t5", version: "1.1.0", expectedVersion: "1.0.0" },
      writerToken,
    );
    expect(lost.status).toBe(409);
    expect(lost.json).toMatchObject({ error: { status: "ABORTED" } });
    expect(JSON.stringify(lost.json)).toContain("ALIAS_CHANGED");

    const got = await http(base, "GET", "/api/v1/aliases/champion?name=t5", undefined, as(readerToken));
    expect(got.json).toMatchObject({ name: "t5", alias: "champion", version: "1.1.0" });
    const listed = await http(base, "GET", "/api/v1/aliases?name=t5", undefined, as(readerToken));
    expect((listed.json.aliases as { alias: string }[]).map((a) => a.alias)).toEqual(["champion"]);

    const lookup = (query: string) =>
      http(base, "GET", `/api/v1/models:lookup?name=t5&alias=champion${query}`, undefined, as(readerToken));
    const now = await lookup("");
    expect([now.status, now.json.version]).toEqual([200, "1.1.0"]);
    const between =
      (nanosOfIso(String(first.json.updateTime)) + nanosOfIso(String(second.json.updateTime))) / 2n;
    const then = await lookup(`&readTime=${encodeURIComponent(isoOfNanos(between))}`);
    expect([then.status, then.json.version]).toEqual([200, "1.0.0"]);

    const guarded = await http(base, "DELETE", `/api/v1/models/${now.json.id}`, undefined, as(adminToken));
    expect(guarded.status).toBe(400);
    expect(guarded.json).toMatchObject({ error: { status: "FAILED_PRECONDITION" } });
    expect(JSON.stringify(guarded.json)).toContain("champion");

    const history = await http(
      base,
      "GET",
      `/api/v1/history?name=t5&filter=${encodeURIComponent("type = ALIAS_SET")}`,
      undefined,
      as(readerToken),
    );
    const entries = history.json.entries as { actor: string; aliasAfter: { version: string } }[];
    expect(entries.map((e) => [e.actor, e.aliasAfter.version])).toEqual([
      ["ci-bot", "1.1.0"],
      ["ci-bot", "1.0.0"],
    ]);
    await until(() => watch.events.length >= 2, "the SSE watch saw both alias moves");
    watch.stop.abort();
    await watch.done;
    expect(watch.events).toEqual([
      { event: "alias_set", version: "1.0.0" },
      { event: "alias_set", version: "1.1.0" },
    ]);

    // The policy, over REST: 403 for the writer, 400 with the missing evidence for the admin.
    const denied = await put("production", { name: "t5", version: "1.1.0" }, writerToken);
    expect([denied.status, (denied.json.error as { status: string }).status]).toEqual([
      403,
      "PERMISSION_DENIED",
    ]);
    const unmet = await put("production", { name: "t5", version: "1.1.0" }, adminToken);
    expect([unmet.status, (unmet.json.error as { status: string }).status]).toEqual([
      400,
      "FAILED_PRECONDITION",
    ]);
    const details = (unmet.json.error as { details: Record<string, unknown>[] }).details;
    const failure = details.find((d) => d["@type"] === "type.googleapis.com/google.rpc.PreconditionFailure");
    expect(JSON.stringify(failure)).toContain("eval.passed");
    const evidence = await http(
      base,
      "POST",
      `/api/v1/models/${now.json.id}:updateMetadata`,
      { set: { "eval.passed": "true" } },
      as(writerToken),
    );
    expect(evidence.status).toBe(200);
    const promoted = await put("production", { name: "t5", version: "1.1.0" }, adminToken);
    expect([promoted.status, promoted.json.updatedBy]).toEqual([200, "release-manager"]);
    const refusals = await http(
      base,
      "GET",
      `/api/v1/history?name=t5&alias=production&filter=${encodeURIComponent("refused = true")}`,
      undefined,
      as(readerToken),
    );
    expect((refusals.json.entries as { actor: string }[]).map((e) => e.actor)).toEqual([
      "release-manager",
      "ci-bot",
    ]);

    // Deleting the aliases (with their expectation) lets the admin delete the version; a
    // protected alias is deleted only by its role, as it is moved.
    const unalias = (alias: string, token: string) =>
      http(base, "DELETE", `/api/v1/aliases/${alias}?name=t5&expectedVersion=1.1.0`, undefined, as(token));
    expect((await unalias("champion", writerToken)).status).toBe(200);
    expect((await unalias("production", writerToken)).status).toBe(403);
    expect((await unalias("production", adminToken)).status).toBe(200);
    const gone = await http(base, "DELETE", `/api/v1/models/${now.json.id}`, undefined, as(adminToken));
    expect(gone.status).toBe(200);
  }, 60_000);

  it("over buf curl (reflection): set, compare-and-set, lookup, history and the policy's refusal", async () => {
    const url = `http://${address}/modelregistry.v1.ModelService`;
    // biome-ignore lint/suspicious/noExplicitAny: proto3 JSON as buf curl prints it.
    const call = async (method: string, request: object, token: string): Promise<any> => {
      const result = await runBufCurl([
        "-H",
        `Authorization: Bearer ${token}`,
        "-d",
        JSON.stringify(request),
        `${url}/${method}`,
      ]);
      return { ...result, json: result.code === 0 ? JSON.parse(result.stdout) : JSON.parse(result.stderr) };
    };
    for (const version of ["1.0.0", "1.1.0"]) {
      const created = await call("CreateModel", { model: { name: "llama", version } }, writerToken);
      expect(created.code, created.stderr).toBe(0);
    }
    const first = await call(
      "SetModelAlias",
      { name: "llama", alias: "champion", version: "1.0.0" },
      writerToken,
    );
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.alias).toMatchObject({ alias: "champion", version: "1.0.0", updatedBy: "ci-bot" });
    const moveTo11 = { name: "llama", alias: "champion", version: "1.1.0", expectedVersion: "1.0.0" };
    const second = await call("SetModelAlias", moveTo11, writerToken);
    expect(second.code, second.stderr).toBe(0);
    const lost = await call("SetModelAlias", moveTo11, writerToken);
    expect(lost.code).toBe(exitCodeFor(Code.ABORTED));
    expect(lost.json.code).toBe("aborted");
    expect(detail(lost.json, ErrorInfo)?.reason).toBe("ALIAS_CHANGED");

    const now = await call("LookupModel", { name: "llama", alias: "champion" }, readerToken);
    expect(now.json.model.version).toBe("1.1.0");
    const between = (nanosOfIso(first.json.alias.updateTime) + nanosOfIso(second.json.alias.updateTime)) / 2n;
    const then = await call(
      "LookupModel",
      { name: "llama", alias: "champion", readTime: isoOfNanos(between) },
      readerToken,
    );
    expect(then.json.model.version).toBe("1.0.0");

    const history = await call("ListModelHistory", { name: "llama", alias: "champion" }, readerToken);
    expect(
      // biome-ignore lint/suspicious/noExplicitAny: proto3 JSON as buf curl prints it.
      history.json.entries.map((e: any) => [e.type, e.actor, e.aliasAfter.version]),
    ).toEqual([
      ["MODEL_EVENT_TYPE_ALIAS_SET", "ci-bot", "1.1.0"],
      ["MODEL_EVENT_TYPE_ALIAS_SET", "ci-bot", "1.0.0"],
    ]);

    const production = { name: "llama", alias: "production", version: "1.1.0" };
    const denied = await call("SetModelAlias", production, writerToken);
    expect(denied.code).toBe(exitCodeFor(Code.PERMISSION_DENIED));
    const unmet = await call("SetModelAlias", production, adminToken);
    expect(unmet.code).toBe(exitCodeFor(Code.FAILED_PRECONDITION));
    expect(detail(unmet.json, PreconditionFailure)?.violations).toEqual([
      expect.objectContaining({ subject: expect.stringContaining("eval.passed") }),
    ]);
    const refusals = await call("ListModelHistory", { name: "llama", filter: "refused = true" }, readerToken);
    // biome-ignore lint/suspicious/noExplicitAny: proto3 JSON as buf curl prints it.
    expect(refusals.json.entries.map((e: any) => [e.actor, e.refusal.code])).toEqual([
      ["release-manager", Code.FAILED_PRECONDITION],
      ["ci-bot", Code.PERMISSION_DENIED],
    ]);

    // The other alias methods, found through reflection too.
    const listed = await runBufCurl(["--list-methods", `http://${address}`]);
    expect(listed.stdout.trim().split("\n")).toEqual(
      expect.arrayContaining(
        ["SetModelAlias", "GetModelAlias", "ListModelAliases", "DeleteModelAlias", "ListModelHistory"].map(
          (m) => `modelregistry.v1.ModelService/${m}`,
        ),
      ),
    );
    const got = await call("GetModelAlias", { name: "llama", alias: "champion" }, readerToken);
    expect(got.json.alias).toMatchObject({ version: "1.1.0", updatedBy: "ci-bot" });
    const aliases = await call("ListModelAliases", { name: "llama" }, readerToken);
    // biome-ignore lint/suspicious/noExplicitAny: proto3 JSON as buf curl prints it.
    expect(aliases.json.aliases.map((a: any) => a.alias)).toEqual(["champion"]);
    const stale = await call(
      "DeleteModelAlias",
      { name: "llama", alias: "champion", expectedVersion: "1.0.0" },
      writerToken,
    );
    expect(stale.code).toBe(exitCodeFor(Code.ABORTED));
    const deleted = await call(
      "DeleteModelAlias",
      { name: "llama", alias: "champion", expectedVersion: "1.1.0" },
      writerToken,
    );
    expect([deleted.code, deleted.json]).toEqual([0, {}]);
    const gone = await call("GetModelAlias", { name: "llama", alias: "champion" }, readerToken);
    expect(gone.code).toBe(exitCodeFor(Code.NOT_FOUND));
  }, 60_000);
});

describe("ALIAS_POLICY_FILE and RETAIN_HISTORY", () => {
  it("refuses to start with a policy file that is not valid, naming the file and the problem", async () => {
    const file = writeFile(
      "broken-policy.yaml",
      'protectedAliases:\n  production:\n    metadata:\n      eval.auc: ">= high"\n',
    );
    const broken = startRegistry("memory:", { ALIAS_POLICY_FILE: file });
    await expect(broken.ready).rejects.toThrow("registry exited (1) before it was ready");
    expect(await broken.exited).toBe(1);
    const error = broken.logs.find((l) => l.level === 50);
    expect(error?.msg).toMatch(/^ALIAS_POLICY_FILE: /);
    expect(error?.msg).toContain(file);
    expect(error?.msg).toContain("eval.auc");
  }, 30_000);

  it("takes RETAIN_HISTORY as a count of entries, and refuses anything else at start", async () => {
    const kept = startRegistry("memory:", { RETAIN_HISTORY: "500000" });
    await kept.ready;
    expect(kept.logs.find((l) => l.msg === "history entries pruned past RETAIN_HISTORY")).toMatchObject({
      retainHistory: 500_000,
    });
    kept.child.kill("SIGTERM");
    expect(await kept.exited).toBe(0);
    const refused = startRegistry("memory:", { RETAIN_HISTORY: "0" });
    await expect(refused.ready).rejects.toThrow("registry exited (1) before it was ready");
    expect(refused.logs.find((l) => l.level === 50)?.msg).toBe(
      `RETAIN_HISTORY must be an integer from 1 to ${Number.MAX_SAFE_INTEGER} (got "0")`,
    );
  }, 30_000);

  it("warns at start when the policy needs a role and there is no auth file to give anyone one", async () => {
    const open = startRegistry("memory:", {
      ALIAS_POLICY_FILE: writeFile("no-auth-policy.yaml", policyYaml),
    });
    await open.ready;
    expect(
      open.logs.find((l) => l.level === 40 && l.msg.startsWith("these aliases need a role")),
    ).toMatchObject({
      protectedAliases: ["production"],
    });
    open.child.kill("SIGTERM");
    expect(await open.exited).toBe(0);
    // With AUTH_TOKENS_FILE (the processes of this file) there is no such warning.
    expect(registry.logs.some((l) => l.msg.startsWith("these aliases need a role"))).toBe(false);
    expect(registry.logs.find((l) => l.msg === "alias promotion policy on")).toMatchObject({
      protectedAliases: ["production"],
    });
  }, 30_000);
});
