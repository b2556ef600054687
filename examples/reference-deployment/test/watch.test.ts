// Issue 8's acceptance, on the reference deployment's real processes:
// concurrent writers and three watchers (the typed client from revision 0,
// the typed client resumed mid-way, and a browser-style SSE stream through
// the gateway), with the registry restarted in the middle. Every watcher
// must see every revision exactly once, in order, with no gap.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, createRegistryClient, RegistryError } from "@modelreg/registry-client";
import { afterAll, describe, expect, it } from "vitest";
import { until } from "../../../test-support/waiting";
import { type StartedProcess, startGateway, startRegistry } from "./processes";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-watch-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Revisions of the change events a client watch yields, until it has `until` or is stopped. */
async function collect(
  watch: AsyncIterable<{ event?: unknown; revision: bigint }>,
  into: number[],
  signal: AbortSignal,
) {
  try {
    for await (const message of watch) {
      if (message.event) into.push(Number(message.revision));
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

/** Reads a Server-Sent Events response, pushing the `id` of each change event. */
async function collectSse(response: Response, into: number[], signal: AbortSignal) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of frame.split("\n")) {
          const colon = line.indexOf(":");
          if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
        }
        const event = fields.get("event");
        if (event === "error") throw new Error(`the SSE stream ended with an error: ${fields.get("data")}`);
        if (event && ["created", "updated", "deleted"].includes(event)) into.push(Number(fields.get("id")));
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

/** Retries a write while the registry is away (the write is idempotent: a request_id, or a set-like edit). */
async function retrying<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof RegistryError) || error.code !== Code.UNAVAILABLE || attempt > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("watching the registry while it changes and restarts", () => {
  it("three watchers see every revision once, in order, with no gap, across a registry restart", async () => {
    const database = `sqlite:${join(tmp, "registry.db")}`;
    let registry: StartedProcess = startRegistry(database);
    const port = String((await registry.ready).port);
    const address = `127.0.0.1:${port}`;
    const gateway = startGateway(address);
    const base = `http://127.0.0.1:${(await gateway.ready).port}`;
    const client = createRegistryClient({ target: address, insecure: true, defaultTimeoutMs: 10_000 });
    const stop = new AbortController();
    try {
      await client.createModel({ model: { name: "seed", version: "1" } }); // revision 1
      const fromZero: number[] = [];
      const midway: number[] = [];
      const viaSse: number[] = [];
      const watchers = [
        collect(client.watchModels({ afterRevision: 0 }, { signal: stop.signal }), fromZero, stop.signal),
      ];
      const sse = await fetch(`${base}/api/v1/models:watch`, {
        headers: { accept: "text/event-stream", "last-event-id": "0" },
        signal: stop.signal,
      });
      expect(sse.status).toBe(200);
      expect(sse.headers.get("content-type")).toMatch(/^text\/event-stream/);
      watchers.push(collectSse(sse, viaSse, stop.signal));

      // Four writers: each creates models (with request ids) and tags them.
      const perWriter = 20;
      let restarted = false;
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          const model = await retrying(() =>
            client.createModel({ model: { name: `w${w}-m${i}`, version: "1" }, requestId: `w${w}-m${i}` }),
          );
          await retrying(() => client.addModelTags({ id: model.id, tags: ["seen"] }));
          if (w === 0 && i === perWriter / 2) {
            // The third watcher joins late, resuming after a revision it "stored".
            watchers.push(
              collect(
                client.watchModels({ afterRevision: 30 }, { signal: stop.signal }),
                midway,
                stop.signal,
              ),
            );
          }
          if (w === 1 && i === perWriter / 2 && !restarted) {
            restarted = true;
            registry.child.kill("SIGTERM");
            expect(await registry.exited).toBe(0);
            registry = startRegistry(database, { REGISTRY_PORT: port });
            await registry.ready;
          }
        }
      });
      await Promise.all(writers);
      expect(restarted).toBe(true);

      const total = 1 + 4 * perWriter * 2;
      const expected = (after: number) => Array.from({ length: total - after }, (_, i) => after + i + 1);
      await until(
        () => fromZero.length >= total && viaSse.length >= total && midway.length >= total - 30,
        "every watcher caught up",
      );
      // A moment more, so a duplicate delivered late would be seen.
      await new Promise((r) => setTimeout(r, 300));
      expect(fromZero).toEqual(expected(0));
      expect(midway).toEqual(expected(30));
      expect(viaSse).toEqual(expected(0));
    } finally {
      stop.abort();
      client.close();
      gateway.child.kill("SIGTERM");
      registry.child.kill("SIGTERM");
      await Promise.all([gateway.exited, registry.exited]);
    }
  }, 90_000);
});
