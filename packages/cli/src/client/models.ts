import { Model, Timestamp } from "@modelreg/proto";
import { type Command, Option } from "commander";
import type { CliIo, RegisterCommands } from "../context";
import { CliUsageError } from "../errors";
import { registerTransferCommands } from "../transfer/commands";
import { withClient } from "./connect";
import { registerChanges } from "./model-changes";
import { addFieldOptions, type FieldOptions, fieldsOf } from "./model-fields";
import { addClientOptions, type ClientOptions, integerParser, splitNameAlias } from "./options";
import { MODEL_HEADERS, modelRow, pageSizeFor, printList, printModel } from "./render";

function registerCreate(models: Command, io: CliIo): void {
  const command = models
    .command("create")
    .description("register a model version")
    .argument("<name>", "model name")
    .argument("<version>", "version, for example 1.0.0")
    .option("--request-id <id>", "idempotency key: a retry with the same id returns the first result");
  addFieldOptions(command, false);
  addClientOptions(command).action(
    async (name: string, version: string, o: FieldOptions & ClientOptions & { requestId?: string }) => {
      const { model } = fieldsOf(o);
      const created = await withClient(o, io, (client, call) =>
        client.createModel({ model: { ...model, name, version }, requestId: o.requestId ?? "" }, call),
      );
      await printModel(io, o, created);
    },
  );
}

function registerGet(models: Command, io: CliIo): void {
  addClientOptions(
    models.command("get").description("show a model by id").argument("<id>", "model id"),
  ).action(async (id: string, o: ClientOptions) => {
    const model = await withClient(o, io, (client, call) => client.getModel({ id }, call));
    await printModel(io, o, model);
  });
}

function readTimeOf(text: string | undefined): Timestamp | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) {
    throw new CliUsageError(
      `--read-time expects an ISO 8601 time (2026-11-30T12:00:00Z), got ${JSON.stringify(text)}`,
    );
  }
  return Timestamp.fromDate(date);
}

function registerLookup(models: Command, io: CliIo): void {
  addClientOptions(
    models
      .command("lookup")
      .description("find a model by name and version, or by alias (name@alias)")
      .argument("<name>", "model name, or name@alias")
      .argument("[version]", "the version (or use --alias / name@alias)")
      .option("--version <version>", "the version (the same as the [version] argument)")
      .option("--alias <alias>", "the alias to resolve, for example champion or latest")
      .option("--read-time <time>", "with an alias: the model it pointed at then (ISO 8601)")
      .addHelpText(
        "after",
        "\nExamples:\n  $ modelreg models lookup bert 1.0.0\n  $ modelreg models lookup bert@champion --json",
      ),
  ).action(async (nameArg: string, versionArg: string | undefined, o: LookupOptions) => {
    const request = lookupRequest(nameArg, versionArg, o);
    const model = await withClient(o, io, (client, call) => client.lookupModel(request, call));
    await printModel(io, o, model);
  });
}

type LookupOptions = ClientOptions & { version?: string; alias?: string; readTime?: string };

/** The LookupModel request of `lookup NAME[@ALIAS] [VERSION] [--version V] [--alias A] [--read-time T]`. */
export function lookupRequest(
  nameArg: string,
  versionArg: string | undefined,
  o: Omit<LookupOptions, keyof ClientOptions>,
) {
  if (versionArg !== undefined && o.version !== undefined && versionArg !== o.version) {
    throw new CliUsageError(`lookup: two versions given (${versionArg} and --version ${o.version})`);
  }
  const version = o.version ?? versionArg;
  const split = o.alias === undefined ? splitNameAlias(nameArg) : { name: nameArg };
  const alias = o.alias ?? split.alias;
  if (alias !== undefined && version !== undefined) {
    throw new CliUsageError("lookup: give a version or an alias, not both");
  }
  if (alias === undefined && version === undefined) {
    throw new CliUsageError(
      "lookup needs a version (NAME VERSION) or an alias (NAME@ALIAS or --alias ALIAS)",
    );
  }
  if (o.readTime !== undefined && alias === undefined)
    throw new CliUsageError("--read-time goes with an alias");
  const readTime = readTimeOf(o.readTime);
  return { name: split.name, version: version ?? "", alias: alias ?? "", ...(readTime ? { readTime } : {}) };
}

interface ListOptions extends ClientOptions {
  filter?: string;
  orderBy?: string;
  pageSize?: number;
  limit: number;
  all?: boolean;
}

function registerList(models: Command, io: CliIo): void {
  addClientOptions(
    models
      .command("list")
      .description("list models, optionally filtered (the registry's filter language)")
      .option("--filter <expr>", "for example 'tags:production AND framework = \"onnx\"'")
      .option("--order-by <fields>", "for example 'create_time desc' or 'name, version'")
      .addOption(
        new Option("--page-size <n>", "models per request (the registry caps it)").argParser(
          integerParser(1, 1000),
        ),
      )
      .addOption(new Option("--limit <n>", "print at most n models").default(100).argParser(integerParser(1)))
      .option("--all", "print every model (no --limit)")
      .addHelpText(
        "after",
        "\nExamples:\n  $ modelreg models list --filter 'tags:production AND framework = \"onnx\"'\n" +
          "  $ modelreg models list --all --ndjson > models.ndjson",
      ),
  ).action(async (o: ListOptions) => {
    const request = { filter: o.filter ?? "", orderBy: o.orderBy ?? "", pageSize: pageSizeFor(o) };
    await withClient(o, io, (client, call) =>
      printList(
        io,
        o,
        { type: Model, key: "models", headers: MODEL_HEADERS, row: modelRow, noun: "models" },
        client.listAllModels(request, call),
        o.all ? undefined : o.limit,
      ),
    );
  });
}

/** `modelreg models ...`: create, get, lookup, list, update, delete, tag, untag, set-metadata, and export/import/watch. */
export const registerModelCommands: RegisterCommands = (program, io) => {
  const models = program.command("models").description("register, find and change models");
  registerCreate(models, io);
  registerGet(models, io);
  registerLookup(models, io);
  registerList(models, io);
  registerChanges(models, io);
  registerTransferCommands(models, io);
};
