// The reference deployment end to end: the registry and the gateway as two OS
// processes on free ports, the seed's walkthrough and more over HTTP, then
// SIGTERM and clean exits. Nothing is mocked on the path
// HTTP -> gateway -> client -> gRPC -> registry -> SQLite -> gRPC -> HTTP.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exitCodeFor, runBufCurl } from "../../../test-support/buf-curl";
import { normalizeOutput, readTranscript, runShell } from "../../../test-support/transcripts";
import { until } from "../../../test-support/waiting";
import {
  connectPostgres,
  http,
  postgresUrl,
  start,
  startGateway,
  startRegistry,
  waitForLog,
} from "./processes";

const repoRoot = resolve(import.meta.dirname, "../../..");
const tmp = mkdtempSync(join(tmpdir(), "modelreg-e2e-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** ModelService's unary model methods, every one of which the buf curl test calls (the alias and history ones: aliases.test.ts). */
const unaryMethods = [
  "CreateModel",
  "GetModel",
  "LookupModel",
  "ListModels",
  "BatchGetModels",
  "UpdateModel",
  "DeleteModel",
  "AddModelTags",
  "RemoveModelTags",
  "UpdateModelMetadata",
];

const startRegistryOn = (database: string, port = "0") =>
  startRegistry(`sqlite:${database}`, { REGISTRY_PORT: port });

describe("the reference deployment", () => {
  it("runs the seed's walkthrough and more through the gateway, keeps data across a restart, and exits cleanly", async () => {
    const database = join(tmp, "walkthrough", "registry.db");
    const registry = startRegistryOn(database);
    const registryPort = Number((await registry.ready).port);
    expect(registry.logs.find((l) => l.msg === "gRPC server starting")).toMatchObject({ port: 0 });

    const gateway = startGateway(`127.0.0.1:${registryPort}`);
    const base = `http://127.0.0.1:${(await gateway.ready).port}`;

    // The seed's three calls.
    const created = await http(base, "POST", "/api/v1/models", {
      name: "test-model",
      version: "1.0.0",
      framework: "pytorch",
    });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({
      name: "test-model",
      version: "1.0.0",
      framework: "pytorch",
      etag: '"1"',
    });
    const id = String(created.json.id);
    const list = await http(base, "GET", "/api/v1/models");
    expect(list.status).toBe(200);
    expect((list.json.models as { id: string }[]).map((m) => m.id)).toEqual([id]);
    const got = await http(base, "GET", `/api/v1/models/${id}`);
    expect(got.json).toEqual(created.json);

    // Update, tags, metadata, delete.
    const updated = await http(
      base,
      "PATCH",
      `/api/v1/models/${id}?updateMask=description`,
      { description: "BERT" },
      { "if-match": '"1"' },
    );
    expect(updated.status).toBe(200);
    expect(updated.headers.get("etag")).toBe('"2"');
    const tagged = await http(base, "POST", `/api/v1/models/${id}:addTags`, { tags: ["production"] });
    expect(tagged.json.tags).toEqual(["production"]);
    const annotated = await http(base, "POST", `/api/v1/models/${id}:updateMetadata`, {
      set: { owner: "ana" },
    });
    expect(annotated.json.metadata).toEqual({ owner: "ana" });
    const filtered = await http(
      base,
      "GET",
      `/api/v1/models?filter=${encodeURIComponent("tags:production AND metadata.owner = ana")}`,
    );
    expect((filtered.json.models as unknown[]).length).toBe(1);

    // The main errors.
    expect(
      (await http(base, "POST", "/api/v1/models", { name: "test-model", version: "1.0.0" })).status,
    ).toBe(409);
    const invalid = await http(base, "POST", "/api/v1/models", { name: "", version: "1" });
    expect(invalid.status).toBe(400);
    expect(invalid.json).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    expect((await http(base, "GET", "/api/v1/models/0000-missing")).status).toBe(404);
    expect(
      (await http(base, "DELETE", `/api/v1/models/${id}`, undefined, { "if-match": '"1"' })).status,
    ).toBe(409);

    const keep = await http(base, "POST", "/api/v1/models", { name: "kept", version: "2" });
    expect((await http(base, "DELETE", `/api/v1/models/${id}`)).status).toBe(200);
    expect((await http(base, "GET", `/api/v1/models/${id}`)).status).toBe(404);

    // The gateway logged the seed's lines, and one line per request.
    expect(gateway.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        "Connecting to Model Registry gRPC service...",
        "Connected to Model Registry gRPC service",
      ]),
    );
    expect(gateway.logs.find((l) => l.msg === "Connecting to Model Registry gRPC service...")).toMatchObject({
      address: `127.0.0.1:${registryPort}`,
    });
    expect(gateway.logs.filter((l) => l.msg === "request").length).toBeGreaterThanOrEqual(12);

    // Stop the registry and start it again on the same file: the data is still there.
    registry.child.kill("SIGTERM");
    expect(await registry.exited).toBe(0);
    const unavailable = await http(base, "GET", `/api/v1/models/${String(keep.json.id)}`);
    expect(unavailable.status).toBe(503);
    expect(unavailable.json).toMatchObject({ error: { code: 503, status: "UNAVAILABLE" } });

    const restarted = startRegistryOn(database, String(registryPort));
    await restarted.ready;
    // Without a connection the gateway answers 503 at once; it logs when it has one again (within ~1 s).
    await until(
      () => gateway.logs.filter((l) => l.msg === "Connected to Model Registry gRPC service").length === 2,
      "the gateway reconnected",
      { timeoutMs: 10_000 },
    );
    const again = await http(base, "GET", `/api/v1/models/${String(keep.json.id)}`);
    expect(again.status).toBe(200);
    expect(again.json.name).toBe("kept");

    gateway.child.kill("SIGTERM");
    restarted.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(await restarted.exited).toBe(0);
    expect(gateway.logs.map((l) => l.msg)).toContain("gateway stopped");
    expect(restarted.logs.map((l) => l.msg)).toContain("gRPC server stopped");
  }, 90_000);

  it("serves 503 while the registry is down at start, and recovers when it comes up", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const gateway = startGateway(`127.0.0.1:${port}`);
    const base = `http://127.0.0.1:${(await gateway.ready).port}`;
    const early = await http(base, "GET", "/api/v1/models");
    expect(early.status).toBe(503);
    expect(early.json).toMatchObject({ error: { code: 503, status: "UNAVAILABLE" } });
    expect(await waitForLog(gateway.logs, "Model Registry not reachable yet; retrying")).toMatchObject({
      attempt: 1,
    });

    const registry = startRegistryOn(join(tmp, "late", "registry.db"), String(port));
    await registry.ready;
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await http(base, "GET", "/api/v1/models")).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    await waitForLog(gateway.logs, "Connected to Model Registry gRPC service");

    gateway.child.kill("SIGTERM");
    registry.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(await registry.exited).toBe(0);
  }, 90_000);

  it("answers the root README's walkthrough exactly as the README shows", async () => {
    const registry = startRegistryOn(join(tmp, "readme", "registry.db"));
    const registryAddress = `127.0.0.1:${Number((await registry.ready).port)}`;
    const gateway = startGateway(registryAddress);
    const gatewayAddress = `127.0.0.1:${Number((await gateway.ready).port)}`;
    await waitForLog(gateway.logs, "Connected to Model Registry gRPC service");

    // Every command as the README shows it (curl, and `npx buf curl` from the
    // repository root), only the addresses and the model's id replaced.
    let readmeId: string | undefined;
    let liveId: string | undefined;
    let ran = 0;
    // The `modelreg` steps (the Command line section) run against their own registry: packages/cli/test/readme.test.ts.
    for (const step of readTranscript(join(repoRoot, "README.md")).filter(
      (s) => !s.command.startsWith("modelreg "),
    )) {
      let command = step.command
        .replaceAll("localhost:8080", gatewayAddress)
        .replaceAll("localhost:9090", registryAddress);
      if (readmeId && liveId) command = command.replaceAll(readmeId, liveId);
      const result = await runShell(command);
      expect(normalizeOutput(result.stdout), `${step.command}\n${result.stderr}`).toBe(
        normalizeOutput(step.output),
      );
      readmeId ??= /"id":"([0-9a-f-]{36})"/.exec(step.output)?.[1];
      liveId ??= /"id":"([0-9a-f-]{36})"/.exec(result.stdout)?.[1];
      ran++;
    }
    // The walkthrough (7 steps) and the aliases section's promotion and audit (7 more).
    expect(ran).toBeGreaterThanOrEqual(14);
    gateway.child.kill("SIGTERM");
    registry.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(await registry.exited).toBe(0);
  }, 60_000);

  it("answers buf curl (connect-go, schema from reflection): every method listed, Health and every unary ModelService method called", async () => {
    const registry = startRegistryOn(join(tmp, "buf-curl", "registry.db"));
    const url = `http://127.0.0.1:${Number((await registry.ready).port)}`;
    // biome-ignore lint/suspicious/noExplicitAny: proto3 JSON as buf curl prints it.
    const call = async (method: string, request: object, ...flags: string[]): Promise<any> => {
      const result = await runBufCurl([...flags, "-d", JSON.stringify(request), `${url}/${method}`]);
      expect(result.code, `${method}: ${result.stderr}`).toBe(0);
      return JSON.parse(result.stdout);
    };
    const rpc = (name: string, request: object, ...flags: string[]) =>
      call(`modelregistry.v1.ModelService/${name}`, request, ...flags);

    // Listing methods resolves every listed service through reflection.
    const listed = await runBufCurl(["--list-methods", url]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split("\n")).toEqual(
      expect.arrayContaining([
        ...unaryMethods.map((name) => `modelregistry.v1.ModelService/${name}`),
        "modelregistry.v1.ModelService/WatchModels",
        "modelregistry.v1.ModelService/ImportModels",
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.health.v1.Health/List",
      ]),
    );
    expect(await call("grpc.health.v1.Health/Check", {})).toEqual({ status: "SERVING" });
    expect(await call("grpc.health.v1.Health/Check", { service: "modelregistry.v1.ModelService" })).toEqual({
      status: "SERVING",
    });

    const { model } = await rpc("CreateModel", {
      model: { name: "bert", version: "1.0.0", framework: "pytorch", metadata: { owner: "ana" } },
      requestId: "req-1",
    });
    expect(model).toMatchObject({ name: "bert", version: "1.0.0", metadata: { owner: "ana" }, etag: '"1"' });
    expect(model.createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const id: string = model.id;
    await rpc("CreateModel", { model: { name: "gpt", version: "2", framework: "onnx" } });

    expect(await rpc("GetModel", { id })).toEqual({ model });
    expect(await rpc("LookupModel", { name: "bert", version: "1.0.0" })).toEqual({ model });
    expect(await rpc("ListModels", { filter: "framework = pytorch" })).toEqual({ models: [model] });
    expect(await rpc("BatchGetModels", { ids: [id, id] })).toEqual({ models: [model, model] });
    const updated = await rpc("UpdateModel", {
      model: { id, description: "BERT base" },
      updateMask: "description",
    });
    expect(updated.model).toMatchObject({ id, description: "BERT base", framework: "pytorch", etag: '"2"' });
    const tagged = await rpc("AddModelTags", { id, tags: ["production", "nlp"] });
    expect(tagged.model).toMatchObject({ tags: ["nlp", "production"], etag: '"3"' });
    const untagged = await rpc("RemoveModelTags", { id, tags: ["nlp"], etag: '"3"' });
    expect(untagged.model).toMatchObject({ tags: ["production"], etag: '"4"' });
    const annotated = await rpc("UpdateModelMetadata", { id, set: { stage: "prod" }, removeKeys: ["owner"] });
    expect(annotated.model).toMatchObject({ metadata: { stage: "prod" }, etag: '"5"' });
    expect(await rpc("DeleteModel", { id, etag: '"5"' })).toEqual({});

    const gone = await runBufCurl([
      "-d",
      JSON.stringify({ id }),
      `${url}/modelregistry.v1.ModelService/GetModel`,
    ]);
    expect(gone.code, gone.stderr).toBe(exitCodeFor(5)); // NOT_FOUND
    expect(JSON.parse(gone.stderr)).toMatchObject({ code: "not_found" });

    registry.child.kill("SIGTERM");
    expect(await registry.exited).toBe(0);
  }, 60_000);

  it("switches to PostgreSQL with one environment variable", async () => {
    const admin = await connectPostgres("e2e.test.ts (the reference deployment on PostgreSQL)");
    if (!admin) return;
    const schema = `e2e_${process.pid}_${Date.now()}`;
    try {
      const registry = start(
        "registry",
        {
          REGISTRY_PORT: "0",
          REGISTRY_HOST: "127.0.0.1",
          DATABASE_URL: postgresUrl,
          DATABASE_SCHEMA: schema,
        },
        (l) => l.msg === "gRPC server listening",
      );
      const gateway = startGateway(`127.0.0.1:${Number((await registry.ready).port)}`);
      const base = `http://127.0.0.1:${(await gateway.ready).port}`;
      expect(registry.logs.map((l) => l.msg)).toContain("using PostgreSQL storage");
      const created = await http(base, "POST", "/api/v1/models", { name: "on-postgres", version: "1" });
      expect(created.status).toBe(200);
      const stored = await admin.query(`select name from "${schema}".models where id = $1`, [
        created.json.id,
      ]);
      expect(stored.rows).toEqual([{ name: "on-postgres" }]);
      gateway.child.kill("SIGTERM");
      registry.child.kill("SIGTERM");
      expect(await gateway.exited).toBe(0);
      expect(await registry.exited).toBe(0);
    } finally {
      await admin.query(`drop schema if exists "${schema}" cascade`);
      await admin.end();
    }
  }, 60_000);

  it("refuses bad configuration with a clear message and exit code 1", async () => {
    const bad = start("registry", { REGISTRY_PORT: "99999" }, () => false);
    await expect(bad.ready).rejects.toThrow(/exited \(1\)/);
    expect(bad.logs.map((l) => l.msg).join("\n")).toContain(
      "REGISTRY_PORT must be an integer from 0 to 65535",
    );
  });
});
