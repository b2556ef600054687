import { once } from "node:events";
import type { Model } from "@modelreg/proto";
import { Code, type RegistryClient, RegistryError } from "@modelreg/registry-client";
import { inCreationOrder } from "./creation-order";
import { aliasLine, endLine, headerLine, modelLine, type ParentRef } from "./format";

/** Options of {@link exportRegistry}. */
export interface ExportOptions {
  /** Only the models matching this filter (the ListModels syntax), and only the aliases pointing at them. */
  readonly filter?: string;
  /** Models per ListModels page. Default 1000 (the registry's maximum). */
  readonly pageSize?: number;
  /** Cancels the export between pages. */
  readonly signal?: AbortSignal;
  /** Called after each page with the number of models written so far. */
  readonly onProgress?: (models: number) => void;
  /**
   * How many (id -> name@version) entries of lineage parents to keep between pages, at least. Default
   * 100,000; the least recently used go first, never one the page being written needs.
   */
  readonly parentCacheLimit?: number;
}

/** What {@link exportRegistry} wrote. */
export interface ExportCounts {
  readonly models: number;
  readonly aliases: number;
}

/**
 * Writes `text` and a newline, waiting for `out` to drain when it asks to (backpressure); throws the
 * stream's error (a full disk) instead of waiting for a drain that never comes.
 */
async function writeLine(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (out.write(`${text}\n`)) return;
  const stream = out as NodeJS.WritableStream & { errored?: Error | null; destroyed?: boolean };
  if (stream.errored) throw stream.errored;
  if (stream.destroyed) throw new Error("the output was closed");
  await once(out, "drain");
}

/**
 * (name, version) of source models by id, for the `parents` of their children: a cache that drops the
 * least recently used entries beyond its limit, only between pages ({@link trim}).
 */
class ParentNames {
  private readonly known = new Map<string, ParentRef>();

  constructor(
    private readonly client: RegistryClient,
    private readonly limit: number,
  ) {}

  remember(model: Model): void {
    this.known.delete(model.id);
    this.known.set(model.id, { id: model.id, name: model.name, version: model.version });
  }

  /** Drops the least recently used entries beyond the limit (a Map iterates in insertion order). */
  trim(): void {
    for (const id of this.known.keys()) {
      if (this.known.size <= this.limit) return;
      this.known.delete(id);
    }
  }

  /** Makes sure every parent of `models` is known, with as few calls as possible. */
  async load(models: readonly Model[], signal: AbortSignal | undefined): Promise<void> {
    const ids = models.flatMap((model) => model.lineage?.parentModelIds ?? []);
    const missing = [...new Set(ids.filter((id) => !this.known.has(id)))];
    for (let start = 0; start < missing.length; start += 1000) {
      const chunk = missing.slice(start, start + 1000);
      try {
        for (const parent of await this.client.batchGetModels({ ids: chunk }, { signal }))
          this.remember(parent);
      } catch (error) {
        if (!(error instanceof RegistryError && error.code === Code.NOT_FOUND)) throw error;
        // All or nothing: a parent was deleted since. Ask one at a time; a deleted one keeps only its id.
        for (const id of chunk) await this.loadOne(id, signal);
      }
    }
  }

  private async loadOne(id: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      this.remember(await this.client.getModel({ id }, { signal }));
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === Code.NOT_FOUND)) throw error;
      this.known.set(id, { id });
    }
  }

  of(model: Model): ParentRef[] {
    return (model.lineage?.parentModelIds ?? []).map((id) => {
      const parent = this.known.get(id);
      if (!parent) return { id };
      // Used now: the last to go.
      this.known.delete(id);
      this.known.set(id, parent);
      return parent;
    });
  }
}

/**
 * Writes every model matching `options.filter` and every alias (of every name, or with a filter only
 * those pointing at an exported model) to `out` in the export format (see ./format.ts), streaming page
 * by page: memory holds one page. Models are listed oldest first, so models created during the export
 * are included up to the moment the last page is read; a model changed during it is written as its page
 * saw it; aliases are read after the models.
 */
export async function exportRegistry(
  client: RegistryClient,
  out: NodeJS.WritableStream,
  options: ExportOptions = {},
): Promise<ExportCounts> {
  const filter = options.filter ?? "";
  const { signal } = options;
  await writeLine(out, headerLine(filter, new Date()));
  const parents = new ParentNames(client, options.parentCacheLimit ?? 100_000);
  // With a filter, the aliases to keep are those of exported models.
  const exportedIds = filter === "" ? undefined : new Set<string>();
  let models = 0;
  let pageToken = "";
  // The last run of one create time of a page, written with the next page (it may go on there).
  let held: Model[] = [];
  do {
    signal?.throwIfAborted();
    const page = await client.listModels(
      { filter, orderBy: "create_time", pageSize: options.pageSize ?? 1000, pageToken },
      { signal },
    );
    pageToken = page.nextPageToken;
    const ordered = await inCreationOrder(client, [...held, ...page.models], pageToken === "", signal);
    held = ordered.held;
    parents.trim();
    await parents.load(ordered.ready, signal);
    for (const model of ordered.ready) {
      parents.remember(model);
      exportedIds?.add(model.id);
      await writeLine(out, modelLine(model, parents.of(model)));
    }
    models += ordered.ready.length;
    options.onProgress?.(models);
  } while (pageToken !== "");
  let aliases = 0;
  for await (const alias of client.listAllModelAliases({ pageSize: 1000 }, { signal })) {
    if (exportedIds && !exportedIds.has(alias.modelId)) continue;
    await writeLine(out, aliasLine(alias));
    aliases++;
  }
  await writeLine(out, endLine(models, aliases));
  return { models, aliases };
}
