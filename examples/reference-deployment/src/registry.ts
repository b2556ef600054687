// The Model Registry process: ModelService over gRPC on REGISTRY_PORT (9090),
// data in DATABASE_URL (a SQLite file by default; postgres:// and mysql:// for
// replicas on a shared database). Stops cleanly on SIGINT/SIGTERM.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createMemoryStorage, createRegistryServer, type StorageAdapter } from "@modelreg/registry-server";
import { createMysqlStorage } from "@modelreg/registry-server/storage/mysql";
import { createPostgresStorage } from "@modelreg/registry-server/storage/postgres";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { pino } from "pino";
import { ConfigError, envFile, envInt, envString } from "./env";

const logger = pino({ base: { service: "registry" }, level: envString("LOG_LEVEL", "info") });

async function openStorage(url: string): Promise<StorageAdapter> {
  if (url === "memory:") return createMemoryStorage();
  const sqlite = /^(?:sqlite|file):(.+)$/.exec(url);
  if (sqlite?.[1]) {
    const path = resolve(sqlite[1]);
    mkdirSync(dirname(path), { recursive: true });
    logger.info({ path }, "using SQLite storage");
    return createSqliteStorage({ path });
  }
  if (/^postgres(?:ql)?:\/\//.test(url)) {
    const schema = process.env.DATABASE_SCHEMA?.trim() || undefined;
    logger.info({ schema: schema ?? "(search_path)" }, "using PostgreSQL storage");
    return createPostgresStorage({ connectionString: url, ...(schema ? { schema } : {}) });
  }
  if (/^(?:mysql|mariadb):\/\//.test(url)) {
    logger.info("using MySQL storage");
    return createMysqlStorage({ uri: url.replace(/^mariadb:/, "mysql:") });
  }
  // Never echo the URL: it may hold a password.
  throw new ConfigError("DATABASE_URL must be sqlite:PATH, memory:, postgres://... or mysql://...");
}

async function main() {
  const port = envInt("REGISTRY_PORT", 9090, 0, 65535);
  const host = envString("REGISTRY_HOST", "0.0.0.0");
  const cert = envFile("TLS_CERT_FILE");
  const key = envFile("TLS_KEY_FILE");
  const ca = envFile("TLS_CA_FILE");
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError("set both TLS_CERT_FILE and TLS_KEY_FILE, or neither");
  const httpPort = process.env.REGISTRY_HTTP_PORT ? envInt("REGISTRY_HTTP_PORT", 0, 0, 65535) : undefined;

  const storage = await openStorage(envString("DATABASE_URL", "sqlite:./data/registry.db"));
  if (!cert) logger.warn("serving plaintext gRPC; set TLS_CERT_FILE and TLS_KEY_FILE for TLS");
  const server = createRegistryServer({
    storage,
    host,
    port,
    logger,
    ...(cert && key ? { tls: { cert, key, ...(ca ? { ca } : {}) } } : { insecure: true }),
    ...(httpPort === undefined ? {} : { httpPort }),
    healthCheckIntervalMs: envInt("HEALTH_CHECK_INTERVAL_MS", 5000, 100, 3_600_000),
  });
  await server.listen();

  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping");
      server
        .shutdown({ graceMs: envInt("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000) })
        .then(() => storage.close())
        .then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, "shutdown failed");
            process.exit(1);
          },
        );
    });
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) logger.error(error.message);
  else logger.error({ err: error }, "the registry could not start");
  process.exit(1);
});
