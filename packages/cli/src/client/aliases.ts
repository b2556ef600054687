import { ModelAlias } from "@modelreg/proto";
import { type Command, Option } from "commander";
import type { CliIo, RegisterCommands } from "../context";
import { CliUsageError } from "../errors";
import { writeFields } from "../output";
import { withClient } from "./connect";
import { addClientOptions, type ClientOptions, integerParser, splitNameAlias } from "./options";
import {
  ALIAS_HEADERS,
  aliasRow,
  type FormatOptions,
  pageSizeFor,
  printList,
  printOne,
  timeText,
} from "./render";

function printAlias(io: CliIo, options: FormatOptions, alias: ModelAlias): Promise<void> {
  return printOne(io, options, ModelAlias, alias, () =>
    writeFields(io, [
      ["name", alias.name],
      ["alias", alias.alias],
      ["version", alias.version],
      ["model id", alias.modelId],
      ["etag", alias.etag],
      ["updated", timeText(alias.updateTime)],
      ["updated by", alias.updatedBy],
    ]),
  );
}

const expectedVersion = () =>
  new Option(
    "--expected-version <version>",
    'only if the alias points at this version now ("" = must not exist yet); else exit 3',
  );

function registerSet(aliases: Command, io: CliIo): void {
  addClientOptions(
    aliases
      .command("set")
      .description("point an alias at a version (create or move it), atomically")
      .argument("<name>", "model name")
      .argument("<alias>", "alias, for example champion or production")
      .argument("<version>", "the version it points at")
      .addOption(expectedVersion())
      .option("--request-id <id>", "idempotency key: a retry with the same id returns the first result")
      .addHelpText(
        "after",
        "\nExample:\n  $ modelreg aliases set bert champion 1.1.0 --expected-version 1.0.0",
      ),
  ).action(
    async (
      name: string,
      alias: string,
      version: string,
      o: ClientOptions & { expectedVersion?: string; requestId?: string },
    ) => {
      const set = await withClient(o, io, (client, call) =>
        client.setModelAlias(
          {
            name,
            alias,
            version,
            requestId: o.requestId ?? "",
            ...(o.expectedVersion === undefined ? {} : { expectedVersion: o.expectedVersion }),
          },
          call,
        ),
      );
      await printAlias(io, o, set);
    },
  );
}

function registerGet(aliases: Command, io: CliIo): void {
  addClientOptions(
    aliases
      .command("get")
      .description("show an alias")
      .argument("<name>", "model name (or name@alias)")
      .argument("[alias]", "alias"),
  ).action(async (nameArg: string, aliasArg: string | undefined, o: ClientOptions) => {
    const { name, alias } =
      aliasArg === undefined ? splitNameAlias(nameArg) : { name: nameArg, alias: aliasArg };
    if (!alias?.trim()) throw new CliUsageError("aliases get needs an alias: NAME ALIAS or NAME@ALIAS");
    const found = await withClient(o, io, (client, call) => client.getModelAlias({ name, alias }, call));
    await printAlias(io, o, found);
  });
}

function registerList(aliases: Command, io: CliIo): void {
  addClientOptions(
    aliases
      .command("list")
      .description("list the aliases of a model (of every model without a name)")
      .argument("[name]", "model name")
      .addOption(
        new Option("--limit <n>", "print at most n aliases").default(100).argParser(integerParser(1)),
      )
      .option("--all", "print every alias (no --limit)"),
  ).action(async (name: string | undefined, o: ClientOptions & { limit: number; all?: boolean }) => {
    await withClient(o, io, (client, call) =>
      printList(
        io,
        o,
        { type: ModelAlias, key: "aliases", headers: ALIAS_HEADERS, row: aliasRow, noun: "aliases" },
        client.listAllModelAliases({ name: name ?? "", pageSize: pageSizeFor(o) }, call),
        o.all ? undefined : o.limit,
      ),
    );
  });
}

function registerDelete(aliases: Command, io: CliIo): void {
  addClientOptions(
    aliases
      .command("delete")
      .description("delete an alias")
      .argument("<name>", "model name")
      .argument("<alias>", "alias")
      .addOption(expectedVersion()),
  ).action(async (name: string, alias: string, o: ClientOptions & { expectedVersion?: string }) => {
    await withClient(o, io, (client, call) =>
      client.deleteModelAlias(
        { name, alias, ...(o.expectedVersion === undefined ? {} : { expectedVersion: o.expectedVersion }) },
        call,
      ),
    );
    if (o.json || o.ndjson) io.stdout.write(`${JSON.stringify({ name, alias, deleted: true })}\n`);
    else io.stderr.write(`deleted ${name}@${alias}\n`);
  });
}

/** `modelreg aliases set|get|list|delete`. */
export const registerAliasCommands: RegisterCommands = (program, io) => {
  const aliases = program
    .command("aliases")
    .description("point names like champion or production at versions");
  registerSet(aliases, io);
  registerGet(aliases, io);
  registerList(aliases, io);
  registerDelete(aliases, io);
};
