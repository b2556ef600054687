// The servers' options, defined once as data: each becomes a commander Option (flag, environment
// variable, default, help) and is validated by the same parser whatever its source. A bad value is a
// ConfigError naming where it came from: the variable (REGISTRY_PORT), the flag (--port) or the config
// file's key, so the message points at what to fix.
import { accessSync, constants } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { CliUsageError } from "../errors";

/** A bad server setting: the message names the flag, variable or config key, never a password. */
export class ConfigError extends CliUsageError {
  override readonly name: string = "ConfigError";
}

/** Parses one raw value (a string from a flag or variable, a string or number from the config file). */
export type ValueParser<T> = (raw: unknown, name: string, cwd: string) => T;

/** One server option: its flag, its environment variable, its default and how its value is checked. */
export interface OptionSpec<T = unknown> {
  /** The long flag with its argument, as commander takes it: `--port <port>`. */
  readonly flags: string;
  readonly env?: string | undefined;
  readonly description: string;
  /** The default, in the option's own type; undefined: unset. */
  readonly fallback?: T | undefined;
  /** How the default shows in `--help` when it is not the value itself. */
  readonly fallbackShown?: string | undefined;
  readonly parse: ValueParser<T>;
}

/** A string option: trimmed; empty is unset. */
export const text: ValueParser<string | undefined> = (raw) => {
  const value = String(raw ?? "").trim();
  return value === "" ? undefined : value;
};

/** An integer option within [min, max]; empty is unset. */
export function integer(min: number, max: number): ValueParser<number | undefined> {
  return (raw, name) => {
    if (raw === undefined || String(raw).trim() === "") return undefined;
    // Decimal digits only: Number() would also take 0x1F90, 1e3 and 0b1.
    const decimal = typeof raw === "number" || /^\s*[-+]?\d+\s*$/.test(String(raw));
    const value = Number(raw);
    if (!decimal || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${String(raw)}")`);
    }
    return value;
  };
}

/** A file path option, resolved from the working directory; read later by the server (which names it). */
export const filePath: ValueParser<string | undefined> = (raw, name, cwd) => {
  const value = text(raw, name, cwd);
  return value === undefined ? undefined : resolve(cwd, value);
};

/** A file path option: the file must be readable now; resolved from the working directory. */
export const readableFile: ValueParser<string | undefined> = (raw, name, cwd) => {
  const value = text(raw, name, cwd);
  if (value === undefined) return undefined;
  const path = resolve(cwd, value);
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new ConfigError(`${name}: cannot read ${value}: ${(error as Error).message}`);
  }
  return path;
};

const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** A pino log level. */
export const logLevel: ValueParser<string> = (raw, name) => {
  const value = String(raw ?? "").trim() || "info";
  if (!levels.includes(value)) throw new ConfigError(`${name} must be one of ${levels.join(", ")}`);
  return value;
};

/** `--log-level` / `LOG_LEVEL`: the same option for both servers. */
export const logLevelOption = {
  flags: "--log-level <level>",
  env: "LOG_LEVEL",
  description: "pino level; logs are JSON lines on stdout",
  fallback: "info",
  parse: logLevel,
} as const satisfies OptionSpec<string>;

/** The commander attribute name of a spec: `--max-queue-wait-ms <ms>` -> `maxQueueWaitMs`. */
export function attributeOf(spec: OptionSpec): string {
  const long = /--([a-z0-9-]+)/.exec(spec.flags)?.[1] ?? "";
  return long.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The long flag of a spec, without its argument: `--port`. */
const flagOf = (spec: OptionSpec) => /--[a-z0-9-]+/.exec(spec.flags)?.[0] ?? spec.flags;

/** Adds every spec to `command` as an Option with its variable and default (raw: checked in the action). */
export function addOptions(command: Command, specs: Readonly<Record<string, OptionSpec>>): Command {
  for (const spec of Object.values(specs)) {
    // Commander shows a default only when there is a value; an unset one is said in the description.
    const unset = spec.fallback === undefined && spec.fallbackShown ? ` (unset: ${spec.fallbackShown})` : "";
    const option = new Option(spec.flags, `${spec.description}${unset}`);
    if (spec.env) option.env(spec.env);
    if (spec.fallback !== undefined) option.default(spec.fallback, spec.fallbackShown);
    command.addOption(option);
  }
  return command;
}

/** The checked value of each option of a spec table: never undefined when the option has a default. */
export type ResolvedOptions<S extends Readonly<Record<string, OptionSpec>>> = {
  -readonly [K in keyof S]: S[K] extends { readonly fallback: unknown }
    ? NonNullable<ReturnType<S[K]["parse"]>>
    : ReturnType<S[K]["parse"]>;
};

/**
 * Checks and defaults every option of `options` with its spec, naming it in
 * messages by `names` (default: its flag).
 */
export function resolveOptions<S extends Readonly<Record<string, OptionSpec>>>(
  specs: S,
  options: Readonly<Partial<Record<keyof S, unknown>>>,
  names: OptionNames<keyof S & string>,
  cwd: string,
): ResolvedOptions<S> {
  const resolved: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const value = options[key as keyof S];
    resolved[key] =
      (value === undefined ? undefined : spec.parse(value, names[key as keyof S & string], cwd)) ??
      spec.fallback;
  }
  return resolved as ResolvedOptions<S>;
}

/** What a resolved option is called in messages: by the source its value came from. */
export type OptionNames<K extends string> = Readonly<Record<K, string>>;

/**
 * The raw values of `command`'s options after parsing (checked later by
 * {@link resolveOptions}), and the name of each: the flag, variable or
 * config key its value came from.
 */
export function readOptions<S extends Readonly<Record<string, OptionSpec>>>(
  command: Command,
  specs: S,
): { raw: Partial<Record<keyof S, unknown>>; names: OptionNames<keyof S & string> } {
  const raw: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  const values = command.opts();
  for (const [key, spec] of Object.entries(specs)) {
    const attribute = attributeOf(spec);
    const source = command.getOptionValueSource(attribute);
    names[key] =
      source === "cli"
        ? flagOf(spec)
        : source === "env" && spec.env
          ? spec.env
          : source === "config"
            ? `${attribute} (config file)`
            : (spec.env ?? flagOf(spec));
    raw[key] = values[attribute];
  }
  return { raw: raw as never, names: names as never };
}

/** The names of options as their flags: how errors name them when a program calls serveRegistry itself. */
export function flagNames<S extends Readonly<Record<string, OptionSpec>>>(
  specs: S,
): OptionNames<keyof S & string> {
  const names: Record<string, string> = {};
  for (const [key, spec] of Object.entries(specs)) names[key] = flagOf(spec);
  return names as never;
}
