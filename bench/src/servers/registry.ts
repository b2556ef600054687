import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMemoryStorage,
  createRegistryServer,
  type Logger,
  type StorageAdapter,
} from "@modelreg/registry-server";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { modelRecord } from "../fixture";

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Our registry-server, as `createRegistryServer` ships it (health and
 * reflection included), holding the fixture in memory or in a SQLite file
 * (WAL, synchronous FULL: the defaults).
 */
export async function startRegistry(port: number, store: "memory" | "sqlite"): Promise<() => void> {
  let storage: StorageAdapter;
  let cleanup = () => {};
  if (store === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "modelreg-bench-"));
    storage = await createSqliteStorage({ path: join(dir, "registry.db") });
    cleanup = () => rmSync(dir, { recursive: true, force: true });
  } else {
    storage = createMemoryStorage();
  }
  const inserted = await storage.insert(modelRecord);
  if (inserted.status !== "created") throw new Error(`could not seed the fixture: ${inserted.status}`);
  const server = createRegistryServer({
    storage,
    host: "127.0.0.1",
    port,
    insecure: true,
    logger: silentLogger,
  });
  await server.listen();
  return cleanup;
}
