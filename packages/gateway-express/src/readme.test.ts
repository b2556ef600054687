import { resolve } from "node:path";
import { createRegistryClient } from "@modelreg/registry-client";
import express from "express";
import { expect, it } from "vitest";
import { startTestRegistry } from "../../../test-support/registry";
import { normalizeOutput, readTranscript, runShell } from "../../../test-support/transcripts";
import { createGatewayMiddleware } from "./index";

it("the README's curl transcript is what a live gateway answers", async () => {
  const { server, port } = await startTestRegistry();
  const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
  const app = express();
  app.use(createGatewayMiddleware({ client }));
  const http = app.listen(0, "127.0.0.1");
  await new Promise((r) => http.once("listening", r));
  try {
    const address = http.address();
    const gateway = `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const steps = readTranscript(resolve(import.meta.dirname, "../README.md"));
    expect(steps.length).toBeGreaterThanOrEqual(3);
    let readmeId: string | undefined;
    let liveId: string | undefined;
    for (const step of steps) {
      let command = step.command.replaceAll("localhost:8080", gateway);
      if (readmeId && liveId) command = command.replaceAll(readmeId, liveId);
      const result = await runShell(command);
      expect(result.code, `${step.command}\n${result.stderr}`).toBe(0);
      expect(normalizeOutput(result.stdout), step.command).toBe(normalizeOutput(step.output));
      // The README shows one model's id; this run creates its own.
      readmeId ??= /"id":"([0-9a-f-]{36})"/.exec(step.output)?.[1];
      liveId ??= /"id":"([0-9a-f-]{36})"/.exec(result.stdout)?.[1];
    }
  } finally {
    client.close();
    http.closeAllConnections();
    http.close();
    await server.shutdown({ graceMs: 100 });
  }
}, 60_000);
