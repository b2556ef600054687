import type { Command } from "commander";
import type { CliIo } from "../context";
import { CliUsageError } from "../errors";
import { withClient } from "./connect";
import { addFieldOptions, type FieldOptions, fieldsOf, metadataOf } from "./model-fields";
import { addClientOptions, type ClientOptions, collect } from "./options";
import { printModel } from "./render";

type EtagOptions = ClientOptions & { etag?: string };

function registerUpdate(models: Command, io: CliIo): void {
  const command = models
    .command("update")
    .description("change a model's fields (only those given)")
    .argument("<id>", "model id")
    .option("--etag <etag>", "only if the model is still at this etag (else exit 3)");
  addFieldOptions(command, true);
  addClientOptions(command).action(async (id: string, o: FieldOptions & EtagOptions) => {
    const { model, paths } = fieldsOf(o);
    if (paths.length === 0)
      throw new CliUsageError("update: nothing to change (give --framework, --description, ...)");
    const updated = await withClient(o, io, (client, call) =>
      client.updateModel({ model: { ...model, id, etag: o.etag ?? "" }, updateMask: { paths } }, call),
    );
    await printModel(io, o, updated);
  });
}

function registerDelete(models: Command, io: CliIo): void {
  addClientOptions(
    models
      .command("delete")
      .description("delete a model")
      .argument("<id>", "model id")
      .option("--etag <etag>", "only if the model is still at this etag (else exit 3)")
      .option("--force", "also delete the aliases pointing at it (else refused, exit 3)"),
  ).action(async (id: string, o: EtagOptions & { force?: boolean }) => {
    await withClient(o, io, (client, call) =>
      client.deleteModel({ id, etag: o.etag ?? "", force: o.force === true }, call),
    );
    if (o.json || o.ndjson) io.stdout.write(`${JSON.stringify({ id, deleted: true })}\n`);
    else io.stderr.write(`deleted ${id}\n`);
  });
}

function registerTags(models: Command, io: CliIo): void {
  for (const verb of ["tag", "untag"] as const) {
    addClientOptions(
      models
        .command(verb)
        .description(verb === "tag" ? "add tags to a model" : "remove tags from a model")
        .argument("<id>", "model id")
        .argument("<tags...>", "tags")
        .option("--etag <etag>", "only if the model is still at this etag (else exit 3)"),
    ).action(async (id: string, tags: string[], o: EtagOptions) => {
      const request = { id, tags, etag: o.etag ?? "" };
      const model = await withClient(o, io, (client, call) =>
        verb === "tag" ? client.addModelTags(request, call) : client.removeModelTags(request, call),
      );
      await printModel(io, o, model);
    });
  }
}

function registerSetMetadata(models: Command, io: CliIo): void {
  addClientOptions(
    models
      .command("set-metadata")
      .description("set and remove metadata keys of a model, atomically")
      .argument("<id>", "model id")
      .argument("[entries...]", "key=value entries to set")
      .option("--remove <key>", "a key to remove (repeatable)", collect)
      .option("--etag <etag>", "only if the model is still at this etag (else exit 3)"),
  ).action(async (id: string, entries: string[], o: EtagOptions & { remove?: string[] }) => {
    const set = metadataOf(entries, "set-metadata");
    const removeKeys = o.remove ?? [];
    if (Object.keys(set).length === 0 && removeKeys.length === 0) {
      throw new CliUsageError("set-metadata: nothing to change (give key=value entries or --remove key)");
    }
    const model = await withClient(o, io, (client, call) =>
      client.updateModelMetadata({ id, set, removeKeys, etag: o.etag ?? "" }, call),
    );
    await printModel(io, o, model);
  });
}

/** `models update|delete|tag|untag|set-metadata`. */
export function registerChanges(models: Command, io: CliIo): void {
  registerUpdate(models, io);
  registerDelete(models, io);
  registerTags(models, io);
  registerSetMetadata(models, io);
}
