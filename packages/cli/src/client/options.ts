import { type Command, InvalidArgumentError, Option } from "commander";
import { CliUsageError } from "../errors";

/** The options every client verb takes (see {@link addClientOptions}), as commander parsed them. */
export interface ClientOptions {
  /** `host:port` of the registry (several replicas: comma-separated). */
  registry: string;
  /** Bearer token; never printed. */
  token?: string;
  /** Use TLS (implied by any of the TLS files). */
  tls?: boolean;
  /** PEM file of the root certificates to trust instead of the system's. */
  tlsCaFile?: string;
  /** PEM client certificate chain (mutual TLS). */
  tlsCertFile?: string;
  /** PEM client private key (mutual TLS). */
  tlsKeyFile?: string;
  /** Deadline of each call, in milliseconds. */
  timeout: number;
  /** One JSON document on stdout. */
  json?: boolean;
  /** One JSON object per line on stdout. */
  ndjson?: boolean;
}

/** The registry a client verb talks to when neither `--registry` nor MODELREG_REGISTRY says otherwise. */
export const DEFAULT_REGISTRY = "localhost:9090";
/** Deadline of one call when neither `--timeout` nor MODELREG_TIMEOUT_MS says otherwise. */
export const DEFAULT_TIMEOUT_MS = 10_000;

const clientCommands = new WeakSet<Command>();

/** Whether `command` took {@link addClientOptions} (its config file section is `client:`). */
export function isClientCommand(command: Command): boolean {
  return clientCommands.has(command);
}

/**
 * An argParser for an integer option in `[min, max]` that accepts a string
 * (the command line, the environment) or a number (a config file).
 */
export function integerParser(min: number, max = Number.MAX_SAFE_INTEGER): (value: unknown) => number {
  return (value) => {
    const text = typeof value === "number" ? String(value) : String(value).trim();
    const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
      throw new InvalidArgumentError(`expected an integer ${range}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** An argParser for a repeatable option: every occurrence is appended (a config file may give an array). */
export function collect(value: unknown, previous: unknown): string[] {
  const before = Array.isArray(previous) ? (previous as string[]) : [];
  const added = Array.isArray(value) ? value.map(String) : [String(value)];
  return [...before, ...added];
}

/**
 * Adds the client options (`--registry`, `--token`, TLS, `--timeout`,
 * `--json`, `--ndjson`) to a verb that calls the registry, and marks it as a
 * client verb: its config file section is `client:`.
 */
export function addClientOptions(command: Command): Command {
  clientCommands.add(command);
  return command
    .addOption(
      new Option("--registry <host:port>", "the registry (comma-separated for replicas)")
        .env("MODELREG_REGISTRY")
        .default(DEFAULT_REGISTRY),
    )
    .addOption(
      new Option("--token <token>", "bearer token sent with every call (never printed)").env(
        "MODELREG_TOKEN",
      ),
    )
    .addOption(
      new Option("--tls", "connect with TLS (the system's roots unless --tls-ca-file)").env("MODELREG_TLS"),
    )
    .addOption(
      new Option("--tls-ca-file <file>", "PEM roots to trust (implies --tls)").env("MODELREG_TLS_CA_FILE"),
    )
    .addOption(
      new Option("--tls-cert-file <file>", "PEM client certificate, for mutual TLS").env(
        "MODELREG_TLS_CERT_FILE",
      ),
    )
    .addOption(
      new Option("--tls-key-file <file>", "PEM client key, for mutual TLS").env("MODELREG_TLS_KEY_FILE"),
    )
    .addOption(
      new Option("--timeout <ms>", "deadline of each call in milliseconds")
        .env("MODELREG_TIMEOUT_MS")
        .default(DEFAULT_TIMEOUT_MS)
        .argParser(integerParser(1)),
    )
    .addOption(new Option("--json", "print one JSON document").conflicts("ndjson"))
    .addOption(new Option("--ndjson", "print one JSON object per line"));
}

/** Throws a usage error unless `value` is a `key=value` pair; returns both halves. */
export function keyValue(value: string, option: string): [string, string] {
  const at = value.indexOf("=");
  if (at <= 0) throw new CliUsageError(`${option} expects key=value, got ${JSON.stringify(value)}`);
  return [value.slice(0, at), value.slice(at + 1)];
}

/**
 * `NAME@ALIAS` split at its last `@` (the one parser of it, for `models
 * lookup` and `aliases get`): a plain name has no alias; `bert@` is a usage
 * error (an alias must follow the `@`).
 */
export function splitNameAlias(text: string): { name: string; alias?: string } {
  const at = text.lastIndexOf("@");
  if (at <= 0) return { name: text };
  const alias = text.slice(at + 1);
  if (alias.trim() === "") throw new CliUsageError(`${JSON.stringify(text)}: an alias must follow the @`);
  return { name: text.slice(0, at), alias };
}
