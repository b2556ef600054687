import { HistoryEntry } from "@modelreg/proto";
import { Option } from "commander";
import type { RegisterCommands } from "../context";
import { withClient } from "./connect";
import { addClientOptions, type ClientOptions, integerParser } from "./options";
import { HISTORY_HEADERS, historyRow, pageSizeFor, printList } from "./render";

interface HistoryOptions extends ClientOptions {
  name?: string;
  alias?: string;
  modelId?: string;
  actor?: string;
  type?: string;
  refused?: boolean;
  since?: string;
  filter?: string;
  limit: number;
  all?: boolean;
}

const EVENT_TYPES = ["CREATED", "UPDATED", "DELETED", "ALIAS_SET", "ALIAS_DELETED"];

const quoted = (text: string) => JSON.stringify(text);

/** The history filter the options make, ANDed with `--filter`. */
export function historyFilter(o: Omit<HistoryOptions, keyof ClientOptions | "limit">): string {
  const parts: string[] = [];
  if (o.actor !== undefined) parts.push(`actor = ${quoted(o.actor)}`);
  if (o.type !== undefined) parts.push(`type = ${o.type}`);
  if (o.refused) parts.push("refused = true");
  if (o.since !== undefined) parts.push(`commit_time >= ${quoted(o.since)}`);
  // The history filter has AND only (no OR, no parentheses): the parts join as they are.
  if (o.filter?.trim()) parts.push(o.filter.trim());
  return parts.join(" AND ");
}

/** `modelreg history`: the audit history, newest first. */
export const registerHistoryCommand: RegisterCommands = (program, io) => {
  addClientOptions(
    program
      .command("history")
      .description("the audit history of models and aliases, newest first")
      .option("--name <name>", "only this model name")
      .option("--alias <alias>", "only this alias (with --name)")
      .option("--model-id <id>", "only this model")
      .option("--actor <actor>", "only changes by this principal")
      .addOption(new Option("--type <type>", "only this kind of change").choices(EVENT_TYPES))
      .option("--refused", "only promotions the registry's policy refused")
      .option("--since <time>", "only changes at or after this time (ISO 8601)")
      .option("--filter <expr>", "any history filter, ANDed with the options above")
      .addOption(new Option("--limit <n>", "print at most n entries").default(50).argParser(integerParser(1)))
      .option("--all", "print every entry (no --limit)")
      .addHelpText("after", "\nExample:\n  $ modelreg history --name bert --type ALIAS_SET --limit 10"),
  ).action(async (o: HistoryOptions) => {
    const request = {
      name: o.name ?? "",
      alias: o.alias ?? "",
      modelId: o.modelId ?? "",
      filter: historyFilter(o),
      pageSize: pageSizeFor(o),
    };
    await withClient(o, io, (client, call) =>
      printList(
        io,
        o,
        {
          type: HistoryEntry,
          key: "entries",
          headers: HISTORY_HEADERS,
          row: historyRow,
          noun: "history entries",
        },
        client.listAllModelHistory(request, call),
        o.all ? undefined : o.limit,
      ),
    );
  });
};
