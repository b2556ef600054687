import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Code, type Model } from "@modelreg/proto";
import { afterAll, expect, it } from "vitest";
import { spawnReadmeExample } from "../../../test-support/readme-examples";
import { hashToken } from "./index";
import { createTestClient } from "./test-support/grpc-client";

const readme = resolve(import.meta.dirname, "../README.md");
const tmp = mkdtempSync(join(tmpdir(), "modelreg-readme-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it("runs the README's embedding example: it serves, answers a call, and stops on SIGTERM", async () => {
  const child = spawnReadmeExample(readme, "embed", { PORT: "0", DATABASE_PATH: join(tmp, "readme.db") });
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  const logs: Record<string, unknown>[] = [];
  const port = await new Promise<number>((resolvePort, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === "gRPC server listening") resolvePort(Number(entry.port));
    });
    child.once("exit", (code) => reject(new Error(`example exited early (${code})`)));
  });
  expect(logs[0]).toMatchObject({ msg: "gRPC server starting", port: 0 });

  const client = createTestClient(`127.0.0.1:${port}`);
  const { model } = await client.call<{ model: Model }>("CreateModel", {
    model: { name: "test-model", version: "1.0.0", framework: "pytorch" },
  });
  expect(model.name).toBe("test-model");
  client.close();

  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(logs.map((l) => l.msg)).toContain("gRPC server stopped");
}, 30_000);

it("runs the README's interceptor example: it logs each call with its principal, status and trace context", async () => {
  const child = spawnReadmeExample(readme, "interceptors", { PORT: "0" });
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  const logs: Record<string, unknown>[] = [];
  const port = await new Promise<number>((resolvePort, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === "gRPC server listening") resolvePort(Number(entry.port));
    });
    child.once("exit", (code) => reject(new Error(`example exited early (${code})`)));
  });

  const client = createTestClient(`127.0.0.1:${port}`);
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const headers = { authorization: "Bearer token-of-ci", traceparent };
  await client.call("CreateModel", { model: { name: "m", version: "1" } }, headers);
  await expect(client.call("GetModel", { id: "nope" }, headers)).rejects.toMatchObject({
    code: Code.NOT_FOUND,
  });
  await expect(client.call("ListModels", {})).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
  client.close();

  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  const calls = logs.filter((l) => l.msg === "call");
  // The refused call never reached the interceptor: authorize runs first.
  expect(calls).toEqual([
    {
      msg: "call",
      method: "CreateModel",
      principal: "ci-bot",
      code: "OK",
      traceparent,
      ms: expect.any(Number),
    },
    {
      msg: "call",
      method: "GetModel",
      principal: "ci-bot",
      code: "NOT_FOUND",
      traceparent,
      ms: expect.any(Number),
    },
  ]);
}, 30_000);

it("runs the README's tokens example: a reader may list but not create, and nobody without a token", async () => {
  const reader = "reader-token-of-the-readme";
  const file = join(tmp, "auth.json");
  writeFileSync(
    file,
    JSON.stringify({ tokens: [{ sha256: hashToken(reader), subject: "dashboard", roles: ["reader"] }] }),
  );
  const child = spawnReadmeExample(readme, "tokens", { PORT: "0", AUTH_FILE: file });
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  // Killed whatever happens, so a failed assertion leaves no process behind.
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === "gRPC server listening") resolvePort(Number(entry.port));
      });
      child.once("exit", (code) => reject(new Error(`example exited early (${code})`)));
    });

    const client = createTestClient(`127.0.0.1:${port}`);
    try {
      const headers = { authorization: `Bearer ${reader}` };
      await expect(client.call("ListModels", {}, headers)).resolves.toMatchObject({ models: [] });
      await expect(
        client.call("CreateModel", { model: { name: "m", version: "1" } }, headers),
      ).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
        message: "dashboard may not call CreateModel: that needs the writer role, and it has reader.",
      });
      await expect(client.call("ListModels", {})).rejects.toMatchObject({ code: Code.UNAUTHENTICATED });
    } finally {
      client.close();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  }
  expect(await exited).toBe(0);
}, 30_000);
