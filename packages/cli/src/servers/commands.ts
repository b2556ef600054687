// `modelreg serve`, `modelreg gateway` and `modelreg up`: option definitions in registry.ts and
// gateway.ts (one table each: flag, variable, default, check), the servers' signal handling here.
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import type { Logger } from "pino";
import { booleanWord, readConfigFile } from "../config";
import type { CliIo } from "../context";
import { CliError, CliInterruptedError, CliUsageError } from "../errors";
import { ExitCode } from "../exit-codes";
import { parseDatabaseUrl } from "./database";
import { gatewayOptionSpecs, parseCacheUrl, serveGateway } from "./gateway";
import { flushLogger, serverLogger } from "./logger";
import {
  addOptions,
  ConfigError,
  integer,
  logLevel,
  type OptionSpec,
  type ResolvedOptions,
  readOptions,
  resolveOptions,
  text,
  type ValueParser,
} from "./options";
import { registryOptionSpecs, serveRegistry } from "./registry";
import { runUp, type UpMessage } from "./up";

/** What a server is told: stop (calls in flight finish), or stop at once. */
interface StopRequests {
  /** The first request to stop: what it was, for the log line. */
  readonly first: Promise<Record<string, string>>;
  /** A second SIGINT/SIGTERM, or `modelreg up` said so: stop without waiting. */
  readonly forced: Promise<void>;
  release(): void;
}

/**
 * Listens for the requests to stop: SIGINT or SIGTERM; and, when this
 * process was started by `modelreg up` (it has an IPC channel), `up`'s
 * messages and the channel's end (`up` is gone, even killed by SIGKILL).
 * Ctrl-C reaches every process of the terminal's group while `up` also
 * tells its children to stop: that is one request, and only a second
 * signal forces the stop. `release` removes the listeners.
 */
function stopRequests(): StopRequests {
  let first: (reason: Record<string, string>) => void = () => {};
  let force: () => void = () => {};
  const requests = {
    first: new Promise<Record<string, string>>((resolve) => {
      first = resolve;
    }),
    forced: new Promise<void>((resolve) => {
      force = resolve;
    }),
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    first({ signal });
    if (++signals > 1) force();
  };
  const onMessage = (message: unknown) => {
    const said = (message as Partial<UpMessage> | null)?.modelreg;
    if (said === "stop" || said === "force") first({ reason: "stopped by modelreg up" });
    if (said === "force") force();
  };
  const onDisconnect = () => first({ reason: "the modelreg up process is gone" });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  if (process.send !== undefined) {
    process.on("message", onMessage);
    process.on("disconnect", onDisconnect);
    // `up` died while this process was starting: the channel is closed already.
    if (!process.connected) onDisconnect();
  }
  return {
    ...requests,
    release() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("message", onMessage);
      process.off("disconnect", onDisconnect);
    },
  };
}

/**
 * Runs a started server until told to stop, then stops it. A failed stop is
 * logged and exits 7; a forced one (a second signal) exits 130 at once.
 */
async function untilStopped(server: { logger: Logger; stop(): Promise<void> }): Promise<void> {
  const requests = stopRequests();
  try {
    server.logger.info(await requests.first, "stopping");
    const forced = await Promise.race([server.stop().then(() => false), requests.forced.then(() => true)]);
    if (forced) {
      server.logger.warn("stopping at once: calls in flight are cut off");
      throw new CliInterruptedError("stopped at once (asked twice), without waiting for calls in flight");
    }
  } catch (error) {
    if (error instanceof CliInterruptedError) throw error;
    server.logger.error({ err: error }, "shutdown failed");
    throw new CliError(`shutdown failed: ${(error as Error).message}`, ExitCode.FAILURE);
  } finally {
    requests.release();
    await flushLogger(server.logger);
  }
}

/**
 * An on/off switch: off by `--no-<attribute>` or the config file, else by
 * its variable (false|0|no|off) in the environment; on by default.
 */
function switchOf(command: Command, io: CliIo, attribute: string, variable: string): boolean {
  const value = command.getOptionValue(attribute) as boolean | undefined;
  if (command.getOptionValueSource(attribute) !== "default" || value === false) return value !== false;
  const raw = io.env[variable];
  if (raw === undefined || raw.trim() === "") return true;
  const on = booleanWord(raw);
  if (on !== undefined) return on;
  throw new CliUsageError(`${variable} must be true or false (got "${raw}")`);
}

/** MIGRATE=false|0|no|off in the environment, unless --no-migrate or the config file said. */
const migrateOf = (command: Command, io: CliIo): boolean => switchOf(command, io, "migrate", "MIGRATE");

/**
 * The command's options checked, and the server's logger: a bad value is
 * logged (an error line, as every start failure) before it is thrown.
 */
function checkedOptions<S extends Readonly<Record<string, OptionSpec>>>(
  service: string,
  specs: S,
  command: Command,
  io: CliIo,
) {
  const { raw, names } = readOptions(command, specs);
  let level = "info";
  let levelError: unknown;
  try {
    level = logLevel(raw.logLevel ?? "info", names.logLevel ?? "LOG_LEVEL", io.cwd);
  } catch (error) {
    levelError = error;
  }
  const logger = serverLogger(service, level, io);
  try {
    if (levelError) throw levelError;
    return { values: resolveOptions(specs, raw, names, io.cwd), names, logger };
  } catch (error) {
    if (error instanceof ConfigError) logger.error(error.message);
    throw error;
  }
}

function registerServe(parent: Command, io: CliIo): void {
  const serve = parent
    .command("serve")
    .description("run the Model Registry (gRPC), until SIGINT/SIGTERM")
    .addHelpText("after", "\nSIGHUP reads --auth-tokens-file again. Logs are JSON lines on stdout.");
  addOptions(serve, registryOptionSpecs);
  serve.addOption(
    new Option(
      "--no-migrate",
      "refuse a database with pending migrations instead of applying them (env MIGRATE=false)",
    ),
  );
  serve.action(async (_options: unknown, command: Command) => {
    const { values, names, logger } = checkedOptions("registry", registryOptionSpecs, command, io);
    const migrate = migrateOf(command, io);
    const registry = await serveRegistry({ ...values, names, logger, migrate }, io);
    // Started by `modelreg up`: where it listens (the gateway is pointed there; with port 0, only this says).
    if (process.connected) process.send?.({ modelreg: "listening", port: registry.port } satisfies UpMessage);
    await untilStopped(registry);
  });
}

function registerGateway(parent: Command, io: CliIo): void {
  const gateway = parent
    .command("gateway")
    .description("run the REST/JSON API gateway in front of a registry, until SIGINT/SIGTERM");
  addOptions(gateway, gatewayOptionSpecs);
  gateway.addOption(new Option("--no-ui", "do not serve the web page at / (env MODELREG_UI=false)"));
  gateway.action(async (_options: unknown, command: Command) => {
    const { values, names, logger } = checkedOptions("gateway", gatewayOptionSpecs, command, io);
    const ui = switchOf(command, io, "ui", "MODELREG_UI");
    await untilStopped(await serveGateway({ ...values, names, logger, ui }, io));
  });
}

/** A URL option kept as given, once `check` (which throws a ConfigError naming it) accepts it. */
const checkedUrl =
  (check: (value: string, name: string, cwd: string) => unknown): ValueParser<string | undefined> =>
  (raw, name, cwd) => {
    const value = text(raw, name, cwd);
    if (value !== undefined) check(value, name, cwd);
    return value;
  };

/**
 * `modelreg up`'s own options: what it passes to its two children, checked
 * here first (a bad value is one usage error of `up`, not one per child).
 */
const upOptionSpecs = {
  registryPort: {
    ...registryOptionSpecs.port,
    flags: "--registry-port <port>",
    description: "the registry's gRPC port (0 picks a free one); the gateway is pointed at it",
    parse: integer(0, 65535),
  },
  gatewayPort: {
    ...gatewayOptionSpecs.port,
    flags: "--gateway-port <port>",
    description: "the gateway's HTTP port",
    parse: integer(1, 65535),
  },
  databaseUrl: {
    ...registryOptionSpecs.databaseUrl,
    parse: checkedUrl((value, name, cwd) => parseDatabaseUrl(value, cwd, name)),
  },
  cacheUrl: {
    ...gatewayOptionSpecs.cacheUrl,
    parse: checkedUrl((value, name) => parseCacheUrl(value, name)),
  },
  uiTitle: gatewayOptionSpecs.uiTitle,
  logLevel: registryOptionSpecs.logLevel,
} as const;

/** A host that means "every interface": the gateway reaches such a registry on localhost. */
const anyHost = (host: string | undefined) => !host || ["0.0.0.0", "::", "[::]"].includes(host);

/**
 * Where `modelreg serve` will listen when `up` was not told: REGISTRY_HOST,
 * and the config file's `serve:` section (`port`, `host`), as serve reads them.
 */
function serveListenOf(
  command: Command,
  io: CliIo,
): { port?: number | undefined; host?: string | undefined } {
  const file = command.optsWithGlobals<{ config?: string }>().config;
  const section = file ? (readConfigFile(file, io).serve ?? {}) : {};
  const port = integer(0, 65535)(section.port, "port (config file section serve)", io.cwd);
  const host = text(io.env.REGISTRY_HOST, "REGISTRY_HOST", io.cwd) ?? text(section.host, "host", io.cwd);
  return { port, host: anyHost(host) ? undefined : host };
}

function registerUp(parent: Command, io: CliIo): void {
  const up = parent
    .command("up")
    .description(
      "run the registry and the gateway together (two processes, both logs here), until SIGINT/SIGTERM",
    )
    .addHelpText(
      "after",
      "\nEvery other setting of serve and gateway comes from the environment (or the config file's serve:\n" +
        "and gateway: sections). If one process exits on its own, the other is stopped and up exits 7.\n" +
        "SIGHUP is passed to the registry; if up dies, both processes stop.",
    );
  addOptions(up, upOptionSpecs);
  up.addOption(new Option("--no-migrate", "serve --no-migrate"));
  up.addOption(new Option("--no-ui", "gateway --no-ui: no web page at / (env MODELREG_UI=false)"));
  up.action(async (_options: unknown, command: Command) => {
    const { raw, names } = readOptions(command, upOptionSpecs);
    const values: ResolvedOptions<typeof upOptionSpecs> = resolveOptions(upOptionSpecs, raw, names, io.cwd);
    // Only what was said explicitly (flag or config file) is passed on: the children read the
    // environment themselves, and their own defaults are the same.
    const given = <K extends keyof typeof values>(key: K, sources = ["cli", "config"]) =>
      sources.includes(command.getOptionValueSource(key) ?? "") ? values[key] : undefined;
    const config = command.optsWithGlobals<{ config?: string }>().config;
    // The registry's port from up (REGISTRY_PORT too), else where serve will listen: the gateway must
    // be pointed at it.
    const serveListen = serveListenOf(command, io);
    const registryPort =
      given("registryPort", ["cli", "config", "env"]) ??
      serveListen.port ??
      (serveListen.host ? registryOptionSpecs.port.fallback : undefined);
    await runUp(
      {
        ...(config ? { config: resolve(io.cwd, config) } : {}),
        registryPort,
        registryHost: serveListen.host,
        gatewayPort: given("gatewayPort"),
        databaseUrl: given("databaseUrl"),
        cacheUrl: given("cacheUrl"),
        logLevel: given("logLevel"),
        migrate: command.getOptionValue("migrate") !== false,
        ui: command.getOptionValue("ui") !== false,
        uiTitle: given("uiTitle"),
      },
      io,
    );
  });
}

/** `modelreg serve`, `modelreg gateway` and `modelreg up`. */
export function registerServerCommands(parent: Command, io: CliIo): void {
  registerServe(parent, io);
  registerGateway(parent, io);
  registerUp(parent, io);
}
