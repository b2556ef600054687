import { type ModelAlias, parseRevision, revisionHeader } from "@modelreg/proto";
import { Code, type RegistryClient, RegistryError } from "@modelreg/registry-client";
import { ExportFormatError } from "./format";
import { ImportState } from "./import-models";
import { ExportReader } from "./lines";

export { maxListedFailures, requestIdOf } from "./import-models";

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

/** One item the import could not write, or a model the registry holds with different content. */
export interface ImportFailure {
  /** Its line in the input. */
  readonly line: number;
  /** `name@version` of a model, `name@alias` of an alias. */
  readonly item: string;
  /** The gRPC code name, e.g. `INVALID_ARGUMENT`; `ALREADY_EXISTS` for a model with different content. */
  readonly code: string;
  readonly message: string;
}

/** The result of {@link importRegistry}. */
export interface ImportSummary {
  /**
   * `alreadyPresent`: the registry held the same model (same content, lineage naming the same parents);
   * `differs`: it held another model under that name@version (left unchanged, listed in `failures`).
   */
  readonly models: { created: number; alreadyPresent: number; differs: number; failed: number };
  readonly aliases: { set: number; alreadyPresent: number; failed: number };
  /** The first 20 failures and differing models, in input order within each phase. */
  readonly failures: ImportFailure[];
  /**
   * False when the registry's history could not be read (no permission): then `models.created` also
   * counts models an earlier run with the same request ids had created.
   */
  replaysSeparated: boolean;
  /** Set when the input stopped being a valid export: nothing from that line on was imported. */
  stoppedBy?: ExportFormatError;
}

/** The checked `--request-id-prefix`: 1-64 printable ASCII characters without spaces. */
export function isRequestIdPrefix(prefix: string): boolean {
  return /^[\x21-\x7e]{1,64}$/.test(prefix);
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
    const next = await state.nextLine();
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
 * through ImportModels in input order (streamed: memory holds one line, plus models waiting for a parent
 * that comes later in the input; a model whose parent is in the stream being sent starts the next
 * stream, once the parent's new id can be looked up, each parent once), then the aliases (set by name
 * and version, unless they already point there). Each model's request id is derived from its source id
 * and etag (or, without them, from name@version and a hash of its content), so importing the same input
 * again creates nothing and counts those models as already present; a name@version the registry holds
 * with other content is left as it is and counted in `models.differs`.
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
  const state = new ImportState(client, prefix, new ExportReader(input), options);
  try {
    const before = await latestRevision(client, options.signal);
    await state.importModels();
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
