import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { isClientCommand } from "./client/options";
import type { CliIo } from "./context";
import { CliUsageError } from "./errors";

const FALSE_WORDS: readonly string[] = ["0", "false", "no", "off"];
const TRUE_WORDS: readonly string[] = ["1", "true", "yes", "on"];

/**
 * The one reading of a boolean word in the environment (MODELREG_TLS,
 * MODELREG_DEBUG, MIGRATE): `1 true yes on` is true, `0 false no off` false
 * (any case, spaces around), anything else undefined. Each caller says what
 * an empty value means.
 */
export function booleanWord(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

/** The section of the config file every client verb reads. */
export const CLIENT_SECTION = "client";

type Section = Readonly<Record<string, unknown>>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The path of `command` below the program, space-separated (`serve`, `models list`). */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

function allPaths(program: Command): Set<string> {
  const paths = new Set<string>([CLIENT_SECTION]);
  const walk = (command: Command) => {
    for (const sub of command.commands) {
      paths.add(commandPath(sub));
      walk(sub);
    }
  };
  walk(program);
  return paths;
}

/**
 * Reads a config file (YAML, of which JSON is a subset): a mapping of
 * sections (`serve:`, `gateway:`, `up:`, `migrate:`, `client:`, or any
 * command path such as `models list:`) to option values. A file that cannot
 * be read or parsed, or is not such a mapping, is a usage error.
 */
export function readConfigFile(file: string, io: CliIo): Record<string, Section> {
  const path = resolve(io.cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new CliUsageError(`config file ${file}: cannot read it (${reason})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : "not YAML or JSON";
    throw new CliUsageError(`config file ${file}: cannot parse it: ${reason}`);
  }
  if (document === null || document === undefined) return {};
  if (!isObject(document)) throw new CliUsageError(`config file ${file}: expected a mapping of sections`);
  for (const [name, section] of Object.entries(document)) {
    if (section !== null && !isObject(section)) {
      throw new CliUsageError(`config file ${file}: section ${name}: expected a mapping of options`);
    }
  }
  return document as Record<string, Section>;
}

/** The option of `command` a config key names: its attribute name (`databaseUrl`) or long flag (`database-url`). */
function optionOf(command: Command, key: string): Option | undefined {
  return command.options.find((o) => o.attributeName() === key || o.long === `--${key}`);
}

/**
 * The value of `option` a config key gives. A negated flag (`--no-migrate`)
 * keyed by its attribute (`migrate: false`) takes the value as is; keyed by
 * its flag (`no-migrate: true`), the opposite.
 */
function configValue(option: Option, key: string, raw: unknown, where: string): unknown {
  // A flag without a value (commander's isBoolean() leaves out negated ones).
  if (!option.required && !option.optional) {
    if (typeof raw !== "boolean") throw new CliUsageError(`${where}: expected true or false`);
    return option.negate && key !== option.attributeName() ? !raw : raw;
  }
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.some((v) => typeof v === "object" && v !== null)) {
    throw new CliUsageError(`${where}: expected a string, a number or a list of them`);
  }
  const parse = option.parseArg as ((value: unknown, previous: unknown) => unknown) | undefined;
  try {
    if (parse) return values.reduce((previous, v) => parse(v, previous), option.defaultValue);
  } catch (error) {
    throw new CliUsageError(`${where}: ${error instanceof Error ? error.message : "invalid value"}`);
  }
  if (option.variadic) return values.map(String);
  if (Array.isArray(raw)) throw new CliUsageError(`${where}: expected one value, not a list`);
  if (option.argChoices && !option.argChoices.includes(String(raw))) {
    throw new CliUsageError(`${where}: expected one of ${option.argChoices.join(", ")}`);
  }
  return String(raw);
}

function applySection(command: Command, section: Section, where: string, known?: Set<string>): void {
  for (const [key, raw] of Object.entries(section)) {
    if (known && !known.has(key)) throw new CliUsageError(`${where}: unknown key ${key}`);
    const option = optionOf(command, key);
    if (!option) {
      if (known) continue; // a key of the section this command does not take
      throw new CliUsageError(`${where}: unknown key ${key}`);
    }
    const name = option.attributeName();
    const source = command.getOptionValueSource(name);
    // Flags and the environment win; a later (more specific) section wins over an earlier one.
    if (source !== undefined && source !== "default" && source !== "config") continue;
    command.setOptionValueWithSource(name, configValue(option, key, raw, `${where}.${key}`), "config");
  }
}

/** The keys that name an option of `group` or of any command below it. */
function keysBelow(group: Command): Set<string> {
  const keys = new Set<string>();
  const walk = (command: Command) => {
    for (const o of command.options) {
      keys.add(o.attributeName());
      if (o.long) keys.add(o.long.slice(2));
    }
    for (const sub of command.commands) walk(sub);
  };
  walk(group);
  return keys;
}

/** The `--config` given closest to `command` (on it, then on each parent up to the program). */
export function configFileOf(command: Command): string | undefined {
  for (let c: Command | null = command; c; c = c.parent) {
    if (c.getOptionValueSource("config") === "cli") return c.opts<{ config?: string }>().config;
  }
  // MODELREG_CONFIG (the program's option reads it) or a config set some other way.
  for (let c: Command | null = command; c; c = c.parent) {
    const file = c.opts<{ config?: string }>().config;
    if (file) return file;
  }
  return undefined;
}

/**
 * Applies the config file (`--config` given anywhere on the command line,
 * else MODELREG_CONFIG) to `command`, the one about to run: each of its
 * options still at its default takes the value of its sections. Flags and
 * the environment win. The sections apply from the least to the most
 * specific: `client:` (client verbs), then each group's (`models:`, keys
 * its commands do not take are skipped), then the command's own
 * (`models list:`). An unknown section or key is a usage error naming the
 * file, section and key. Then `--json`/`--ndjson` are settled
 * ({@link resolveOutputFormat}).
 */
export function applyConfigFile(program: Command, command: Command, io: CliIo): void {
  const file = configFileOf(command) ?? program.opts<{ config?: string }>().config;
  if (file) applySections(program, command, file, io);
  resolveOutputFormat(command);
}

function applySections(program: Command, command: Command, file: string, io: CliIo): void {
  const config = readConfigFile(file, io);
  const paths = allPaths(program);
  for (const name of Object.keys(config)) {
    if (!paths.has(name)) throw new CliUsageError(`config file ${file}: unknown section ${name}`);
  }
  const where = (name: string) => `config file ${file}: section ${name}`;
  if (isClientCommand(command)) {
    const section = config[CLIENT_SECTION];
    if (section) applySection(command, section, where(CLIENT_SECTION), new Set<string>(clientOptionNames));
  }
  const groups: Command[] = [];
  for (let c = command.parent; c?.parent; c = c.parent) groups.unshift(c);
  for (const group of groups) {
    const name = commandPath(group);
    const section = config[name];
    if (section) applySection(command, section, where(name), keysBelow(group));
  }
  const path = commandPath(command);
  const own = config[path];
  if (own && path !== CLIENT_SECTION) applySection(command, own, where(path));
}

const sourceRank = (source: string | undefined) => ({ cli: 3, env: 2, config: 1 })[source ?? ""] ?? 0;

/**
 * Settles `--json` / `--ndjson` before the command runs (nothing called
 * yet): they are one setting, so the one from the stronger source (flag >
 * environment > config file) wins and the other is cleared; both from the
 * same source is a usage error.
 */
export function resolveOutputFormat(command: Command): void {
  const has = (key: string) => command.options.some((o) => o.attributeName() === key);
  if (!has("json") || !has("ndjson")) return;
  const { json, ndjson } = command.opts<{ json?: boolean; ndjson?: boolean }>();
  if (!json || !ndjson) return;
  const jsonRank = sourceRank(command.getOptionValueSource("json"));
  const ndjsonRank = sourceRank(command.getOptionValueSource("ndjson"));
  if (jsonRank === ndjsonRank) throw new CliUsageError("--json and --ndjson exclude each other");
  command.setOptionValueWithSource(jsonRank < ndjsonRank ? "json" : "ndjson", undefined, "default");
}

/** Keys a `client:` section may hold: the client options, and the per-verb ones shared by many verbs. */
const clientOptionNames = [
  "registry",
  "token",
  "tls",
  "tlsCaFile",
  "tls-ca-file",
  "tlsCertFile",
  "tls-cert-file",
  "tlsKeyFile",
  "tls-key-file",
  "timeout",
  "json",
  "ndjson",
];
