import { Command, Help, Option } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { registerAliasCommands } from "./client/aliases";
import { registerHistoryCommand } from "./client/history";
import { registerModelCommands } from "./client/models";
import { applyConfigFile, booleanWord } from "./config";
import type { CliIo } from "./context";
import { CliUsageError } from "./errors";
import { registerMigrateCommand } from "./migrate/command";
import { registerServerCommands } from "./servers/commands";

const examples = `
Examples:
  $ modelreg up                                  # registry + REST gateway, SQLite in ./data
  $ modelreg serve --database-url postgres://user@db/registry
  $ modelreg models create bert 1.0.0 --framework onnx --tag production
  $ modelreg models list --filter 'tags:production AND framework = "onnx"'
  $ modelreg models lookup bert@champion --json
  $ modelreg aliases set bert champion 1.0.0
  $ modelreg models export > models.ndjson
  $ modelreg models import --registry other:9090 < models.ndjson

Options come from flags, then environment variables (shown in each command's
--help), then the config file (--config, MODELREG_CONFIG), then defaults.
Exit codes: 0 ok, 1 usage, 2 not found, 3 conflict, 4 unavailable, 5 invalid,
6 denied, 7 failure, 130 interrupted.`;

/**
 * Makes `command` read environment variables from `env` (commander reads
 * process.env): a value option takes a non-empty value; a boolean option is
 * on unless the variable is empty or a false word ({@link booleanWord}).
 * Same precedence as commander's: a flag wins. It replaces commander's
 * private `_parseOptionsEnv` (commander is pinned to 14.0.x for it; a
 * commander without it fails here at once rather than read process.env).
 */
function bindEnvironment(command: Command, env: CliIo["env"]): void {
  if (typeof (Command.prototype as unknown as Record<string, unknown>)._parseOptionsEnv !== "function") {
    throw new Error("commander no longer has _parseOptionsEnv: the environment binding needs updating");
  }
  const parseOptionsEnv = function (this: Command): void {
    const events = this as unknown as NodeJS.EventEmitter;
    for (const option of this.options) {
      const value = option.envVar === undefined ? undefined : env[option.envVar];
      if (value === undefined) continue;
      const key = option.attributeName();
      const source = this.getOptionValueSource(key);
      if (this.getOptionValue(key) !== undefined && !["default", "config", "env"].includes(source ?? "")) {
        continue;
      }
      if (option.required || option.optional) {
        if (value !== "") events.emit(`optionEnv:${option.name()}`, value);
      } else if (value.trim() !== "" && booleanWord(value) !== false) {
        events.emit(`optionEnv:${option.name()}`);
      } else if (!option.negate) {
        this.setOptionValueWithSource(key, false, "env");
      }
    }
  };
  Object.assign(command, { _parseOptionsEnv: parseOptionsEnv });
}

/**
 * The program's `--config` and `--debug` are also taken after a subcommand
 * (`modelreg serve --config x.yaml`), as hidden options of each command: the
 * program's options are positional, so that a command may have options of
 * its own named like the program's (`models lookup --version`).
 */
function addGlobalOptions(command: Command): void {
  const has = (flag: string) => command.options.some((o) => o.long === flag);
  if (!has("--config")) command.addOption(new Option("--config <file>").hideHelp());
  if (!has("--debug")) command.addOption(new Option("--debug").hideHelp());
}

/** Every command of the tree: errors thrown instead of exiting, output to `io`, environment from `io.env`. */
function configureTree(command: Command, io: CliIo): void {
  if (command.parent) addGlobalOptions(command);
  command.exitOverride();
  command.configureOutput({
    writeOut: (text) => io.stdout.write(text),
    writeErr: (text) => io.stderr.write(text),
    // runCli prints the error itself (one line, or JSON with --json).
    outputError: () => {},
    getOutHelpWidth: () => io.stdout.columns ?? 80,
    getErrHelpWidth: () => io.stderr.columns ?? 80,
    getOutHasColors: () => false,
    getErrHasColors: () => false,
  });
  command.showSuggestionAfterError(true);
  bindEnvironment(command, io.env);
  for (const sub of command.commands) configureTree(sub, io);
}

/** Every command path's subcommands and long options, for the completion scripts. */
function completionWords(program: Command): Map<string, string[]> {
  const words = new Map<string, string[]>();
  const walk = (command: Command, path: string) => {
    const subs = command.commands.map((c) => c.name());
    const longs = command.options.flatMap((o) => (o.long && !o.hidden ? [o.long] : []));
    words.set(path, [...subs, ...longs, "--help"]);
    for (const sub of command.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, "");
  return words;
}

/**
 * The options that take a value, as `path|--option` keys grouped by the
 * words to offer after them: their choices (`history|--type`), or none (a
 * file or free value: the shell's own completion, files, takes over).
 */
function completionValues(program: Command): Map<string, string[]> {
  const byChoices = new Map<string, string[]>();
  const walk = (command: Command, path: string) => {
    for (const o of command.options) {
      if (!o.long || (!o.required && !o.optional)) continue;
      const choices = (o.argChoices ?? []).join(" ");
      byChoices.set(choices, [...(byChoices.get(choices) ?? []), `${path}|${o.long}`]);
    }
    for (const sub of command.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, "");
  return byChoices;
}

/**
 * A bash completion script (zsh: the same through bashcompinit) generated
 * from the command tree: subcommands and long options; after an option
 * that takes a value, its choices, or nothing so that `complete -o default`
 * completes file names (`--config`, `--tls-ca-file`, `--database-url`...).
 */
export function completionScript(program: Command, shell: "bash" | "zsh"): string {
  const cases = [...completionWords(program)]
    .map(([path, words]) => `    "${path}") echo "${words.join(" ")}" ;;`)
    .join("\n");
  const values = [...completionValues(program)]
    .map(([choices, keys]) => `    ${keys.map((k) => `"${k}"`).join("|")}) echo "${choices}" ;;`)
    .join("\n");
  const zsh =
    shell === "zsh"
      ? "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"
      : "";
  return `# modelreg ${shell} completion: eval "$(modelreg completion ${shell})"
${zsh}_modelreg_words() {
  case "$1" in
${cases}
  esac
}
_modelreg_values() {
  case "$1" in
${values}
    *) return 1 ;;
  esac
}
_modelreg() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      -*) if _modelreg_values "$path|$w" >/dev/null; then ((i++)); fi; continue ;;
    esac
    if [[ " $(_modelreg_words "$path") " == *" $w "* ]]; then path="\${path:+$path }$w"; fi
  done
  local values
  if [[ "$prev" == -* ]] && values="$(_modelreg_values "$path|$prev")"; then
    COMPREPLY=($(compgen -W "$values" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -W "$(_modelreg_words "$path")" -- "$cur"))
}
complete -o default -F _modelreg modelreg
`;
}

function registerCompletionCommand(program: Command, io: CliIo): void {
  program
    .command("completion")
    .description("print a shell completion script (bash or zsh)")
    .addHelpText("after", '\nEnable it: eval "$(modelreg completion bash)" (in ~/.bashrc; zsh: ~/.zshrc)')
    .argument("<shell>", "bash or zsh")
    .action((shell: string) => {
      if (shell !== "bash" && shell !== "zsh") {
        throw new CliUsageError(`completion: unknown shell ${JSON.stringify(shell)} (bash or zsh)`);
      }
      io.stdout.write(completionScript(program, shell as "bash" | "zsh"));
    });
}

/**
 * The `modelreg` command tree, ready to parse: servers (`serve`, `gateway`,
 * `up`), `migrate`, the client verbs (`models`, `aliases`, `history`) and
 * `completion`. Errors are thrown (never `process.exit`), output goes to
 * `io`, options read `io.env`, and the config file is applied before a
 * command runs. {@link runCli} parses and runs it.
 */
export function createProgram(io: CliIo): Command {
  const program = new Command("modelreg")
    .description(
      "The model registry on the command line: run the registry and its REST gateway,\n" +
        "and register, find and promote models from a shell.",
    )
    .version(packageJson.version, "-V, --version", "print the version")
    .addOption(
      new Option("--config <file>", "config file (YAML or JSON) with a section per command").env(
        "MODELREG_CONFIG",
      ),
    )
    .addOption(new Option("--debug", "print stack traces of unexpected errors").env("MODELREG_DEBUG"))
    .addHelpText("after", examples)
    .configureHelp({
      showGlobalOptions: true,
      // --version works before a subcommand only (the program's options are positional).
      visibleGlobalOptions(this: Help, command: Command) {
        return Help.prototype.visibleGlobalOptions.call(this, command).filter((o) => o.long !== "--version");
      },
    })
    .enablePositionalOptions();
  registerServerCommands(program, io);
  registerMigrateCommand(program, io);
  registerModelCommands(program, io);
  registerAliasCommands(program, io);
  registerHistoryCommand(program, io);
  registerCompletionCommand(program, io);
  program.hook("preAction", (_hooked, action) => applyConfigFile(program, action, io));
  configureTree(program, io);
  return program;
}
