import { Code, RegistryError, type UpdateModelMetadataRequest } from "@modelreg/proto";
import { toModel } from "../convert";
import { checkId, checkMetadata, checkTags, checkToken, limits, parseEtag, Violations } from "../validation";
import type { ModelServiceHandlers, ServiceDeps } from "./deps";
import { mutate } from "./writes";

function tagRequest(request: { id: string; tags: string[]; etag: string }) {
  const v = new Violations();
  checkId(v, "id", request.id);
  if (request.tags.length === 0) v.add("tags", "at least one tag is required");
  const tags = checkTags(v, "tags", request.tags, limits.tagsPerModel);
  const expected = parseEtag(v, "etag", request.etag);
  v.throwIfAny();
  return { tags, expected };
}

function checkMetadataRequest(request: UpdateModelMetadataRequest): number | undefined {
  const v = new Violations();
  checkId(v, "id", request.id);
  if (Object.keys(request.set).length === 0 && request.removeKeys.length === 0) {
    v.add("set", "set or remove_keys must name at least one key");
  }
  checkMetadata(v, "set", request.set);
  request.removeKeys.forEach((key, i) => {
    checkToken(v, `remove_keys[${i}]`, key, limits.metadataKey, true);
    if (Object.hasOwn(request.set, key)) v.add(`remove_keys[${i}]`, `"${key}" is also in set; name it once`);
  });
  const expected = parseEtag(v, "etag", request.etag);
  v.throwIfAny();
  return expected;
}

type EditHandlers = Pick<ModelServiceHandlers, "addModelTags" | "removeModelTags" | "updateModelMetadata">;

/** AddModelTags, RemoveModelTags and UpdateModelMetadata: set edits, atomic through `mutate`. */
export function editHandlers(deps: ServiceDeps): EditHandlers {
  return {
    async addModelTags(request, context) {
      const { expected, tags } = tagRequest(request);
      const model = await mutate(deps, request.id, expected, context, (current) => {
        const merged = [...new Set([...current.tags, ...tags])].sort();
        if (merged.length > limits.tagsPerModel) {
          throw new RegistryError(
            Code.FAILED_PRECONDITION,
            `The model would have ${merged.length} tags; at most ${limits.tagsPerModel} are allowed. Remove some first.`,
            { reason: "TOO_MANY_TAGS" },
          );
        }
        return { ...current, tags: merged };
      });
      return { model: toModel(model) };
    },

    async removeModelTags(request, context) {
      const { expected, tags } = tagRequest(request);
      const remove = new Set(tags);
      const model = await mutate(deps, request.id, expected, context, (current) => ({
        ...current,
        tags: current.tags.filter((t) => !remove.has(t)),
      }));
      return { model: toModel(model) };
    },

    async updateModelMetadata(request, context) {
      const expected = checkMetadataRequest(request);
      const model = await mutate(deps, request.id, expected, context, (current) => {
        const metadata: Record<string, string> = { ...current.metadata, ...request.set };
        for (const key of request.removeKeys) delete metadata[key];
        const count = Object.keys(metadata).length;
        if (count > limits.metadataEntriesPerModel) {
          throw new RegistryError(
            Code.FAILED_PRECONDITION,
            `The model would have ${count} metadata entries; at most ${limits.metadataEntriesPerModel} are allowed.`,
            { reason: "TOO_MANY_METADATA_ENTRIES" },
          );
        }
        return { ...current, metadata };
      });
      return { model: toModel(model) };
    },
  };
}
