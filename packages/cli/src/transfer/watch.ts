import { ModelEventType, Timestamp, WatchModelsResponse } from "@modelreg/proto";
import type { RegistryClient, WatchRequest } from "@modelreg/registry-client";
import type { CliIo, OutputFormat } from "../context";
import { messageJson, writeJsonLine, writeOut } from "../output";

/** Options of {@link printWatch}. */
export interface PrintWatchOptions {
  /** Only events whose model matches this filter (the ListModels syntax). */
  readonly filter?: string;
  /** Start after this revision (a decimal string); unset: from now. */
  readonly afterRevision?: string;
  /** Ask for a progress notification after this many quiet milliseconds; with `ndjson`, they are printed. */
  readonly progressIntervalMs?: number;
  /** `table`: one readable line per event; `json`/`ndjson`: one JSON object per line. */
  readonly format: OutputFormat;
  /** Stops the watch. */
  readonly signal?: AbortSignal;
}

/** One event as a readable line: time, revision, type, model (and alias), model id. */
export function eventLine(response: WatchModelsResponse): string {
  const event = response.event;
  if (!event) return `${response.revision}  PROGRESS`;
  const time = event.commitTime ? Timestamp.toDate(event.commitTime).toISOString() : "";
  const type = (ModelEventType[event.type] ?? String(event.type)).padEnd(13);
  const model = event.model ? `${event.model.name}@${event.model.version}` : "";
  const alias = event.alias
    ? `  alias ${event.alias.name}@${event.alias.alias} -> ${event.alias.version}`
    : "";
  return `${time}  ${event.revision}  ${type}  ${model}${alias}  ${event.modelId}`;
}

/**
 * Prints the registry's change feed on `io.stdout` until `options.signal` aborts (the iterator then
 * throws) or the watch fails for good; the client's watch reconnects and resumes by itself meanwhile.
 * Progress notifications are printed only with `ndjson`/`json` and `progressIntervalMs`. Returns the
 * last revision seen, to resume from; {@link WatchProgress.revision} holds it while it runs.
 */
export async function printWatch(
  client: RegistryClient,
  io: CliIo,
  options: PrintWatchOptions,
  progress: WatchProgress = { revision: undefined },
): Promise<bigint | undefined> {
  const request: WatchRequest = {
    ...(options.filter ? { filter: options.filter } : {}),
    ...(options.afterRevision !== undefined ? { afterRevision: options.afterRevision } : {}),
    ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
  };
  const json = options.format !== "table";
  const printProgress = json && options.progressIntervalMs !== undefined;
  for await (const response of client.watchModels(
    request,
    options.signal ? { signal: options.signal } : {},
  )) {
    // The revision counts as seen once its line is written (a resume hint never skips an unprinted one).
    if (response.event || printProgress) {
      if (json) await writeJsonLine(io, messageJson(WatchModelsResponse, response));
      else await writeOut(io.stdout, `${eventLine(response)}\n`);
    }
    progress.revision = response.revision;
  }
  return progress.revision;
}

/** Where {@link printWatch} keeps the last revision it saw, readable after it threw. */
export interface WatchProgress {
  revision: bigint | undefined;
}
