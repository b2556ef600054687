/** The registry calls the page makes, one function per REST route it uses. */
import { request } from "./http";
import type { HistoryEntry, Model, ModelAlias, Page } from "./types";

/** What the list shows: a filter (AIP-160), an order, and a page. */
export interface ListQuery {
  readonly filter?: string;
  /** e.g. `create_time desc`, `name, version`. */
  readonly orderBy?: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
}

/** `GET /api/v1/models`: one page of models. */
export async function listModels(query: ListQuery, signal?: AbortSignal): Promise<Page<Model>> {
  const answer = await request<{ models: Model[]; nextPageToken: string }>("GET", "/api/v1/models", {
    query: {
      filter: query.filter,
      orderBy: query.orderBy,
      pageSize: query.pageSize,
      pageToken: query.pageToken,
    },
    ...(signal ? { signal } : {}),
  });
  return { items: answer.models, nextPageToken: answer.nextPageToken };
}

/** A string as a quoted AIP-160 literal. */
export function quoteFilterValue(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** `GET /api/v1/models/{id}`. */
export function getModel(id: string, signal?: AbortSignal): Promise<Model> {
  return request<Model>("GET", `/api/v1/models/${encodeURIComponent(id)}`, signal ? { signal } : {});
}

/** Every version of `name`, newest first (pages followed up to `limit`). */
export async function listVersions(name: string, limit = 1000, signal?: AbortSignal): Promise<Model[]> {
  const versions: Model[] = [];
  let pageToken = "";
  do {
    const page = await listModels(
      { filter: `name = ${quoteFilterValue(name)}`, orderBy: "create_time desc", pageSize: 1000, pageToken },
      signal,
    );
    versions.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== "" && versions.length < limit);
  return versions.slice(0, limit);
}

/** `GET /api/v1/aliases?name=`: the aliases of `name` (every page). */
export async function listAliases(name: string, signal?: AbortSignal): Promise<ModelAlias[]> {
  const aliases: ModelAlias[] = [];
  let pageToken = "";
  do {
    const page = await request<{ aliases: ModelAlias[]; nextPageToken: string }>("GET", "/api/v1/aliases", {
      query: { name, pageSize: 1000, pageToken },
      ...(signal ? { signal } : {}),
    });
    aliases.push(...page.aliases);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return aliases;
}

/** What {@link setAlias} moves. */
export interface SetAliasInput {
  readonly name: string;
  readonly alias: string;
  readonly version: string;
  /**
   * Compare-and-set: move only if the alias points at this version now; ""
   * means "only if it does not exist yet"; undefined moves it wherever it is.
   */
  readonly expectedVersion?: string;
  /** Makes a retry safe (AIP-155). */
  readonly requestId?: string;
}

/** `PUT /api/v1/aliases/{alias}`: create or move an alias. */
export function setAlias(input: SetAliasInput): Promise<ModelAlias> {
  return request<ModelAlias>("PUT", `/api/v1/aliases/${encodeURIComponent(input.alias)}`, {
    body: {
      name: input.name,
      version: input.version,
      ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }),
      ...(input.requestId === undefined ? {} : { requestId: input.requestId }),
    },
  });
}

/** `DELETE /api/v1/aliases/{alias}?name=`, only if it still points at `expectedVersion` when given. */
export async function deleteAlias(name: string, alias: string, expectedVersion?: string): Promise<void> {
  await request<unknown>("DELETE", `/api/v1/aliases/${encodeURIComponent(alias)}`, {
    query: { name, expectedVersion },
  });
}

/** What {@link listHistory} lists. */
export interface HistoryQuery {
  readonly name?: string;
  readonly alias?: string;
  readonly modelId?: string;
  /** e.g. `type = ALIAS_SET`, `refused = true`. */
  readonly filter?: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
}

/** `GET /api/v1/history`: a page of the audit trail, newest first. */
export async function listHistory(query: HistoryQuery, signal?: AbortSignal): Promise<Page<HistoryEntry>> {
  const answer = await request<{ entries: HistoryEntry[]; nextPageToken: string }>("GET", "/api/v1/history", {
    query: {
      name: query.name,
      alias: query.alias,
      modelId: query.modelId,
      filter: query.filter,
      pageSize: query.pageSize,
      pageToken: query.pageToken,
    },
    ...(signal ? { signal } : {}),
  });
  return { items: answer.entries, nextPageToken: answer.nextPageToken };
}
