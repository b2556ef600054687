import { Code, RegistryError } from "@modelreg/proto";
import { toModel } from "../convert";
import type { FilterExpression } from "../filter/ast";
import { FilterSyntaxError, parseFilter } from "../filter/parse";
import { decodePageToken, encodePageToken, pageOf, pageSizeOf, parseOrderBy } from "../listing";
import type { ModelRecord } from "../storage/adapter";
import { cursorAfter } from "../storage/order";
import { checkId, limits, Violations } from "../validation";
import { type ModelServiceHandlers, notFound, type ServiceDeps, storageOptions } from "./deps";
import { lookupByAlias, planLookup } from "./lookup";

type ReadHandlers = Pick<ModelServiceHandlers, "getModel" | "lookupModel" | "listModels" | "batchGetModels">;

/** GetModel, LookupModel, ListModels and BatchGetModels: validate, read storage once, convert. */
export function readHandlers({ storage }: ServiceDeps): ReadHandlers {
  return {
    async getModel(request, context) {
      const v = new Violations();
      checkId(v, "id", request.id);
      v.throwIfAny();
      const record = await storage.get(request.id, storageOptions(context));
      if (!record) throw notFound(request.id);
      return { model: toModel(record) };
    },

    async lookupModel(request, context) {
      const plan = planLookup(request);
      if (plan.alias !== "") return { model: toModel(await lookupByAlias(storage, plan, context)) };
      const record = await storage.getByNameVersion(plan.name, plan.version, storageOptions(context));
      if (!record) {
        throw new RegistryError(
          Code.NOT_FOUND,
          `No model named "${request.name}" with version "${request.version}".`,
          { reason: "MODEL_NOT_FOUND" },
        );
      }
      return { model: toModel(record) };
    },

    async listModels(request, context) {
      const v = new Violations();
      const pageSize = pageSizeOf(v, request.pageSize);
      let filter: FilterExpression | undefined;
      try {
        filter = parseFilter(request.filter);
      } catch (error) {
        if (!(error instanceof FilterSyntaxError)) throw error;
        v.add("filter", error.description);
      }
      const orderBy = parseOrderBy(v, request.orderBy);
      const after = decodePageToken(v, request.pageToken, request.filter, orderBy);
      v.throwIfAny();

      const query = { filter, orderBy, after, limit: pageSize + 1 };
      const records = await storage.list(query, storageOptions(context));
      const { page, last } = pageOf(records, pageSize);
      return {
        models: page.map(toModel),
        nextPageToken: last ? encodePageToken(cursorAfter(last, orderBy), request.filter, orderBy) : "",
      };
    },

    async batchGetModels(request, context) {
      const v = new Violations();
      if (request.ids.length === 0) v.add("ids", "at least one id is required");
      if (request.ids.length > limits.batchIds) {
        v.add("ids", `at most ${limits.batchIds} ids are allowed (got ${request.ids.length})`);
      } else {
        request.ids.forEach((id, i) => {
          checkId(v, `ids[${i}]`, id);
        });
      }
      v.throwIfAny();
      const records = await storage.getMany(request.ids, storageOptions(context));
      const found = new Map(records.map((r) => [r.id, r]));
      const missing = [...new Set(request.ids.filter((id) => !found.has(id)))];
      if (missing.length > 0) {
        const shown = missing.slice(0, 5).map((id) => `"${id}"`);
        const more = missing.length > shown.length ? ` and ${missing.length - shown.length} more` : "";
        throw new RegistryError(Code.NOT_FOUND, `Models not found: ${shown.join(", ")}${more}.`, {
          reason: "MODEL_NOT_FOUND",
        });
      }
      return { models: request.ids.map((id) => toModel(found.get(id) as ModelRecord)) };
    },
  };
}
