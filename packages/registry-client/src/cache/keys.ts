/**
 * The cache's keys, and which requests it may answer: those whose fields
 * have the shape the registry accepts (its `checkId`, name, version and
 * alias rules). Anything else goes to the registry uncached, so the
 * registry's own INVALID_ARGUMENT (or its auth error, which it checks
 * first) is what the caller sees.
 *
 * @internal
 */

/** The registry's shape rules for the fields the cache keys on (registry-server validation.ts `limits`). */
const rules = {
  id: { max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9-]*$/ },
  name: { max: 128, pattern: /^[A-Za-z0-9][A-Za-z0-9._/-]*$/ },
  version: { max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._+-]*$/ },
  alias: { max: 63, pattern: /^[a-z][a-z0-9_-]*$/ },
} as const;

/** Most ids one BatchGetModels may name (the registry's `limits.batchIds`). */
export const maxBatchIds = 1000;

function fits(value: string, rule: { max: number; pattern: RegExp }): boolean {
  return value !== "" && value.length <= rule.max && rule.pattern.test(value);
}

/** Whether `id` is one the registry would look up (not reject as INVALID_ARGUMENT). */
export function isCacheableId(id: string): boolean {
  return fits(id, rules.id);
}

/** A LookupModel request the cache may answer: a valid name and exactly one valid version or alias, no read time. */
export function isCacheableLookup(request: {
  name: string;
  version: string;
  alias: string;
  readTime?: unknown;
}): boolean {
  if (request.readTime !== undefined || !fits(request.name, rules.name)) return false;
  if (request.version !== "") return request.alias === "" && fits(request.version, rules.version);
  return fits(request.alias, rules.alias);
}

/** The key of a model by id. */
export const idKey = (id: string) => `id:${id}`;

/** The key of a (name, version) pointer to a model id. */
export const versionKey = (name: string, version: string) => `nv:${name}\n${version}`;

/** The key of an alias pointer (`latest` included) to a model id. */
export const aliasKey = (name: string, alias: string) => `alias:${name}\n${alias}`;

/** The key a LookupModel request is answered from. */
export function lookupKey(request: { name: string; version: string; alias: string }): string {
  return request.version !== ""
    ? versionKey(request.name, request.version)
    : aliasKey(request.name, request.alias);
}
