import { createHash } from "node:crypto";
import { type Model, type ModelAlias, parseRevision, revisionHeader, type Status } from "@modelreg/proto";
import {
  Code,
  type ImportItem,
  type ImportModelsResponse,
  ImportOutcome,
  type RegistryClient,
  RegistryError,
} from "@modelreg/registry-client";
import { ExportFormatError, type ParentRef } from "./format";
import { ExportReader } from "./lines";

/** Options of {@link importRegistry}. */
export interface ImportRunOptions {
  /**
   * The first part of every item's request id: `<prefix>:<source model id>:<source etag>`. Default
   * `import`. The same input imported twice with the same prefix creates nothing the second time.
   */
  readonly requestIdPrefix?: string;
  /** Cancels the import: what the registry already wrote stays (a re-run completes it). */
  readonly signal?: AbortSignal;
  /** Called as models are sent and aliases set, with the input bytes read so far. */
  readonly onProgress?: (progress: ImportProgressInfo) => void;
}

/** What {@link ImportRunOptions.onProgress} is told. */
export interface ImportProgressInfo {
  readonly models: number;
  readonly aliases: number;
  readonly bytes: number;
}

/** One item the import could not write. */
export interface ImportFailure {
  /** Its line in the input. */
  readonly line: number;
  /** `name@version` of a model, `name@alias` of an alias. */
  readonly item: string;
  /** The gRPC code name, e.g. `INVALID_ARGUMENT`. */
  readonly code: string;
  readonly message: string;
}

/** The result of {@link importRegistry}. */
export interface ImportSummary {
  readonly models: { created: number; alreadyPresent: number; failed: number };
  readonly aliases: { set: number; alreadyPresent: number; failed: number };
  /** The first {@link maxListedFailures} failures, in input order within each phase. */
  readonly failures: ImportFailure[];
  /**
   * False when the registry's history could not be read (no permission): then `models.created` also
   * counts models an earlier run with the same request ids had created.
   */
  replaysSeparated: boolean;
  /** Set when the input stopped being a valid export: nothing from that line on was imported. */
  stoppedBy?: ExportFormatError;
}

/** How many failures a summary lists (the counts are complete). */
export const maxListedFailures = 20;

/** The checked `--request-id-prefix`: 1-64 printable ASCII characters without spaces. */
export function isRequestIdPrefix(prefix: string): boolean {
  return /^[\x21-\x7e]{1,64}$/.test(prefix);
}

/** The deterministic request id of one exported model (at most 128 characters, as the registry wants). */
export function requestIdOf(prefix: string, model: Model): string {
  const etag = model.etag.replaceAll('"', "");
  const readable = `${prefix}:${model.id}:${etag}`;
  if (readable.length <= 128) return readable;
  return `${prefix}:${createHash("sha256").update(`${model.id}\n${model.etag}`).digest("hex").slice(0, 48)}`;
}

const label = (model: { name: string; version: string }) => `${model.name}@${model.version}`;

/** The model as a create request: without the source's id, etag and timestamps, with the target's parent ids. */
function importable(model: Model, parentModelIds: readonly string[]): ImportItem["model"] {
  const { id: _id, etag: _etag, createTime: _c, updateTime: _u, lineage, ...fields } = model;
  return lineage ? { ...fields, lineage: { ...lineage, parentModelIds: [...parentModelIds] } } : fields;
}

function failureOf(line: number, item: string, error: unknown): ImportFailure {
  const registryError = RegistryError.from(error);
  return {
    line,
    item,
    code: Code[registryError.code] ?? String(registryError.code),
    message: registryError.message,
  };
}

function failureOfStatus(line: number, item: string, status: Status | undefined): ImportFailure {
  const code = status?.code ?? Code.UNKNOWN;
  return { line, item, code: Code[code] ?? String(code), message: status?.message ?? "" };
}

/** A model whose lineage parents must be in the target registry before it can be sent. */
interface Deferred {
  readonly line: number;
  readonly model: Model;
  readonly parents: readonly ParentRef[];
}

/** The counters of one import, and the bookkeeping of the stream being sent. */
class ImportState {
  readonly summary: ImportSummary = {
    models: { created: 0, alreadyPresent: 0, failed: 0 },
    aliases: { set: 0, alreadyPresent: 0, failed: 0 },
    failures: [],
    replaysSeparated: true,
  };
  /** Every item's CREATED, including those replayed from an earlier run's request ids. */
  createdOrReplayed = 0;
  deferred: Deferred[] = [];
  /** Line and label of each item of the stream being sent, by index. */
  private streamLines: number[] = [];
  private streamLabels: string[] = [];
  private sentBefore = 0;

  constructor(
    readonly prefix: string,
    readonly reader: ExportReader,
    readonly options: ImportRunOptions,
  ) {}

  fail(failure: ImportFailure, kind: "models" | "aliases"): void {
    this.summary[kind].failed++;
    if (this.summary.failures.length < maxListedFailures) this.summary.failures.push(failure);
  }

  track(line: number, model: Model): void {
    this.streamLines.push(line);
    this.streamLabels.push(label(model));
  }

  progress(sentInStream = 0): void {
    this.options.onProgress?.({
      models: this.sentBefore + sentInStream,
      aliases: this.summary.aliases.set + this.summary.aliases.alreadyPresent + this.summary.aliases.failed,
      bytes: this.reader.bytesRead,
    });
  }

  /** Sends `items` (each {@link track}ed first) as one ImportModels stream and adds its answer to the summary. */
  async send(client: RegistryClient, items: AsyncIterable<ImportItem> | Iterable<ImportItem>): Promise<void> {
    const response = await client.importModels(items, {
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      onProgress: ({ sent }) => this.progress(sent),
    });
    this.sentBefore += this.streamLines.length;
    this.add(response);
    this.streamLines = [];
    this.streamLabels = [];
  }

  private add(response: ImportModelsResponse): void {
    this.createdOrReplayed += response.createdCount;
    this.summary.models.alreadyPresent += response.alreadyExistsCount;
    const failed = response.results.filter((result) => result.outcome === ImportOutcome.FAILED);
    for (const result of failed) {
      const line = this.streamLines[result.index] ?? 0;
      this.fail(failureOfStatus(line, this.streamLabels[result.index] ?? "?", result.error), "models");
    }
    // The listed results may be cut (1,000 at most); the count is complete.
    this.summary.models.failed += response.failedCount - failed.length;
  }
}

/** The next line, or undefined when the input ended or stopped being valid (recorded in the summary). */
async function nextLine(state: ImportState) {
  try {
    return await state.reader.next();
  } catch (error) {
    if (!(error instanceof ExportFormatError)) throw error;
    state.summary.stoppedBy = error;
    return undefined;
  }
}

/** The model lines' items without lineage parents; those with parents are deferred. Stops before the aliases. */
async function* modelItems(state: ImportState): AsyncGenerator<ImportItem> {
  for (;;) {
    const next = await nextLine(state);
    if (!next) return;
    if (next.entry.kind !== "model") {
      state.reader.unread(next);
      return;
    }
    const { model, parents } = next.entry;
    if (parents.length > 0) {
      state.deferred.push({ line: next.line, model, parents });
      continue;
    }
    state.track(next.line, model);
    yield { model: importable(model, []), requestId: requestIdOf(state.prefix, model) };
  }
}

/** The target's ids of a deferred model's parents, `wait` while one is still to be imported, or why not. */
async function targetParents(
  client: RegistryClient,
  item: Deferred,
  known: Map<string, string>,
  pending: ReadonlySet<string>,
  signal: AbortSignal | undefined,
): Promise<string[] | "wait" | ImportFailure> {
  const ids: string[] = [];
  for (const parent of item.parents) {
    if (parent.name === undefined || parent.version === undefined) {
      const message = `lineage parent ${parent.id} was deleted from the source registry before the export`;
      return { line: item.line, item: label(item.model), code: "NOT_FOUND", message };
    }
    const key = label({ name: parent.name, version: parent.version });
    let id = known.get(key);
    if (id === undefined) {
      try {
        id = (await client.lookupModel({ name: parent.name, version: parent.version }, { signal })).id;
        known.set(key, id);
      } catch (error) {
        if (!(error instanceof RegistryError && error.code === Code.NOT_FOUND)) throw error;
        if (pending.has(key)) return "wait";
        const message = `lineage parent ${key} is not in the target registry and was not imported`;
        return { line: item.line, item: label(item.model), code: "NOT_FOUND", message };
      }
    }
    ids.push(id);
  }
  return ids;
}

/**
 * Imports the deferred models in generations: those whose parents are all in the target registry now,
 * then their children, and so on.
 */
async function importDeferred(client: RegistryClient, state: ImportState): Promise<void> {
  let pending = state.deferred;
  state.deferred = [];
  const known = new Map<string, string>();
  while (pending.length > 0) {
    const pendingKeys = new Set(pending.map((item) => label(item.model)));
    const ready: { item: Deferred; parentIds: string[] }[] = [];
    const waiting: Deferred[] = [];
    for (const item of pending) {
      const parents = await targetParents(client, item, known, pendingKeys, state.options.signal);
      if (parents === "wait") waiting.push(item);
      else if (Array.isArray(parents)) ready.push({ item, parentIds: parents });
      else state.fail(parents, "models");
    }
    if (ready.length === 0) {
      const message = "its lineage parents form a cycle in the input";
      for (const item of waiting)
        state.fail({ line: item.line, item: label(item.model), code: "NOT_FOUND", message }, "models");
      return;
    }
    const items = ready.map(({ item, parentIds }) => {
      state.track(item.line, item.model);
      return { model: importable(item.model, parentIds), requestId: requestIdOf(state.prefix, item.model) };
    });
    await state.send(client, items);
    pending = waiting;
  }
}

/** Sets one alias unless it already points at the same version. */
async function importAlias(client: RegistryClient, state: ImportState, line: number, alias: ModelAlias) {
  const { name, version } = alias;
  const signal = state.options.signal;
  try {
    const current = await client.getModelAlias({ name, alias: alias.alias }, { signal }).catch((error) => {
      if (error instanceof RegistryError && error.code === Code.NOT_FOUND) return undefined;
      throw error;
    });
    if (current?.version === version) {
      state.summary.aliases.alreadyPresent++;
      return;
    }
    await client.setModelAlias({ name, alias: alias.alias, version }, { signal });
    state.summary.aliases.set++;
  } catch (error) {
    if (signal?.aborted) throw error;
    state.fail(failureOf(line, `${name}@${alias.alias} -> ${version}`, error), "aliases");
  }
}

/** The alias lines, 32 at a time, until the `end` line or the end of the input. */
async function importAliases(client: RegistryClient, state: ImportState): Promise<void> {
  let batch: Promise<void>[] = [];
  for (;;) {
    const next = await nextLine(state);
    if (next?.entry.kind === "alias") batch.push(importAlias(client, state, next.line, next.entry.alias));
    if (batch.length >= 32 || next?.entry.kind !== "alias") {
      await Promise.all(batch);
      batch = [];
      state.progress();
    }
    if (next?.entry.kind !== "alias") return;
  }
}

/** The registry's latest revision: the header of an empty import (which writes nothing). */
async function latestRevision(
  client: RegistryClient,
  signal: AbortSignal | undefined,
): Promise<bigint | undefined> {
  let revision: bigint | undefined;
  await client.importModels([], {
    ...(signal ? { signal } : {}),
    onHeaders: (headers) => {
      const value = headers[revisionHeader];
      revision = parseRevision(Array.isArray(value) ? value[0] : value);
    },
  });
  return revision;
}

/**
 * How many models this import created, as opposed to replayed (the registry answers CREATED for both):
 * the history's CREATED entries after `before` that carry one of our request ids.
 */
async function countNew(
  client: RegistryClient,
  state: ImportState,
  before: bigint | undefined,
): Promise<void> {
  const { models } = state.summary;
  models.created = state.createdOrReplayed;
  if (state.createdOrReplayed === 0) return;
  if (before === undefined) {
    state.summary.replaysSeparated = false;
    return;
  }
  let created = 0;
  try {
    const entries = client.listAllModelHistory(
      { filter: "type = CREATED", pageSize: 1000 },
      state.options.signal ? { signal: state.options.signal } : {},
    );
    for await (const entry of entries) {
      if (entry.revision <= before) break;
      if (entry.requestId.startsWith(`${state.prefix}:`)) created++;
    }
  } catch (error) {
    if (state.options.signal?.aborted) throw error;
    state.summary.replaysSeparated = false;
    return;
  }
  models.created = Math.min(created, state.createdOrReplayed);
  models.alreadyPresent += state.createdOrReplayed - models.created;
}

/**
 * Imports an export (see ./format.ts) read from `input` into the registry of `client`: the models
 * through ImportModels (streamed: memory holds one line, plus the models with lineage parents, which
 * are sent after the others once their parents' new ids are known), then the aliases (set by name and
 * version, unless they already point there). Each model's request id is derived from its source id and
 * etag, so importing the same input again creates nothing and counts those models as already present.
 * A line that is not a valid export line stops the import there: everything before it is imported,
 * nothing from it on (`summary.stoppedBy`). A registry that fails the whole call throws.
 */
export async function importRegistry(
  client: RegistryClient,
  input: NodeJS.ReadableStream,
  options: ImportRunOptions = {},
): Promise<ImportSummary> {
  const prefix = options.requestIdPrefix ?? "import";
  if (!isRequestIdPrefix(prefix)) {
    throw new TypeError(
      `request id prefix ${JSON.stringify(prefix)}: 1-64 printable ASCII characters, no spaces`,
    );
  }
  const state = new ImportState(prefix, new ExportReader(input), options);
  try {
    const before = await latestRevision(client, options.signal);
    await state.send(client, modelItems(state));
    await importDeferred(client, state);
    if (!state.summary.stoppedBy) await importAliases(client, state);
    await countNew(client, state, before);
  } finally {
    state.reader.close();
  }
  if (!state.summary.stoppedBy && !state.reader.ended) {
    state.summary.stoppedBy = new ExportFormatError(
      state.reader.lastLine,
      'the input ends without its "end" line (a truncated export?); what it held was imported',
    );
  }
  return state.summary;
}
