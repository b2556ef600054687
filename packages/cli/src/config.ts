import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { isClientCommand } from "./client/options";
import type { CliIo } from "./context";
import { CliUsageError } from "./errors";

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
      if (known) continue; // a client key this verb does not take
      throw new CliUsageError(`${where}: unknown key ${key}`);
    }
    const name = option.attributeName();
    const source = command.getOptionValueSource(name);
    // Flags and the environment win; a command's own section wins over `client:`.
    if (source !== undefined && source !== "default" && source !== "config") continue;
    command.setOptionValueWithSource(name, configValue(option, key, raw, `${where}.${key}`), "config");
  }
}

/**
 * Applies the config file (`--config` of the command or of `program`, or
 * MODELREG_CONFIG) to
 * `command`, the one about to run: each of its options still at its default
 * takes the value of its section. Flags and the environment win. A client
 * verb reads the `client:` section then its own (`models list:`). An
 * unknown section or key is a usage error naming the file, section and key.
 */
export function applyConfigFile(program: Command, command: Command, io: CliIo): void {
  const file = command.opts<{ config?: string }>().config ?? program.opts<{ config?: string }>().config;
  if (!file) return;
  const config = readConfigFile(file, io);
  const paths = allPaths(program);
  for (const name of Object.keys(config)) {
    if (!paths.has(name)) throw new CliUsageError(`config file ${file}: unknown section ${name}`);
  }
  const path = commandPath(command);
  if (isClientCommand(command)) {
    const clientKeys = new Set<string>(clientOptionNames);
    const section = config[CLIENT_SECTION];
    if (section) applySection(command, section, `config file ${file}: section ${CLIENT_SECTION}`, clientKeys);
  }
  const own = config[path];
  if (own && path !== CLIENT_SECTION) applySection(command, own, `config file ${file}: section ${path}`);
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
