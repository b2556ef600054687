/**
 * The gateway on a plain node:http server, no Express anywhere: the README's
 * `http.createServer(createGatewayHandler({ client }))`, against a real registry.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { RegistryClient } from "@modelreg/registry-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { within } from "../../../../test-support/waiting";
import { createGatewayHandler } from "../index";
import { expectError, type ModelJson, Resources, startRegistry } from "../test-support/harness";

describe("createGatewayHandler on a plain node:http server", () => {
  const resources = new Resources();
  let base: string;
  let client: RegistryClient;

  beforeAll(async () => {
    ({ client } = await startRegistry(resources));
    const server = createServer(createGatewayHandler({ client }));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    resources.add(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(() => resources.closeAll());

  it("creates, gets and lists a model", async () => {
    const created = await fetch(`${base}/api/v1/models`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "plain-node", version: "1.0.0", framework: "onnx" }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const model = (await created.json()) as ModelJson;
    expect(model).toMatchObject({ name: "plain-node", version: "1.0.0", tags: [], metadata: {} });
    expect(created.headers.get("etag")).toBe(model.etag);
    expect(created.headers.get("x-request-id")).toBeTruthy();

    const got = await fetch(`${base}/api/v1/models/${model.id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(model);

    const head = await fetch(`${base}/api/v1/models/${model.id}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");

    const listed = await fetch(`${base}/api/v1/models?filter=${encodeURIComponent('name = "plain-node"')}`);
    expect(await listed.json()).toEqual({ models: [model], nextPageToken: "" });
  });

  it("answers an unknown id, an unknown route and a path outside the prefix with the JSON error body", async () => {
    const missing = await expectError(await fetch(`${base}/api/v1/models/no-such-model`), 404, "NOT_FOUND");
    expect(missing.error.message).toContain("no-such-model");
    for (const path of ["/api/v1/widgets", "/elsewhere"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("cache-control")).toBe("no-store");
      await expectError(response, 404, "NOT_FOUND");
    }
  });

  it("streams the watch as NDJSON, without null for the progress message's event", async () => {
    const controller = new AbortController();
    const response = await fetch(
      `${base}/api/v1/models:watch?filter=${encodeURIComponent('name = "watched"')}`,
      {
        signal: controller.signal,
      },
    );
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
      const lines = lineReader(response);
      const progress = await lines.next();
      expect(Object.keys(progress)).toEqual(["revision"]);
      await client.createModel({ model: { name: "watched", version: "1" } });
      const change = (await lines.next()) as { event: { type: string; model: { name: string } } };
      expect(change.event).toMatchObject({ type: "MODEL_EVENT_TYPE_CREATED", model: { name: "watched" } });
    } finally {
      controller.abort();
    }
  });

  it("imports an NDJSON body and answers the summary", async () => {
    const body = `${[
      { model: { name: "plain-import", version: "1" }, requestId: "plain-1" },
      { model: { name: "", version: "2" } },
    ]
      .map((item) => JSON.stringify(item))
      .join("\n")}\n`;
    const response = await fetch(`${base}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body,
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain("null");
    expect(JSON.parse(text)).toMatchObject({
      createdCount: 1,
      failedCount: 1,
      results: [{ index: 1, outcome: "IMPORT_OUTCOME_FAILED", error: { code: 3 } }],
    });
    const created = await client.lookupModel({ name: "plain-import", version: "1" });
    expect(created.name).toBe("plain-import");
  });
});

/** Reads a streamed NDJSON body one parsed line at a time. */
function lineReader(response: Response): { next(): Promise<Record<string, unknown>> } {
  if (!response.body) throw new Error("the response has no body");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    next: () =>
      within(
        (async () => {
          for (let newline = buffer.indexOf("\n"); ; newline = buffer.indexOf("\n")) {
            if (newline !== -1) {
              const line = buffer.slice(0, newline);
              buffer = buffer.slice(newline + 1);
              return JSON.parse(line) as Record<string, unknown>;
            }
            const { done, value } = await reader.read();
            if (done) throw new Error("the stream ended");
            buffer += decoder.decode(value, { stream: true });
          }
        })(),
        10_000,
        "the next NDJSON line",
      ),
  };
}
