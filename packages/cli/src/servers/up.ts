// `modelreg up`: the registry and the gateway together, as two child processes (`modelreg serve` and
// `modelreg gateway`) with both logs on this terminal. SIGINT/SIGTERM stops both cleanly (a second one
// makes them exit at once); if one exits on its own, the other is stopped too and the exit code says so.
// Each child has an IPC channel to `up`: if `up` dies (even by SIGKILL), the channel closes and the
// children stop by themselves. Passwords (database and Redis URLs) reach the children in their
// environment, never on their command lines (which every local user can read).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CliIo } from "../context";
import { CliError, CliInterruptedError } from "../errors";
import { ExitCode } from "../exit-codes";

/** The settings of {@link runUp}: those given are passed to the children; the rest they read themselves. */
export interface UpOptions {
  /** The registry's gRPC port (`modelreg serve --port`); the gateway is pointed at it. */
  readonly registryPort?: number | undefined;
  /**
   * The host the gateway reaches the registry on, with registryPort (default
   * `localhost`). Ignored when the environment has REGISTRY_ADDRESS.
   */
  readonly registryHost?: string | undefined;
  /** The gateway's HTTP port (`modelreg gateway --port`). */
  readonly gatewayPort?: number | undefined;
  /** The registry's database (DATABASE_URL in its environment: it may hold a password). */
  readonly databaseUrl?: string | undefined;
  /** The gateway's read cache (CACHE_URL in its environment: it may hold a password). */
  readonly cacheUrl?: string | undefined;
  /** `--log-level` of both. */
  readonly logLevel?: string | undefined;
  /** The config file (`--config`) the children read: their `serve:` and `gateway:` sections. */
  readonly config?: string | undefined;
  /** `modelreg serve --no-migrate`. */
  readonly migrate?: boolean | undefined;
  /** `false`: `modelreg gateway --no-ui` (no web page at `/`). */
  readonly ui?: boolean | undefined;
  /** The web page's title (`modelreg gateway --ui-title`). */
  readonly uiTitle?: string | undefined;
  /**
   * How to run `modelreg`: the executable and its first arguments. Default:
   * this package's own bin with this node (never the script that called
   * `runUp`, which may be any program).
   */
  readonly command?: readonly string[] | undefined;
  /** Stdio of the children. Default: inherited (both logs on this terminal). */
  readonly stdio?: "inherit" | "pipe" | undefined;
  /** Called with each child once spawned (tests read piped output). */
  readonly onSpawn?: ((name: "registry" | "gateway", child: ChildProcess) => void) | undefined;
}

/** What each child gets: its arguments, and the variables added to its environment. */
export interface UpChildren {
  readonly serve: string[];
  readonly gateway: string[];
  readonly serveEnv: Record<string, string>;
  readonly gatewayEnv: Record<string, string>;
}

/** The children's argument lists and environments. */
export function upChildren(options: UpOptions, env: CliIo["env"]): UpChildren {
  const serve = ["serve"];
  const gateway = ["gateway"];
  const serveEnv: Record<string, string> = {};
  const gatewayEnv: Record<string, string> = {};
  if (options.registryPort !== undefined) {
    serve.push("--port", String(options.registryPort));
    // Unless the environment names the registry for the gateway, point it at the one just started.
    const host = options.registryHost ?? "localhost";
    const target = host.includes(":") ? `[${host}]` : host;
    if (!env.REGISTRY_ADDRESS) gateway.push("--registry", `${target}:${options.registryPort}`);
  }
  if (options.gatewayPort !== undefined) gateway.push("--port", String(options.gatewayPort));
  // The environment outranks the children's config sections, as a flag would; and `ps` does not show it.
  if (options.databaseUrl !== undefined) serveEnv.DATABASE_URL = options.databaseUrl;
  if (options.cacheUrl !== undefined) gatewayEnv.CACHE_URL = options.cacheUrl;
  if (options.logLevel !== undefined) {
    serve.push("--log-level", options.logLevel);
    gateway.push("--log-level", options.logLevel);
  }
  if (options.migrate === false) serve.push("--no-migrate");
  if (options.ui === false) gateway.push("--no-ui");
  // One argument: a title starting with "-" stays the title.
  if (options.uiTitle !== undefined) gateway.push(`--ui-title=${options.uiTitle}`);
  const global = options.config === undefined ? [] : ["--config", options.config];
  return { serve: [...global, ...serve], gateway: [...global, ...gateway], serveEnv, gatewayEnv };
}

/** The file of this module (sources or a bundle, ESM or CommonJS). */
function thisFile(): string {
  // CommonJS bundles have __filename (import.meta is empty there); ESM has import.meta.url.
  return typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
}

/**
 * The command that runs this package's `modelreg` bin with this node: the
 * bundle's `bin.js` next to it, or, from the sources (tests), `src/bin.ts`
 * through tsx.
 */
export function ownBinCommand(): string[] {
  const file = thisFile();
  const sourceMaps = process.execArgv.includes("--enable-source-maps") ? ["--enable-source-maps"] : [];
  if (file.endsWith(".ts")) {
    const bin = join(dirname(file), "..", "bin.ts");
    return [process.execPath, "--import", createRequire(file).resolve("tsx"), bin];
  }
  const bin = join(dirname(file), "bin.js");
  if (!existsSync(bin)) throw new CliError(`modelreg up: cannot find the modelreg bin (${bin})`);
  return [process.execPath, ...sourceMaps, bin];
}

/** A child that stopped on its own: `modelreg up` stopped the other one and fails. */
export class ServerExitedError extends CliError {
  override readonly name: string = "ServerExitedError";
}

/**
 * A message `up` sends its children over the IPC channel (stop; stop at
 * once), or the registry sends `up` (`listening`, with its port).
 */
export type UpMessage =
  | { readonly modelreg: "stop" }
  | { readonly modelreg: "force" }
  | { readonly modelreg: "listening"; readonly port: number };

type ChildName = "registry" | "gateway";

/** Spawns `modelreg serve` or `modelreg gateway` with its IPC channel. */
function spawnChild(
  name: ChildName,
  command: readonly string[],
  options: UpOptions,
  io: CliIo,
): ChildProcess {
  const [executable, ...prefix] = command;
  if (!executable) throw new Error("runUp: no command to run modelreg with");
  const args = upChildren(options, io.env);
  const registry = name === "registry";
  const child = spawn(executable, [...prefix, ...(registry ? args.serve : args.gateway)], {
    // The IPC channel: closed when `up` is gone, however it died; the children stop then.
    stdio:
      options.stdio === "pipe" ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...io.env, ...(registry ? args.serveEnv : args.gatewayEnv) },
    cwd: io.cwd,
  });
  options.onSpawn?.(name, child);
  return child;
}

/** The port the registry says it listens on; undefined if it exits first. */
function listeningPort(child: ChildProcess): Promise<number | undefined> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const said = message as Partial<{ modelreg: string; port: number }> | null;
      if (said?.modelreg !== "listening" || typeof said.port !== "number") return;
      done(said.port);
    };
    const onExit = () => done(undefined);
    const done = (port: number | undefined) => {
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(port);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** Whether a child's exit, once told to stop, is a stop rather than a failure. */
function cleanStop(code: number | null, signal: NodeJS.Signals | null, forced: boolean): boolean {
  if (signal !== null) return signal === "SIGTERM" || signal === "SIGINT";
  return code === 0 || (forced && code === ExitCode.INTERRUPTED);
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Tells a child to stop (or to stop at once) over its channel; a signal if the channel is gone. */
function tell(child: ChildProcess, message: UpMessage): void {
  if (!running(child)) return;
  if (child.connected) child.send(message, (error) => error && running(child) && child.kill("SIGTERM"));
  else child.kill(message.modelreg === "force" ? "SIGKILL" : "SIGTERM");
}

/** `up`'s children: started, told to stop, and what their exits mean. */
class Supervisor {
  readonly children: { name: ChildName; child: ChildProcess }[] = [];
  readonly exits: Promise<void>[] = [];
  stopping = false;
  forced = false;
  failure: string | undefined;

  constructor(
    private readonly command: readonly string[],
    private readonly io: CliIo,
  ) {}

  start(name: ChildName, options: UpOptions): ChildProcess {
    const child = spawnChild(name, this.command, options, this.io);
    this.children.push({ name, child });
    this.exits.push(
      new Promise<void>((resolve) => {
        child.once("error", (error) => {
          this.failure ??= `the ${name} could not start: ${error.message}`;
          this.stop();
          resolve();
        });
        child.once("exit", (code, signal) => {
          if (!this.stopping)
            this.failure ??= `the ${name} exited (${signal ?? code}); stopped the other process`;
          // Killed by SIGINT/SIGTERM (it had not set up its own handling yet) counts as stopped;
          // SIGKILL (the OOM killer) or another signal does not, nor a failed stop. Told to stop at
          // once, it exits 130.
          else if (!cleanStop(code, signal, this.forced))
            this.failure ??= `the ${name} did not stop cleanly (${signal ?? code})`;
          this.stop();
          resolve();
        });
      }),
    );
    return child;
  }

  stop(message: UpMessage = { modelreg: "stop" }): void {
    if (this.stopping && message.modelreg === "stop") return;
    this.stopping = true;
    this.forced ||= message.modelreg === "force";
    for (const { child } of this.children) tell(child, message);
  }
}

/**
 * Runs `modelreg serve` and `modelreg gateway` as child processes until
 * SIGINT/SIGTERM (then both are told to stop; a second signal makes them
 * exit at once; resolves once both exited) or until one exits on its own
 * (the other is stopped, and the promise rejects with a
 * {@link ServerExitedError} naming it). With registryPort 0 the gateway
 * starts once the registry said which port it got. SIGHUP is passed to the
 * registry (which reads its auth file again). The signal listeners are
 * removed before it settles.
 */
export async function runUp(options: UpOptions, io: CliIo): Promise<void> {
  const supervisor = new Supervisor(options.command ?? ownBinCommand(), io);
  const onSignal = () => supervisor.stop({ modelreg: supervisor.stopping ? "force" : "stop" });
  const registry = supervisor.start("registry", options);
  const onHangup = () => {
    if (running(registry)) registry.kill("SIGHUP");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onHangup);
  try {
    const port = options.registryPort === 0 ? await listeningPort(registry) : options.registryPort;
    if (!supervisor.stopping) supervisor.start("gateway", { ...options, registryPort: port });
    await Promise.all(supervisor.exits);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onHangup);
  }
  if (supervisor.failure) throw new ServerExitedError(supervisor.failure);
  if (supervisor.forced)
    throw new CliInterruptedError("stopped at once, without waiting for calls in flight");
}
