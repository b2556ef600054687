// `modelreg up`: the registry and the gateway together, as two child processes (`modelreg serve` and
// `modelreg gateway`) with both logs on this terminal. SIGINT/SIGTERM stops both cleanly; if one exits
// on its own, the other is stopped too and the exit code says so.
import { type ChildProcess, spawn } from "node:child_process";
import type { CliIo } from "../context";
import { CliError } from "../errors";

/** The settings of {@link runUp}: those given are passed to the children as flags; the rest they read themselves. */
export interface UpOptions {
  /** The registry's gRPC port (`modelreg serve --port`); the gateway is pointed at it. */
  readonly registryPort?: number | undefined;
  /** The gateway's HTTP port (`modelreg gateway --port`). */
  readonly gatewayPort?: number | undefined;
  /** `modelreg serve --database-url`. */
  readonly databaseUrl?: string | undefined;
  /** `modelreg gateway --cache-url`. */
  readonly cacheUrl?: string | undefined;
  /** `--log-level` of both. */
  readonly logLevel?: string | undefined;
  /** The config file (`--config`) the children read: their `serve:` and `gateway:` sections. */
  readonly config?: string | undefined;
  /** `modelreg serve --no-migrate`. */
  readonly migrate?: boolean | undefined;
  /**
   * How to run `modelreg`: the executable and its first arguments. Default:
   * this process's own (`node [its flags] <its script>`), right when `up` runs
   * from the `modelreg` bin.
   */
  readonly command?: readonly string[] | undefined;
  /** Stdio of the children. Default: inherited (both logs on this terminal). */
  readonly stdio?: "inherit" | "pipe" | undefined;
  /** Called with each child once spawned (tests read piped output). */
  readonly onSpawn?: ((name: "registry" | "gateway", child: ChildProcess) => void) | undefined;
}

/** The children's argument lists. */
export function upArguments(options: UpOptions, env: CliIo["env"]): { serve: string[]; gateway: string[] } {
  const serve = ["serve"];
  const gateway = ["gateway"];
  if (options.registryPort !== undefined) {
    serve.push("--port", String(options.registryPort));
    // Unless the environment names the registry for the gateway, point it at the one just started.
    if (!env.REGISTRY_ADDRESS) gateway.push("--registry", `localhost:${options.registryPort}`);
  }
  if (options.gatewayPort !== undefined) gateway.push("--port", String(options.gatewayPort));
  if (options.databaseUrl !== undefined) serve.push("--database-url", options.databaseUrl);
  if (options.cacheUrl !== undefined) gateway.push("--cache-url", options.cacheUrl);
  if (options.logLevel !== undefined) {
    serve.push("--log-level", options.logLevel);
    gateway.push("--log-level", options.logLevel);
  }
  if (options.migrate === false) serve.push("--no-migrate");
  const global = options.config === undefined ? [] : ["--config", options.config];
  return { serve: [...global, ...serve], gateway: [...global, ...gateway] };
}

/** A child that stopped on its own: `modelreg up` stopped the other one and fails. */
export class ServerExitedError extends CliError {
  override readonly name: string = "ServerExitedError";
}

/**
 * Runs `modelreg serve` and `modelreg gateway` as child processes until
 * SIGINT/SIGTERM (then both are stopped with SIGTERM; resolves once both
 * exited) or until one exits on its own (the other is stopped, and the
 * promise rejects with a {@link ServerExitedError} naming it). The signal
 * listeners are removed before it settles.
 */
export async function runUp(options: UpOptions, io: CliIo): Promise<void> {
  const [executable, ...prefix] = options.command ?? [
    process.execPath,
    ...process.execArgv,
    process.argv[1] ?? "",
  ];
  if (!executable) throw new Error("runUp: no command to run modelreg with");
  const args = upArguments(options, io.env);
  const children = (["registry", "gateway"] as const).map((name) => {
    const child = spawn(executable, [...prefix, ...(name === "registry" ? args.serve : args.gateway)], {
      stdio: options.stdio === "pipe" ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"],
      env: { ...process.env, ...io.env },
      cwd: io.cwd,
    });
    options.onSpawn?.(name, child);
    return { name, child };
  });
  let stopping = false;
  let failure: string | undefined;
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const { child } of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  const onSignal = () => stopAll();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await Promise.all(
      children.map(
        ({ name, child }) =>
          new Promise<void>((resolve) => {
            child.once("error", (error) => {
              failure ??= `the ${name} could not start: ${error.message}`;
              stopAll();
              resolve();
            });
            child.once("exit", (code, signal) => {
              if (!stopping) failure ??= `the ${name} exited (${signal ?? code}); stopped the other process`;
              // Killed by the signal it was sent (it had not set up its own handling yet) counts as stopped.
              else if (code !== 0 && signal === null)
                failure ??= `the ${name} did not stop cleanly (${code})`;
              stopAll();
              resolve();
            });
          }),
      ),
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (failure) throw new ServerExitedError(failure);
}
