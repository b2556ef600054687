// What an imported model must carry to count as "the same model": every field but the registry's own
// (id, etag, timestamps), with lineage parents compared by the target registry's ids.
import { createHash } from "node:crypto";
import type { Model } from "@modelreg/proto";

/** The canonical content of a model, as plain data (tags sorted; parents left out). */
function contentOf(model: Model) {
  const lineage = model.lineage;
  return {
    name: model.name,
    version: model.version,
    framework: model.framework,
    description: model.description,
    tags: [...new Set(model.tags)].sort(),
    metadata: Object.fromEntries(Object.entries(model.metadata).sort(([a], [b]) => (a < b ? -1 : 1))),
    artifactUri: model.artifactUri,
    artifactDigest: model.artifactDigest,
    lineage: {
      runUri: lineage?.runUri ?? "",
      codeRevision: lineage?.codeRevision ?? "",
      datasetUris: lineage?.datasetUris ?? [],
    },
  };
}

/** A hex SHA-256 of a model's content and its lineage parents' ids (as the line holds them). */
export function contentHash(model: Model): string {
  const parents = [...(model.lineage?.parentModelIds ?? [])].sort();
  return createHash("sha256")
    .update(JSON.stringify({ ...contentOf(model), parents }))
    .digest("hex");
}

/**
 * The names of the fields in which `existing` (a model of the target registry) differs from `source`
 * (a model of the input, whose lineage parents are `parentIds` in the target registry): empty when the
 * target already holds the same model.
 */
export function differingFields(source: Model, parentIds: readonly string[], existing: Model): string[] {
  const [a, b] = [contentOf(source), contentOf(existing)];
  const fields: string[] = [];
  for (const field of ["framework", "description", "tags", "metadata", "artifactUri", "artifactDigest"]) {
    const key = field as keyof typeof a;
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) fields.push(field);
  }
  for (const field of ["runUri", "codeRevision", "datasetUris"] as const) {
    if (JSON.stringify(a.lineage[field]) !== JSON.stringify(b.lineage[field]))
      fields.push(`lineage.${field}`);
  }
  const parents = (ids: readonly string[]) => JSON.stringify([...ids].sort());
  if (parents(parentIds) !== parents(existing.lineage?.parentModelIds ?? [])) fields.push("lineage parents");
  return fields;
}
