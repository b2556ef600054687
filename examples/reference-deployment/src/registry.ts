// The Model Registry process: ModelService over gRPC on REGISTRY_HOST:REGISTRY_PORT
// (127.0.0.1:9090), data in DATABASE_URL (a SQLite file by default; postgres://
// and mysql:// for replicas on a shared database). AUTH_TOKENS_FILE turns on
// tokens and roles (reloaded on change and on SIGHUP); ALIAS_POLICY_FILE
// protects aliases (gated promotion); RETAIN_HISTORY bounds the audit history.
// Stops cleanly on SIGINT/SIGTERM.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  createMemoryStorage,
  createRegistryServer,
  createTokenAuth,
  loadAliasPolicy,
  type StorageAdapter,
  type TokenAuth,
} from "@modelreg/registry-server";
import { createMysqlStorage } from "@modelreg/registry-server/storage/mysql";
import { createPostgresStorage } from "@modelreg/registry-server/storage/postgres";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { pino } from "pino";
import { ConfigError, envFile, envInt, envString } from "./env";

// Asynchronous writes, as the gateway's: a log line does not wait for its write(2), and on a broken
// stdout pipe (EPIPE) pino drops the lines instead of failing, so shutdown still runs to its end.
// Every exit goes through process.exit, on which pino flushes what is still queued.
const logger = pino(
  { base: { service: "registry" }, level: envString("LOG_LEVEL", "info") },
  pino.destination({ dest: 1, sync: false }),
);

/**
 * RETAIN_HISTORY: how many of the latest history entries are always kept;
 * unset keeps every entry (the history is the audit log). Older entries are
 * pruned only past both this and the change feed's own retention (100 000).
 */
function retentionFromEnv(): { retainHistory?: number } {
  if (envString("RETAIN_HISTORY", "") === "") return {};
  return { retainHistory: envInt("RETAIN_HISTORY", 0, 1, Number.MAX_SAFE_INTEGER) };
}

async function openStorage(url: string): Promise<StorageAdapter> {
  const retention = retentionFromEnv();
  if (retention.retainHistory !== undefined)
    logger.info(retention, "history entries pruned past RETAIN_HISTORY");
  if (url === "memory:") return createMemoryStorage(retention);
  const sqlite = /^(?:sqlite|file):(.+)$/.exec(url);
  if (sqlite?.[1]) {
    const path = resolve(sqlite[1]);
    mkdirSync(dirname(path), { recursive: true });
    logger.info({ path }, "using SQLite storage");
    return createSqliteStorage({ path, ...retention });
  }
  if (/^postgres(?:ql)?:\/\//.test(url)) {
    const schema = process.env.DATABASE_SCHEMA?.trim() || undefined;
    logger.info({ schema: schema ?? "(search_path)" }, "using PostgreSQL storage");
    return createPostgresStorage({ connectionString: url, ...(schema ? { schema } : {}), ...retention });
  }
  if (/^(?:mysql|mariadb):\/\//.test(url)) {
    logger.info("using MySQL storage");
    return createMysqlStorage({ uri: url.replace(/^mariadb:/, "mysql:"), ...retention });
  }
  // Never echo the URL: it may hold a password.
  throw new ConfigError("DATABASE_URL must be sqlite:PATH, memory:, postgres://... or mysql://...");
}

/** Whether `host` is reachable only from this machine. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * The authorizer of AUTH_TOKENS_FILE (which also maps the client
 * certificates of mutual TLS to roles), reloaded on SIGHUP; or none, with a
 * warning when the registry is reachable from other machines without any
 * authentication.
 */
async function startAuth(host: string, tls: boolean, mutualTls: boolean): Promise<TokenAuth | undefined> {
  const file = envString("AUTH_TOKENS_FILE", "");
  if (file && !tls && !isLoopback(host)) {
    logger.warn(
      { host },
      "bearer tokens reach this registry in the clear over plaintext gRPC: set TLS_CERT_FILE and TLS_KEY_FILE, or REGISTRY_HOST=127.0.0.1",
    );
  }
  if (!file) {
    if (!mutualTls && !isLoopback(host)) {
      logger.warn(
        { host },
        "anyone who can reach this host may read, change and delete every model: set AUTH_TOKENS_FILE (and TLS_CA_FILE for client certificates), or REGISTRY_HOST=127.0.0.1",
      );
    }
    return undefined;
  }
  let auth: TokenAuth;
  try {
    auth = await createTokenAuth({ file, logger });
  } catch (error) {
    throw new ConfigError(`AUTH_TOKENS_FILE: ${(error as Error).message}`);
  }
  logger.info({ file, ...auth.counts(), clientCertificates: mutualTls }, "tokens and roles on");
  process.on("SIGHUP", () => {
    auth.reload().then(
      () => logger.info({ file, signal: "SIGHUP", ...auth.counts() }, "auth file read again"),
      (error: unknown) =>
        logger.error(
          { file, signal: "SIGHUP", err: { message: (error as Error).message } },
          "auth file not reloaded; the previous version stays in force",
        ),
    );
  });
  return auth;
}

/**
 * The promotion policy of ALIAS_POLICY_FILE (JSON, or YAML by its content),
 * or none. A file that cannot be read or is not a valid policy stops the
 * registry before it listens, naming the file and the problem. Read once:
 * the server takes the policy at creation, so a change needs a restart.
 */
async function aliasPolicyFromEnv() {
  const file = envString("ALIAS_POLICY_FILE", "");
  if (!file) return undefined;
  try {
    const policy = await loadAliasPolicy(file);
    logger.info(
      { file, protectedAliases: Object.keys(policy.protectedAliases) },
      "alias promotion policy on",
    );
    return policy;
  } catch (error) {
    throw new ConfigError(`ALIAS_POLICY_FILE: ${(error as Error).message}`);
  }
}

/** Admission control from REGISTRY_MAX_CONCURRENT_CALLS (0 turns it off), _MAX_QUEUED_CALLS, _MAX_QUEUE_WAIT_MS. */
function admissionFromEnv() {
  const maxConcurrentCalls = envInt("REGISTRY_MAX_CONCURRENT_CALLS", 64, 0, 1_000_000);
  if (maxConcurrentCalls === 0) return false as const;
  return {
    maxConcurrentCalls,
    maxQueuedCalls: envInt("REGISTRY_MAX_QUEUED_CALLS", 64, 0, 1_000_000),
    maxQueueWaitMs: envInt("REGISTRY_MAX_QUEUE_WAIT_MS", 1000, 1, 600_000),
  };
}

async function main() {
  const port = envInt("REGISTRY_PORT", 9090, 0, 65535);
  const host = envString("REGISTRY_HOST", "127.0.0.1");
  const cert = envFile("TLS_CERT_FILE");
  const key = envFile("TLS_KEY_FILE");
  const ca = envFile("TLS_CA_FILE");
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError("set both TLS_CERT_FILE and TLS_KEY_FILE, or neither");
  if (ca !== undefined && cert === undefined)
    throw new ConfigError(
      "TLS_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates are checked only over TLS",
    );
  const httpPort = process.env.REGISTRY_HTTP_PORT ? envInt("REGISTRY_HTTP_PORT", 0, 0, 65535) : undefined;

  const aliasPolicy = await aliasPolicyFromEnv();
  const storage = await openStorage(envString("DATABASE_URL", "sqlite:./data/registry.db"));
  if (!cert) logger.warn("serving plaintext gRPC; set TLS_CERT_FILE and TLS_KEY_FILE for TLS");
  const auth = await startAuth(host, Boolean(cert), Boolean(cert && ca));
  const roleGated = Object.entries(aliasPolicy?.protectedAliases ?? {}).filter(([, entry]) => entry.role);
  if (!auth && roleGated.length > 0) {
    logger.warn(
      { protectedAliases: roleGated.map(([alias]) => alias) },
      "these aliases need a role to move, and without AUTH_TOKENS_FILE no caller has one: every move of them is refused",
    );
  }
  const server = createRegistryServer({
    storage,
    host,
    port,
    logger,
    ...(auth ? { authorize: auth.authorize } : {}),
    ...(aliasPolicy ? { aliasPolicy } : {}),
    ...(cert && key ? { tls: { cert, key, ...(ca ? { ca } : {}) } } : { insecure: true }),
    ...(httpPort === undefined ? {} : { httpPort }),
    admission: admissionFromEnv(),
    healthCheckIntervalMs: envInt("HEALTH_CHECK_INTERVAL_MS", 250, 50, 3_600_000),
    healthCheckTimeoutMs: envInt("HEALTH_CHECK_TIMEOUT_MS", 1000, 50, 3_600_000),
  });
  await server.listen();

  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping");
      auth?.close();
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
