import type { ListModelHistoryRequest } from "@modelreg/proto";
import { toHistoryEntry } from "../convert";
import { FilterSyntaxError } from "../filter/parse";
import { decodeToken, encodeToken, foreignToken, pageOf, pageSizeOf, tokenHash } from "../listing";
import type { HistoryQuery } from "../storage/adapter";
import { checkId, checkToken, limits, Violations } from "../validation";
import { type ModelServiceHandlers, type ServiceDeps, storageOptions } from "./deps";
import { type HistoryConditions, parseHistoryFilter } from "./history-filter";

/** Binds a page token to every other field of the request, so it cannot continue another query. */
function historyQueryHash(request: ListModelHistoryRequest): string {
  return tokenHash(JSON.stringify([request.name, request.alias, request.modelId, request.filter]));
}

function encodeHistoryToken(request: ListModelHistoryRequest, lastRevision: number): string {
  return encodeToken({ q: historyQueryHash(request), r: lastRevision });
}

function decodeHistoryToken(v: Violations, request: ListModelHistoryRequest): number | undefined {
  if (request.pageToken === "") return undefined;
  try {
    const payload = decodeToken(request.pageToken) as Record<string, unknown>;
    // The query hash is required: a token without one could continue any other query.
    if (typeof payload.q !== "string") throw new TypeError("no query hash");
    if (payload.q !== historyQueryHash(request)) {
      v.add(
        "page_token",
        "belongs to a listing with other name, alias, model_id or filter; send the same ones",
      );
      return undefined;
    }
    if (Number.isSafeInteger(payload.r) && (payload.r as number) > 0) return payload.r as number;
  } catch {
    // Falls through to the violation below.
  }
  v.add("page_token", foreignToken);
  return undefined;
}

/** The request, validated, as a storage query (`undefined` when the filter can match nothing). */
function planHistory(request: ListModelHistoryRequest): HistoryQuery | undefined {
  const v = new Violations();
  if (request.name !== "") checkToken(v, "name", request.name, limits.name, false);
  if (request.alias !== "") {
    if (request.name === "") v.add("alias", "needs name: an alias belongs to a model name");
    else if (!limits.alias.test(request.alias)) v.add("alias", "is not a valid alias name");
  }
  if (request.modelId !== "") checkId(v, "model_id", request.modelId);
  let conditions: HistoryConditions = {};
  try {
    conditions = parseHistoryFilter(request.filter);
  } catch (error) {
    if (!(error instanceof FilterSyntaxError)) throw error;
    v.add("filter", error.description);
  }
  const pageSize = pageSizeOf(v, request.pageSize);
  const beforeRevision = decodeHistoryToken(v, request);
  v.throwIfAny();
  if (conditions.empty) return undefined;
  return {
    name: request.name || undefined,
    alias: request.alias || undefined,
    modelId: request.modelId || undefined,
    actor: conditions.actor,
    types: conditions.types,
    refused: conditions.refused,
    fromTime: conditions.fromTime,
    toTime: conditions.toTime,
    beforeRevision,
    limit: pageSize + 1,
  };
}

type HistoryHandlers = Pick<ModelServiceHandlers, "listModelHistory">;

/** ListModelHistory: the audit history, newest first, keyset-paged by revision. */
export function historyHandlers({ storage }: ServiceDeps): HistoryHandlers {
  return {
    async listModelHistory(request, context) {
      const query = planHistory(request);
      if (!query) return { entries: [], nextPageToken: "" };
      const records = await storage.listHistory(query, storageOptions(context));
      const pageSize = query.limit - 1;
      const { page, last } = pageOf(records, pageSize);
      return {
        entries: page.map(toHistoryEntry),
        nextPageToken: last ? encodeHistoryToken(request, last.revision) : "",
      };
    },
  };
}
