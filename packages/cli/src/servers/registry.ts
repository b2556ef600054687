// `modelreg serve`: the Model Registry, ModelService over gRPC on --host:--port (127.0.0.1:9090), data
// in --database-url (a SQLite file by default; postgres:// and mysql:// for replicas on a shared
// database). --auth-tokens-file turns on tokens and roles (reloaded on change and on SIGHUP);
// --alias-policy-file protects aliases (gated promotion); --retain-history bounds the audit history.
import { readFileSync } from "node:fs";
import {
  createRegistryServer,
  createTokenAuth,
  loadAliasPolicy,
  type StorageAdapter,
  type TokenAuth,
} from "@modelreg/registry-server";
import type { Logger } from "pino";
import type { CliIo } from "../context";
import { CliError } from "../errors";
import { ExitCode } from "../exit-codes";
import { migrationError } from "../migrate/run";
import { openStorage, parseDatabaseUrl } from "./database";
import { serverLogger } from "./logger";
import {
  ConfigError,
  filePath,
  flagNames,
  integer,
  logLevel,
  logLevelOption,
  type OptionNames,
  type OptionSpec,
  type ResolvedOptions,
  readableFile,
  resolveOptions,
  text,
} from "./options";

/** Every option of `modelreg serve`: flag, environment variable, default, check. */
export const registryOptionSpecs = {
  port: {
    flags: "--port <port>",
    env: "REGISTRY_PORT",
    description: "gRPC port (0 picks a free one)",
    fallback: 9090,
    parse: integer(0, 65535),
  },
  host: {
    flags: "--host <host>",
    env: "REGISTRY_HOST",
    description: "gRPC listen address; only this machine can connect unless you say otherwise",
    fallback: "127.0.0.1",
    parse: text,
  },
  databaseUrl: {
    flags: "--database-url <url>",
    env: "DATABASE_URL",
    description: "sqlite:PATH, memory:, postgres://user:pass@host:5432/db or mysql://user:pass@host:3306/db",
    fallback: "sqlite:./data/registry.db",
    parse: text,
  },
  databaseSchema: {
    flags: "--database-schema <schema>",
    env: "DATABASE_SCHEMA",
    description: "PostgreSQL only: the schema of the registry's tables (created if missing)",
    fallbackShown: "the connection's search_path",
    parse: text,
  },
  tlsCertFile: {
    flags: "--tls-cert-file <file>",
    env: "TLS_CERT_FILE",
    description: "PEM certificate: serve gRPC over TLS (with --tls-key-file)",
    parse: readableFile,
  },
  tlsKeyFile: {
    flags: "--tls-key-file <file>",
    env: "TLS_KEY_FILE",
    description: "PEM private key of --tls-cert-file",
    parse: readableFile,
  },
  tlsCaFile: {
    flags: "--tls-ca-file <file>",
    env: "TLS_CA_FILE",
    description: "PEM CA: clients must present certificates it signed (mutual TLS)",
    parse: readableFile,
  },
  authTokensFile: {
    flags: "--auth-tokens-file <file>",
    env: "AUTH_TOKENS_FILE",
    description: "the auth file (token hashes, certificate names, roles); read again on change and SIGHUP",
    fallbackShown: "no authentication",
    parse: filePath,
  },
  aliasPolicyFile: {
    flags: "--alias-policy-file <file>",
    env: "ALIAS_POLICY_FILE",
    description: "the alias promotion policy, JSON or YAML (read at start)",
    fallbackShown: "no alias is protected",
    parse: filePath,
  },
  retainHistory: {
    flags: "--retain-history <count>",
    env: "RETAIN_HISTORY",
    description: "keep at least this many latest history entries (older ones may be pruned)",
    fallbackShown: "keep every entry",
    parse: integer(1, Number.MAX_SAFE_INTEGER),
  },
  httpPort: {
    flags: "--http-port <port>",
    env: "REGISTRY_HTTP_PORT",
    description: "also serve GET /healthz and /readyz over HTTP on this port",
    parse: integer(0, 65535),
  },
  maxConcurrentCalls: {
    flags: "--max-concurrent-calls <n>",
    env: "REGISTRY_MAX_CONCURRENT_CALLS",
    description: "admission control: calls served at once; 0 turns admission control off",
    fallback: 64,
    parse: integer(0, 1_000_000),
  },
  maxQueuedCalls: {
    flags: "--max-queued-calls <n>",
    env: "REGISTRY_MAX_QUEUED_CALLS",
    description: "calls that may wait for a slot",
    fallback: 64,
    parse: integer(0, 1_000_000),
  },
  maxQueueWaitMs: {
    flags: "--max-queue-wait-ms <ms>",
    env: "REGISTRY_MAX_QUEUE_WAIT_MS",
    description: "how long a call may wait for a slot",
    fallback: 1000,
    parse: integer(1, 600_000),
  },
  healthCheckIntervalMs: {
    flags: "--health-check-interval-ms <ms>",
    env: "HEALTH_CHECK_INTERVAL_MS",
    description: "how often the database is pinged for the health status",
    fallback: 250,
    parse: integer(50, 3_600_000),
  },
  healthCheckTimeoutMs: {
    flags: "--health-check-timeout-ms <ms>",
    env: "HEALTH_CHECK_TIMEOUT_MS",
    description: "a ping that takes longer counts as failed",
    fallback: 1000,
    parse: integer(50, 3_600_000),
  },
  shutdownGraceMs: {
    flags: "--shutdown-grace-ms <ms>",
    env: "SHUTDOWN_GRACE_MS",
    description: "how long calls in flight may finish after SIGTERM",
    fallback: 10_000,
    parse: integer(0, 600_000),
  },
  logLevel: logLevelOption,
} as const satisfies Record<string, OptionSpec>;

/** The settings of {@link serveRegistry}; each is the flag of the same name (defaults as `modelreg serve`). */
export interface RegistryServeOptions {
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  readonly databaseUrl?: string | undefined;
  readonly databaseSchema?: string | undefined;
  readonly tlsCertFile?: string | undefined;
  readonly tlsKeyFile?: string | undefined;
  readonly tlsCaFile?: string | undefined;
  readonly authTokensFile?: string | undefined;
  readonly aliasPolicyFile?: string | undefined;
  readonly retainHistory?: number | undefined;
  readonly httpPort?: number | undefined;
  readonly maxConcurrentCalls?: number | undefined;
  readonly maxQueuedCalls?: number | undefined;
  readonly maxQueueWaitMs?: number | undefined;
  readonly healthCheckIntervalMs?: number | undefined;
  readonly healthCheckTimeoutMs?: number | undefined;
  readonly shutdownGraceMs?: number | undefined;
  readonly logLevel?: string | undefined;
  /** `false`: refuse a database with pending migrations instead of applying them (`--no-migrate`). */
  readonly migrate?: boolean | undefined;
  /** How messages name each setting (the command passes the flag or variable a value came from). */
  readonly names?: Partial<OptionNames<keyof typeof registryOptionSpecs>> | undefined;
  /** The logger (default: pino JSON lines on io.stdout at logLevel). */
  readonly logger?: Logger | undefined;
}

/** A started registry: where it listens, and how to stop it. */
export interface RunningRegistry {
  /** The bound gRPC host and port. */
  readonly host: string;
  readonly port: number;
  /** The bound HTTP health port, with --http-port. */
  readonly httpPort?: number | undefined;
  /** `host:port`, for a client. */
  readonly address: string;
  readonly logger: Logger;
  /** Graceful stop: calls in flight get shutdownGraceMs, then storage and the auth file watch close. */
  stop(): Promise<void>;
}

type Resolved = ResolvedOptions<typeof registryOptionSpecs>;

/** Every option checked (under its name) and defaulted. */
export function resolveRegistryOptions(options: RegistryServeOptions, cwd: string): Resolved {
  return resolveOptions(
    registryOptionSpecs,
    options,
    { ...flagNames(registryOptionSpecs), ...options.names },
    cwd,
  );
}

/** Whether `host` is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

interface StartContext {
  readonly o: Resolved;
  readonly names: OptionNames<keyof Resolved>;
  readonly logger: Logger;
  readonly cwd: string;
}

/** The storage of --database-url; the URL never reaches a log line or a message. */
async function startStorage(c: StartContext, migrate: boolean): Promise<StorageAdapter> {
  const { o, names, logger } = c;
  const setting = parseDatabaseUrl(o.databaseUrl, c.cwd, names.databaseUrl);
  if (o.retainHistory !== undefined) {
    logger.info({ retainHistory: o.retainHistory }, `history entries pruned past ${names.retainHistory}`);
  }
  if (setting.kind === "sqlite") logger.info({ path: setting.path }, "using SQLite storage");
  if (setting.kind === "postgres") {
    logger.info({ schema: o.databaseSchema ?? "(search_path)" }, "using PostgreSQL storage");
  }
  if (setting.kind === "mysql") logger.info("using MySQL storage");
  try {
    return await openStorage(setting, { schema: o.databaseSchema, retainHistory: o.retainHistory, migrate });
  } catch (error) {
    // Not current with --no-migrate (exit 3, naming the pending migrations), or a migration that failed.
    throw migrationError(error, setting.where);
  }
}

/** Warnings for a registry reachable from other machines without TLS or without any authentication. */
function warnExposure({ o, names, logger }: StartContext, tls: boolean, mutualTls: boolean): void {
  if (isLoopback(o.host)) return;
  if (o.authTokensFile && !tls) {
    logger.warn(
      { host: o.host },
      `bearer tokens reach this registry in the clear over plaintext gRPC: set ${names.tlsCertFile} and ${names.tlsKeyFile}, or ${names.host}=127.0.0.1`,
    );
  }
  if (!o.authTokensFile && !mutualTls) {
    logger.warn(
      { host: o.host },
      `anyone who can reach this host may read, change and delete every model: set ${names.authTokensFile} (and ${names.tlsCaFile} for client certificates), or ${names.host}=127.0.0.1`,
    );
  }
}

/** The authorizer of the auth file (which also maps client certificates to roles), reloaded on SIGHUP. */
async function startAuth(c: StartContext, mutualTls: boolean): Promise<TokenAuth | undefined> {
  const file = c.o.authTokensFile;
  if (!file) return undefined;
  let auth: TokenAuth;
  try {
    auth = await createTokenAuth({ file, logger: c.logger });
  } catch (error) {
    throw new ConfigError(`${c.names.authTokensFile}: ${(error as Error).message}`);
  }
  c.logger.info({ file, ...auth.counts(), clientCertificates: mutualTls }, "tokens and roles on");
  return auth;
}

/** Reads the auth file again on SIGHUP; returns the function that stops listening. */
function reloadOnSighup(auth: TokenAuth, file: string, logger: Logger): () => void {
  const reload = () => {
    auth.reload().then(
      () => logger.info({ file, signal: "SIGHUP", ...auth.counts() }, "auth file read again"),
      (error: unknown) =>
        logger.error(
          { file, signal: "SIGHUP", err: { message: (error as Error).message } },
          "auth file not reloaded; the previous version stays in force",
        ),
    );
  };
  process.on("SIGHUP", reload);
  return () => process.off("SIGHUP", reload);
}

/**
 * Started by `modelreg up` (an IPC channel), which passes SIGHUP on: without
 * an auth file there is nothing to read again, and SIGHUP must not stop the
 * registry. Returns the function that stops listening.
 */
function ignoreSighup(logger: Logger): () => void {
  const ignore = () => logger.info({ signal: "SIGHUP" }, "no auth file to read again");
  process.on("SIGHUP", ignore);
  return () => process.off("SIGHUP", ignore);
}

/** SIGHUP: the auth file read again; ignored under `modelreg up`; else the default. Returns the undo. */
function onSighup(auth: TokenAuth | undefined, file: string | undefined, logger: Logger): () => void {
  if (auth && file) return reloadOnSighup(auth, file, logger);
  return process.channel ? ignoreSighup(logger) : () => {};
}

/**
 * The promotion policy file, or none. A file that cannot be read or is not
 * a valid policy stops the start, naming the file and the problem.
 */
async function startAliasPolicy({ o, names, logger }: StartContext) {
  if (!o.aliasPolicyFile) return undefined;
  try {
    const policy = await loadAliasPolicy(o.aliasPolicyFile);
    logger.info(
      { file: o.aliasPolicyFile, protectedAliases: Object.keys(policy.protectedAliases) },
      "alias promotion policy on",
    );
    return policy;
  } catch (error) {
    throw new ConfigError(`${names.aliasPolicyFile}: ${(error as Error).message}`);
  }
}

/** The TLS files' contents, checked as a set. */
function tlsOf({ o, names }: StartContext): { cert?: Buffer; key?: Buffer; ca?: Buffer } {
  if ((o.tlsCertFile === undefined) !== (o.tlsKeyFile === undefined)) {
    throw new ConfigError(`set both ${names.tlsCertFile} and ${names.tlsKeyFile}, or neither`);
  }
  if (o.tlsCaFile !== undefined && o.tlsCertFile === undefined) {
    throw new ConfigError(
      `${names.tlsCaFile} needs ${names.tlsCertFile} and ${names.tlsKeyFile}: client certificates are checked only over TLS`,
    );
  }
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  const [cert, key, ca] = [read(o.tlsCertFile), read(o.tlsKeyFile), read(o.tlsCaFile)];
  return { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) };
}

/**
 * Starts the Model Registry as `modelreg serve` does: checks every option,
 * opens the database (migrating it unless `migrate: false`), listens, and
 * resolves once it serves. Start failures are logged (error level) and
 * rethrown; a bad setting is a {@link ConfigError}.
 */
export async function serveRegistry(options: RegistryServeOptions, io: CliIo): Promise<RunningRegistry> {
  const names = { ...flagNames(registryOptionSpecs), ...options.names };
  const logger =
    options.logger ??
    serverLogger("registry", logLevel(options.logLevel ?? "info", names.logLevel, io.cwd), io);
  try {
    return await startRegistry(
      { o: resolveRegistryOptions(options, io.cwd), names, logger, cwd: io.cwd },
      options.migrate ?? true,
    );
  } catch (error) {
    // A bad setting, a database that needs `modelreg migrate`, a port in use: the message says it all.
    if (error instanceof CliError) logger.error(error.message);
    else logger.error({ err: error }, "the registry could not start");
    throw error;
  }
}

async function startRegistry(c: StartContext, migrate: boolean): Promise<RunningRegistry> {
  const { o, logger } = c;
  const tls = tlsOf(c);
  const aliasPolicy = await startAliasPolicy(c);
  const storage = await startStorage(c, migrate);
  if (!tls.cert)
    logger.warn(`serving plaintext gRPC; set ${c.names.tlsCertFile} and ${c.names.tlsKeyFile} for TLS`);
  warnExposure(c, Boolean(tls.cert), Boolean(tls.cert && tls.ca));
  let auth: TokenAuth | undefined;
  try {
    auth = await startAuth(c, Boolean(tls.cert && tls.ca));
  } catch (error) {
    await storage.close();
    throw error;
  }
  const roleGated = Object.entries(aliasPolicy?.protectedAliases ?? {}).filter(([, entry]) => entry.role);
  if (!auth && roleGated.length > 0) {
    logger.warn(
      { protectedAliases: roleGated.map(([alias]) => alias) },
      `these aliases need a role to move, and without ${c.names.authTokensFile} no caller has one: every move of them is refused`,
    );
  }
  const server = createRegistryServer({
    storage,
    host: o.host,
    port: o.port,
    logger,
    ...(auth ? { authorize: auth.authorize } : {}),
    ...(aliasPolicy ? { aliasPolicy } : {}),
    ...(tls.cert && tls.key
      ? { tls: { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}) } }
      : { insecure: true }),
    ...(o.httpPort === undefined ? {} : { httpPort: o.httpPort }),
    admission:
      o.maxConcurrentCalls === 0
        ? false
        : {
            maxConcurrentCalls: o.maxConcurrentCalls,
            maxQueuedCalls: o.maxQueuedCalls,
            maxQueueWaitMs: o.maxQueueWaitMs,
          },
    healthCheckIntervalMs: o.healthCheckIntervalMs,
    healthCheckTimeoutMs: o.healthCheckTimeoutMs,
  });
  let bound: Awaited<ReturnType<typeof server.listen>>;
  try {
    bound = await server.listen();
  } catch (error) {
    auth?.close();
    await server.shutdown({ graceMs: 0 }).catch(() => {});
    await storage.close();
    throw new CliError(
      `the registry cannot listen on ${o.host}:${o.port}: ${(error as Error).message}`,
      ExitCode.FAILURE,
      { cause: error },
    );
  }
  const stopSighup = onSighup(auth, o.authTokensFile, logger);
  let stopped: Promise<void> | undefined;
  return {
    host: o.host,
    port: bound.port,
    httpPort: bound.httpPort,
    address: `${o.host.includes(":") ? `[${o.host}]` : o.host}:${bound.port}`,
    logger,
    stop() {
      stopped ??= (async () => {
        stopSighup();
        auth?.close();
        await server.shutdown({ graceMs: o.shutdownGraceMs });
        await storage.close();
      })();
      return stopped;
    },
  };
}
