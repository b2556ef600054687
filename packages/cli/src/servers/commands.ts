// `modelreg serve`, `modelreg gateway` and `modelreg up`: option definitions in registry.ts and
// gateway.ts (one table each: flag, variable, default, check), the servers' signal handling here.
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import type { Logger } from "pino";
import type { CliIo } from "../context";
import { CliError, CliUsageError } from "../errors";
import { ExitCode } from "../exit-codes";
import { gatewayOptionSpecs, serveGateway } from "./gateway";
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
} from "./options";
import { registryOptionSpecs, serveRegistry } from "./registry";
import { runUp } from "./up";

/**
 * Resolves with the first SIGINT or SIGTERM. Later ones are ignored (Ctrl-C
 * reaches every process of the terminal's group, and `modelreg up` sends
 * SIGTERM too) until `release` removes the listeners.
 */
function stopSignal(): { signal: Promise<NodeJS.Signals>; release(): void } {
  let on: (signal: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    on = resolve;
  });
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return {
    signal,
    release() {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}

/** Runs a started server until SIGINT/SIGTERM, then stops it; a failed stop is logged and exits 7. */
async function untilStopped(server: { logger: Logger; stop(): Promise<void> }): Promise<void> {
  const stop = stopSignal();
  try {
    server.logger.info({ signal: await stop.signal }, "stopping");
    await server.stop();
  } catch (error) {
    server.logger.error({ err: error }, "shutdown failed");
    throw new CliError(`shutdown failed: ${(error as Error).message}`, ExitCode.FAILURE);
  } finally {
    stop.release();
    await flushLogger(server.logger);
  }
}

/** MIGRATE=false|0|no|off in the environment, unless --no-migrate or the config file said. */
function migrateOf(command: Command, io: CliIo): boolean {
  const value = command.getOptionValue("migrate") as boolean | undefined;
  if (command.getOptionValueSource("migrate") !== "default" || value === false) return value !== false;
  const raw = io.env.MIGRATE?.trim().toLowerCase();
  if (raw === undefined || raw === "" || ["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new CliUsageError(`MIGRATE must be true or false (got "${io.env.MIGRATE}")`);
}

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
    await untilStopped(await serveRegistry({ ...values, names, logger, migrate }, io));
  });
}

function registerGateway(parent: Command, io: CliIo): void {
  const gateway = parent
    .command("gateway")
    .description("run the REST/JSON API gateway in front of a registry, until SIGINT/SIGTERM");
  addOptions(gateway, gatewayOptionSpecs);
  gateway.action(async (_options: unknown, command: Command) => {
    const { values, names, logger } = checkedOptions("gateway", gatewayOptionSpecs, command, io);
    await untilStopped(await serveGateway({ ...values, names, logger }, io));
  });
}

/** `modelreg up`'s own options: what it passes to its two children. */
const upOptionSpecs = {
  registryPort: {
    ...registryOptionSpecs.port,
    flags: "--registry-port <port>",
    description: "the registry's gRPC port; the gateway is pointed at it",
    parse: integer(1, 65535),
  },
  gatewayPort: {
    ...gatewayOptionSpecs.port,
    flags: "--gateway-port <port>",
    description: "the gateway's HTTP port",
    parse: integer(1, 65535),
  },
  databaseUrl: registryOptionSpecs.databaseUrl,
  cacheUrl: gatewayOptionSpecs.cacheUrl,
  logLevel: { ...registryOptionSpecs.logLevel, parse: text },
} as const;

function registerUp(parent: Command, io: CliIo): void {
  const up = parent
    .command("up")
    .description(
      "run the registry and the gateway together (two processes, both logs here), until SIGINT/SIGTERM",
    )
    .addHelpText(
      "after",
      "\nEvery other setting of serve and gateway comes from the environment (or the config file's serve:\n" +
        "and gateway: sections). If one process exits on its own, the other is stopped and up exits 7.",
    );
  addOptions(up, upOptionSpecs);
  up.addOption(new Option("--no-migrate", "serve --no-migrate"));
  up.action(async (_options: unknown, command: Command) => {
    const { raw, names } = readOptions(command, upOptionSpecs);
    const values: ResolvedOptions<typeof upOptionSpecs> = resolveOptions(upOptionSpecs, raw, names, io.cwd);
    // Only what was said explicitly (flag or config file) is passed on: the children read the
    // environment themselves, and their own defaults are the same.
    const given = <K extends keyof typeof values>(key: K, sources = ["cli", "config"]) =>
      sources.includes(command.getOptionValueSource(key) ?? "") ? values[key] : undefined;
    const config = command.optsWithGlobals<{ config?: string }>().config;
    await runUp(
      {
        ...(config ? { config: resolve(io.cwd, config) } : {}),
        // From REGISTRY_PORT too: the gateway must be pointed at it.
        registryPort: given("registryPort", ["cli", "config", "env"]),
        gatewayPort: given("gatewayPort"),
        databaseUrl: given("databaseUrl"),
        cacheUrl: given("cacheUrl"),
        logLevel: given("logLevel"),
        migrate: command.getOptionValue("migrate") !== false,
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
