// The model lines of an import: streamed through ImportModels in input order, each model with lineage
// parents sent once the target registry's ids of its parents are known.
import { createHash } from "node:crypto";
import type { Model, Status } from "@modelreg/proto";
import {
  Code,
  type ImportItem,
  type ImportModelsResponse,
  ImportOutcome,
  type RegistryClient,
  RegistryError,
} from "@modelreg/registry-client";
import { contentHash, differingFields } from "./content";
import { ExportFormatError, type ParentRef } from "./format";
import type { ImportFailure, ImportRunOptions, ImportSummary } from "./import";
import type { ExportReader } from "./lines";

/** How many failures a summary lists (the counts are complete). */
export const maxListedFailures = 20;

/**
 * Items per ImportModels stream: the registry lists (with the existing model's id) at most the first
 * 1,000 items it did not create, so a stream of 1,000 gets every one of them back.
 */
const maxStreamItems = 1000;

/**
 * The deterministic request id of one model line (at most 128 characters, as the registry wants):
 * `<prefix>:<source id>:<source etag>`; for a line without `id` or `etag` (a hand-made export),
 * `<prefix>:<name>@<version>:<hash of its content>`.
 */
export function requestIdOf(prefix: string, model: Model): string {
  if (model.id === "" || model.etag === "") {
    const hash = contentHash(model);
    const readable = `${prefix}:${model.name}@${model.version}:${hash.slice(0, 32)}`;
    if (readable.length <= 128 && /^[\x21-\x7e]+$/.test(readable)) return readable;
    const key = `${model.name}\n${model.version}\n${hash}`;
    return `${prefix}:${createHash("sha256").update(key).digest("hex").slice(0, 48)}`;
  }
  const etag = model.etag.replaceAll('"', "");
  const readable = `${prefix}:${model.id}:${etag}`;
  if (readable.length <= 128) return readable;
  return `${prefix}:${createHash("sha256").update(`${model.id}\n${model.etag}`).digest("hex").slice(0, 48)}`;
}

/** `name@version`. */
export const label = (model: { name: string; version: string }) => `${model.name}@${model.version}`;

/** The model as a create request: without the source's id, etag and timestamps, with the target's parent ids. */
function importable(model: Model, parentModelIds: readonly string[]): ImportItem["model"] {
  const { id: _id, etag: _etag, createTime: _c, updateTime: _u, lineage, ...fields } = model;
  return lineage ? { ...fields, lineage: { ...lineage, parentModelIds: [...parentModelIds] } } : fields;
}

function failureOfStatus(line: number, item: string, status: Status | undefined): ImportFailure {
  const code = status?.code ?? Code.UNKNOWN;
  return { line, item, code: Code[code] ?? String(code), message: status?.message ?? "" };
}

/** A model line not sent yet. */
interface Pending {
  readonly line: number;
  readonly model: Model;
  readonly parents: readonly ParentRef[];
  /** The parents it waits for: later in the input, not in the target registry. */
  missing?: Set<string>;
}

/** A model line in the stream being sent, with its parents' ids in the target registry. */
interface Sent {
  readonly line: number;
  readonly model: Model;
  readonly parentIds: readonly string[];
}

/** The counters of one import, and what it knows about the target registry's models. */
export class ImportState {
  readonly summary: ImportSummary = {
    models: { created: 0, alreadyPresent: 0, differs: 0, failed: 0 },
    aliases: { set: 0, alreadyPresent: 0, failed: 0 },
    failures: [],
    replaysSeparated: true,
  };
  /** Every item's CREATED, including those replayed from an earlier run's request ids. */
  createdOrReplayed = 0;
  /** LookupModel calls made to find parents' ids. */
  lookups = 0;
  /** The target's id of each name@version known (sent and found, or already there). */
  private readonly targetIds = new Map<string, string>();
  /** name@version looked up and not found in the target (not sent since). */
  private readonly absent = new Set<string>();
  /** name@version of the stream being sent, and of the streams sent before. */
  private readonly open = new Set<string>();
  private readonly sent = new Set<string>();
  /** Models waiting for a parent that comes later in the input, by the parent's name@version. */
  private readonly waiting = new Map<string, Pending[]>();
  /** Models to send before reading further lines. */
  private readonly ready: Pending[] = [];
  private stream: Sent[] = [];
  private sentBefore = 0;
  /** Whether the last stream ended to learn ids (or was full) rather than at the end of the models. */
  private more = false;

  constructor(
    readonly client: RegistryClient,
    readonly prefix: string,
    readonly reader: ExportReader,
    readonly options: ImportRunOptions,
  ) {}

  /** Counts a failure and lists it (the first {@link maxListedFailures}). */
  fail(failure: ImportFailure, kind: "models" | "aliases"): void {
    this.summary[kind].failed++;
    this.list(failure);
  }

  private list(failure: ImportFailure): void {
    if (this.summary.failures.length < maxListedFailures) this.summary.failures.push(failure);
  }

  progress(sentInStream = 0): void {
    const { aliases } = this.summary;
    this.options.onProgress?.({
      models: this.sentBefore + sentInStream,
      aliases: aliases.set + aliases.alreadyPresent + aliases.failed,
      bytes: this.reader.bytesRead,
    });
  }

  /** The next line, or undefined when the input ended or stopped being valid (recorded in the summary). */
  async nextLine() {
    try {
      return await this.reader.next();
    } catch (error) {
      if (!(error instanceof ExportFormatError)) throw error;
      this.summary.stoppedBy = error;
      return undefined;
    }
  }

  /**
   * Imports the model lines, stopping before the aliases: in input order, through as few ImportModels
   * streams as the lineage allows (a model whose parent is in the open stream starts the next one, once
   * the parent's id can be looked up), each parent looked up at most once.
   */
  async importModels(): Promise<void> {
    do {
      this.more = false;
      await this.send(this.items());
    } while (this.more);
    const failed = new Set<Pending>();
    for (const [parent, children] of this.waiting) {
      for (const child of children) {
        if (failed.has(child)) continue;
        failed.add(child);
        const message = `lineage parent ${parent} is not in the target registry and was not imported`;
        this.fail({ line: child.line, item: label(child.model), code: "NOT_FOUND", message }, "models");
      }
    }
  }

  private async nextModel(): Promise<Pending | undefined> {
    if (this.summary.stoppedBy) return undefined;
    const next = await this.nextLine();
    if (!next) return undefined;
    if (next.entry.kind !== "model") {
      this.reader.unread(next);
      return undefined;
    }
    return { line: next.line, model: next.entry.model, parents: next.entry.parents };
  }

  /** The items of one stream. */
  private async *items(): AsyncGenerator<ImportItem> {
    for (;;) {
      if (this.stream.length >= maxStreamItems) {
        this.more = true;
        return;
      }
      const item = this.ready.shift() ?? (await this.nextModel());
      if (!item) return;
      const parentIds = await this.resolve(item);
      if (parentIds === "next stream") {
        this.ready.unshift(item);
        this.more = true;
        return;
      }
      if (parentIds === "wait") continue;
      if (!Array.isArray(parentIds)) {
        this.fail(parentIds, "models");
        continue;
      }
      const key = label(item.model);
      this.stream.push({ line: item.line, model: item.model, parentIds });
      this.open.add(key);
      this.absent.delete(key);
      this.release(key);
      yield { model: importable(item.model, parentIds), requestId: requestIdOf(this.prefix, item.model) };
    }
  }

  /** Makes the models waiting for `key` ready once they wait for nothing else (in input order). */
  private release(key: string): void {
    const children = this.waiting.get(key);
    if (!children) return;
    this.waiting.delete(key);
    for (const child of children) {
      child.missing?.delete(key);
      if (child.missing?.size === 0) this.ready.push(child);
    }
    this.ready.sort((a, b) => a.line - b.line);
  }

  /**
   * The target's ids of a model's parents; "next stream" when one is in the open stream, "wait" when one
   * is neither in the target registry nor imported yet (it may come later in the input), or why not.
   */
  private async resolve(item: Pending): Promise<string[] | "next stream" | "wait" | ImportFailure> {
    const failure = (message: string) => ({
      line: item.line,
      item: label(item.model),
      code: "NOT_FOUND",
      message,
    });
    const keys: string[] = [];
    for (const parent of item.parents) {
      if (parent.name === undefined || parent.version === undefined)
        return failure(`lineage parent ${parent.id} was deleted from the source registry before the export`);
      keys.push(label({ name: parent.name, version: parent.version }));
    }
    if (keys.some((key) => this.open.has(key))) return "next stream";
    const ids: string[] = [];
    const missing = new Set<string>();
    for (const key of keys) {
      const id = await this.targetId(key);
      if (id !== undefined) ids.push(id);
      else if (this.sent.has(key)) return failure(`lineage parent ${key} could not be imported`);
      else missing.add(key);
    }
    if (missing.size === 0) return ids;
    item.missing = missing;
    for (const key of missing) {
      const children = this.waiting.get(key);
      if (children) children.push(item);
      else this.waiting.set(key, [item]);
    }
    return "wait";
  }

  /** The target's id of `key` (name@version): known, or looked up once; undefined if it is not there. */
  private async targetId(key: string): Promise<string | undefined> {
    const known = this.targetIds.get(key);
    if (known !== undefined || this.absent.has(key)) return known;
    const at = key.lastIndexOf("@");
    this.lookups++;
    try {
      const model = await this.client.lookupModel(
        { name: key.slice(0, at), version: key.slice(at + 1) },
        { signal: this.options.signal },
      );
      this.targetIds.set(key, model.id);
      return model.id;
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === Code.NOT_FOUND)) throw error;
      this.absent.add(key);
      return undefined;
    }
  }

  /** Sends `items` as one ImportModels stream and adds its answer to the summary. */
  private async send(items: AsyncIterable<ImportItem>): Promise<void> {
    const response = await this.client.importModels(items, {
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      onProgress: ({ sent }) => this.progress(sent),
    });
    this.sentBefore += this.stream.length;
    await this.add(response);
    for (const key of this.open) this.sent.add(key);
    this.open.clear();
    this.stream = [];
  }

  private async add(response: ImportModelsResponse): Promise<void> {
    const { models } = this.summary;
    this.createdOrReplayed += response.createdCount;
    const existing: { item: Sent; id: string }[] = [];
    let listedFailures = 0;
    for (const result of response.results) {
      const item = this.stream[result.index];
      if (result.outcome === ImportOutcome.FAILED) {
        listedFailures++;
        this.fail(failureOfStatus(item?.line ?? 0, item ? label(item.model) : "?", result.error), "models");
      } else if (result.outcome === ImportOutcome.ALREADY_EXISTS && item) {
        this.targetIds.set(label(item.model), result.modelId);
        existing.push({ item, id: result.modelId });
      }
    }
    // The listed results may be cut (1,000 at most); the counts are complete.
    models.failed += response.failedCount - listedFailures;
    models.alreadyPresent += response.alreadyExistsCount - existing.length;
    await this.compare(existing);
  }

  /** Counts each existing model as already present, or as different when its content is not the same. */
  private async compare(existing: readonly { item: Sent; id: string }[]): Promise<void> {
    if (existing.length === 0) return;
    const { models } = this.summary;
    let found: Model[];
    try {
      found = await this.client.batchGetModels(
        { ids: existing.map((e) => e.id) },
        { signal: this.options.signal },
      );
    } catch (error) {
      // Deleted meanwhile: nothing to compare with.
      if (!(error instanceof RegistryError && error.code === Code.NOT_FOUND)) throw error;
      found = [];
    }
    const byId = new Map(found.map((model) => [model.id, model]));
    for (const { item, id } of existing) {
      const target = byId.get(id);
      const fields = target ? differingFields(item.model, item.parentIds, target) : [];
      if (fields.length === 0) {
        models.alreadyPresent++;
        continue;
      }
      models.differs++;
      const what = label(item.model);
      const message = `the registry holds another ${what} (${fields.join(", ")} differ); left unchanged`;
      this.list({ line: item.line, item: what, code: "ALREADY_EXISTS", message });
    }
  }
}
