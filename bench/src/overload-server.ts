/**
 * A server process of the overload benchmark (`overload.ts`):
 * `overload-server.ts --role registry|gateway --port P --admission on|off
 * [--target host:port]`. The registry serves the fixture from SQLite (a temp
 * file, the defaults: WAL, synchronous FULL); the gateway is Express 5 +
 * createGatewayMiddleware + createRegistryClient (pool of 2) calling
 * `--target`. `on` is each package's default admission control, `off` is
 * `admission: false`. The parent waits for `{ type: "ready" }` on the IPC
 * channel and samples `{ type: "stats" }` (RSS, CPU time) during each phase.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createGatewayMiddleware } from "@modelreg/gateway-express";
import { createRegistryClient } from "@modelreg/registry-client";
import { createRegistryServer, type Logger } from "@modelreg/registry-server";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import express from "express";
import { modelRecord } from "./fixture";
import { answerParent } from "./servers/child";

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    port: { type: "string" },
    admission: { type: "string", default: "on" },
    target: { type: "string", default: "" },
    limits: { type: "string", default: "" },
  },
});
/** `--limits at-once,queued,wait-ms` instead of the package's defaults (to compare settings). */
const [atOnce, queued, waitMs] = (values.limits ?? "").split(",").filter(Boolean).map(Number);
const port = Number(values.port);
const admissionOn = values.admission === "on";
let cleanup = () => {};

if (values.role === "registry") {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-overload-"));
  cleanup = () => rmSync(dir, { recursive: true, force: true });
  const storage = await createSqliteStorage({ path: join(dir, "registry.db") });
  const inserted = await storage.insert(modelRecord);
  if (inserted.status !== "created") throw new Error(`could not seed the fixture: ${inserted.status}`);
  const server = createRegistryServer({
    storage,
    host: "127.0.0.1",
    port,
    insecure: true,
    logger: silentLogger,
    admission: !admissionOn
      ? (false as const)
      : atOnce === undefined
        ? undefined
        : { maxConcurrentCalls: atOnce, maxQueuedCalls: queued, maxQueueWaitMs: waitMs },
  });
  await server.listen();
} else if (values.role === "gateway") {
  const client = createRegistryClient({ target: values.target ?? "", insecure: true, poolSize: 2 });
  const app = express();
  const admission = !admissionOn
    ? (false as const)
    : atOnce === undefined
      ? undefined
      : { maxConcurrentRequests: atOnce, maxQueuedRequests: queued, maxQueueWaitMs: waitMs };
  app.use(createGatewayMiddleware({ client, admission }));
  // A backlog for 2,000 clients connecting at once (Node's default, 511, would leave some in SYN retries).
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen({ port, host: "127.0.0.1", backlog: 4096 }, resolve));
} else {
  throw new Error(`--role must be registry or gateway (got ${values.role})`);
}

answerParent(() => cleanup());
