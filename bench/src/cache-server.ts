/**
 * A registry process for the cache benchmarks (`cache.ts`): `cache-server.ts
 * --port P --store memory|sqlite|postgres [--database URL --schema S]
 * [--no-seed]`. `createRegistryServer` as shipped, plus one server
 * interceptor that counts the calls per method, so the benchmark can say
 * how many GetModel / LookupModel / BatchGetModels calls reached the
 * registry. The fixture model is seeded (unless `--no-seed`: a second
 * replica on the same database). IPC: `{ type: "ready" }` once listening;
 * `{ type: "stats" }` -> CPU time and RSS (as serve.ts answers);
 * `{ type: "counts" }` -> `{ type: "counts", counts: { method: n } }`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  createMemoryStorage,
  createRegistryServer,
  type Logger,
  type ServerInterceptor,
  type StorageAdapter,
} from "@modelreg/registry-server";
import { createPostgresStorage } from "@modelreg/registry-server/storage/postgres";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { modelRecord } from "./fixture";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    store: { type: "string", default: "memory" },
    database: { type: "string" },
    schema: { type: "string" },
    "no-seed": { type: "boolean", default: false },
  },
});

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const counts: Record<string, number> = {};
const counting: ServerInterceptor = (next) => (call) => {
  const name = call.method.name;
  counts[name] = (counts[name] ?? 0) + 1;
  return next(call);
};

async function openStorage(): Promise<{ storage: StorageAdapter; cleanup: () => void }> {
  if (values.store === "sqlite") {
    // --database names a file shared with another replica; otherwise a temp file of our own.
    if (values.database)
      return { storage: await createSqliteStorage({ path: values.database }), cleanup() {} };
    const dir = mkdtempSync(join(tmpdir(), "modelreg-cache-bench-"));
    const storage = await createSqliteStorage({ path: join(dir, "registry.db") });
    return { storage, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (values.store === "postgres") {
    if (!values.database || !values.schema) throw new Error("--store postgres needs --database and --schema");
    const storage = await createPostgresStorage({ connectionString: values.database, schema: values.schema });
    return { storage, cleanup() {} };
  }
  return { storage: createMemoryStorage(), cleanup() {} };
}

const { storage, cleanup } = await openStorage();
if (!values["no-seed"]) {
  const inserted = await storage.insert(modelRecord);
  if (inserted.status !== "created") throw new Error(`could not seed the fixture: ${inserted.status}`);
}
const server = createRegistryServer({
  storage,
  host: "127.0.0.1",
  port: Number(values.port),
  insecure: true,
  logger: silentLogger,
  interceptors: [counting],
});
await server.listen();

process.on("message", (message: { type?: string }) => {
  if (message.type === "stats") {
    const { user, system } = process.cpuUsage();
    process.send?.({ type: "stats", cpuMicros: user + system, rssBytes: process.memoryUsage().rss });
  } else if (message.type === "counts") {
    process.send?.({ type: "counts", counts: { ...counts } });
  }
});
process.on("disconnect", () => {
  void server
    .shutdown({ graceMs: 0 })
    .then(() => storage.close())
    .finally(() => {
      cleanup();
      process.exit(0);
    });
});
process.send?.({ type: "ready" });
