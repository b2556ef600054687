import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Code, type Model, RegistryError } from "@modelreg/proto";
import { afterAll, describe, expect, it } from "vitest";
import { createTestClient } from "../test-support/grpc-client";
import { defineStorageConformanceSuite } from "../testing/conformance";
import { createSqliteStorage } from "./sqlite";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-sqlite-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(tmp, `db-${process.pid}-${n++}.db`);

defineStorageConformanceSuite({
  name: "sqlite (file)",
  describe,
  it,
  createAdapter: (settings) => createSqliteStorage({ path: freshPath(), ...settings }),
});

describe("sqlite durability", () => {
  it("keeps data across close and reopen, and migrates only once", async () => {
    const path = freshPath();
    const first = await createSqliteStorage({ path });
    await first.insert(
      {
        id: "id-1",
        name: "kept",
        version: "1",
        framework: "onnx",
        description: "",
        tags: ["t"],
        metadata: { k: "v" },
        artifactUri: "",
        artifactDigest: "",
        lineage: { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: [] },
        revision: 1,
        createTime: 1,
        updateTime: 1,
      },
      "req-1",
    );
    await first.close();
    const second = await createSqliteStorage({ path });
    expect(await second.get("id-1")).toMatchObject({ name: "kept", tags: ["t"], metadata: { k: "v" } });
    const kept = await second.get("id-1");
    if (!kept) throw new Error("the model did not survive a reopen");
    expect(await second.insert({ ...kept, id: "id-2" }, "req-1")).toMatchObject({
      status: "requestIdUsed",
    });
    await second.close();
  });

  it("fails clearly when the database cannot be opened", async () => {
    await expect(createSqliteStorage({ path: join(tmp, "no-such-dir", "x.db") })).rejects.toThrow(
      /cannot open/,
    );
    await expect(createSqliteStorage({ path: "" })).rejects.toThrow(/path/);
  });

  it("rejects a retainHistory that is not a whole number of at least 1", async () => {
    for (const retainHistory of [0, 1.5, -1, Number.NaN]) {
      await expect(createSqliteStorage({ path: freshPath(), retainHistory })).rejects.toThrow(
        /`retainHistory` must be a whole number of at least 1/,
      );
    }
  });

  it("loses no acknowledged create when the server process is killed with SIGKILL mid-load", async () => {
    const path = freshPath();
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = spawn(
      process.execPath,
      ["--import", tsx, join(import.meta.dirname, "../test-support/sqlite-server-process.ts"), path],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout }).once("line", (line) => resolve(JSON.parse(line).port));
      child.once("exit", (code) => reject(new Error(`server exited early with ${code}`)));
    });

    const client = createTestClient(`127.0.0.1:${port}`);
    const acknowledged: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const { model } = await client.call<{ model: Model }>("CreateModel", {
            model: { name: `load-${w}`, version: `${i}` },
          });
          acknowledged.push(model.id);
        } catch {
          return; // the server died under us: unacknowledged, may or may not exist
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    while (acknowledged.length < 200) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    await exited;
    stop = true;
    await Promise.all(workers);
    client.close();

    const reopened = await createSqliteStorage({ path });
    try {
      const found = await reopened.getMany(acknowledged);
      expect(found.length).toBe(acknowledged.length);
    } finally {
      await reopened.close();
    }
  }, 60_000);
});

describe("sqlite cancellation", () => {
  const record = (id: string, name: string) => ({
    id,
    name,
    version: "1",
    framework: "onnx",
    description: "",
    tags: ["t"],
    metadata: { k: "v" },
    artifactUri: "",
    artifactDigest: "",
    lineage: { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: [] },
    revision: 1,
    createTime: 1,
    updateTime: 1,
  });

  /** The code `call` rejects with. */
  const codeOf = async (call: Promise<unknown>) => {
    const error = await call.then(
      () => new Error("the call resolved"),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RegistryError);
    return (error as RegistryError).code;
  };

  it("a write whose signal is aborted, before the call or right after it starts, fails CANCELLED and writes nothing", async () => {
    const storage = await createSqliteStorage({ path: freshPath() });
    try {
      const kept = record("id-kept", "kept");
      expect(await storage.insert(kept)).toEqual({ status: "created", revision: expect.any(Number) });
      const history = await storage.readChanges(0, 10);
      const writes = (signal: AbortSignal) => [
        storage.insert(record("id-new", "new"), "req-new", { signal }),
        storage.insertMany([{ record: record("id-many", "many") }], { signal }),
        storage.replace({ ...kept, revision: 2, description: "changed", tags: [] }, 1, { signal }),
        storage.delete(kept.id, 1, { signal }),
      ];
      for (const call of writes(AbortSignal.abort())) expect(await codeOf(call)).toBe(Code.CANCELLED);
      // Aborted after the checks made as the call starts: its transaction's first statement stops it.
      const controller = new AbortController();
      const started = writes(controller.signal);
      controller.abort();
      for (const call of started) expect(await codeOf(call)).toBe(Code.CANCELLED);

      expect(await storage.get(kept.id)).toEqual(kept);
      expect(await storage.getMany(["id-new", "id-many"])).toEqual([]);
      expect(await storage.readChanges(0, 10)).toEqual(history);
      // A deadline already past is reported as such, even when the signal has aborted too.
      expect(
        await codeOf(storage.get(kept.id, { deadline: Date.now() - 1, signal: AbortSignal.abort() })),
      ).toBe(Code.DEADLINE_EXCEEDED);
    } finally {
      await storage.close();
    }
  });
});
