/**
 * What a change event or a write through this client does to the cache's
 * keys: the entries it sets (a model, a pointer) and the keys it makes
 * unknown (read the registry again).
 *
 * @internal
 */
import { type Model, type ModelEvent, ModelEventType, parseRevision } from "@modelreg/proto";
import { type Entry, modelEntry } from "./entries";
import { aliasKey, idKey, versionKey } from "./keys";

/** One key's new entry. */
export interface Change {
  readonly key: string;
  readonly entry: Entry;
}

const unknown = (revision: bigint, fromWrite = false): Entry => ({
  kind: "unknown",
  revision,
  ...(fromWrite ? { fromWrite } : {}),
});

const pointer = (id: string, revision: bigint, fromWrite = false): Entry => ({
  kind: "pointer",
  id,
  revision,
  ...(fromWrite ? { fromWrite } : {}),
});

/** A model's own entries: by id, and its name/version pointing at the id. */
function modelChanges(model: Model, revision: bigint, fromWrite: boolean): Change[] {
  return [
    { key: idKey(model.id), entry: modelEntry(model, revision, fromWrite) },
    { key: versionKey(model.name, model.version), entry: pointer(model.id, revision, fromWrite) },
  ];
}

/** A deleted model's keys, unknown from `revision` on; `latest` of its name may have moved. */
function deletedChanges(
  id: string,
  model: Model | undefined,
  revision: bigint,
  fromWrite: boolean,
): Change[] {
  const changes: Change[] = [{ key: idKey(id), entry: unknown(revision, fromWrite) }];
  if (model) {
    changes.push(
      { key: versionKey(model.name, model.version), entry: unknown(revision, fromWrite) },
      { key: aliasKey(model.name, "latest"), entry: unknown(revision, fromWrite) },
    );
  }
  return changes;
}

/** The entries a change event at `revision` sets. */
export function changesOfEvent(event: ModelEvent, revision: bigint): Change[] {
  const { model, alias } = event;
  switch (event.type) {
    case ModelEventType.CREATED:
      if (!model) return [];
      return [
        ...modelChanges(model, revision, false),
        { key: aliasKey(model.name, "latest"), entry: unknown(revision) },
      ];
    case ModelEventType.UPDATED:
      return model ? modelChanges(model, revision, false) : [];
    case ModelEventType.DELETED:
      return deletedChanges(event.modelId || (model?.id ?? ""), model, revision, false);
    case ModelEventType.ALIAS_SET: {
      if (!alias) return [];
      const changes: Change[] = [
        { key: aliasKey(alias.name, alias.alias), entry: pointer(alias.modelId, revision) },
      ];
      if (model && model.id === alias.modelId) {
        changes.push({ key: idKey(model.id), entry: modelEntry(model, revision) });
      }
      return changes;
    }
    case ModelEventType.ALIAS_DELETED:
      return alias ? [{ key: aliasKey(alias.name, alias.alias), entry: unknown(revision) }] : [];
    default:
      return [];
  }
}

/** What a successful write's answer tells the cache. */
export interface WriteOutcome {
  /** The write method's name (`CreateModel`, ...). */
  readonly method: string;
  /** The request. */
  readonly input: Record<string, unknown>;
  /** The response (its `model` or `alias`). */
  readonly response: {
    model?: Model;
    alias?: { name: string; alias: string; modelId: string; etag: string };
  };
  /** The `x-modelreg-revision` header, if the registry sent one. */
  readonly revision: bigint | undefined;
  /** The model by id as the cache holds it (a delete learns its name and version from it). */
  readonly cached: (id: string) => Model | undefined;
}

const modelWrites: ReadonlySet<string> = new Set([
  "CreateModel",
  "UpdateModel",
  "AddModelTags",
  "RemoveModelTags",
  "UpdateModelMetadata",
]);

/** The write methods the cache follows. */
export const writeMethods: ReadonlySet<string> = new Set([
  ...modelWrites,
  "DeleteModel",
  "SetModelAlias",
  "DeleteModelAlias",
]);

/**
 * The entries a write sets, tagged with its revision header (without one,
 * the keys it touched, each `unknown` at the highest revision: evicted).
 */
export function changesOfWrite(write: WriteOutcome): Change[] {
  const revision = write.revision ?? 0x7fff_ffff_ffff_ffffn;
  const { model, alias } = write.response;
  if (modelWrites.has(write.method)) {
    if (!model) return [];
    const changes = write.revision === undefined ? deletedChanges(model.id, model, revision, true) : [];
    if (write.revision !== undefined) changes.push(...modelChanges(model, revision, true));
    if (write.method === "CreateModel") {
      changes.push({ key: aliasKey(model.name, "latest"), entry: unknown(revision, true) });
    }
    return changes;
  }
  if (write.method === "DeleteModel") {
    const id = typeof write.input.id === "string" ? write.input.id : "";
    return id === "" ? [] : deletedChanges(id, write.cached(id), revision, true);
  }
  const name = write.input.name;
  const aliasName = write.input.alias;
  if (typeof name !== "string" || typeof aliasName !== "string") return [];
  if (write.method === "SetModelAlias" && alias && write.revision !== undefined) {
    // The alias's etag is the revision that last set it: exact, also for a replayed request id.
    const tag = parseRevision(/^"?(\d{1,19})"?$/.exec(alias.etag)?.[1]) ?? write.revision;
    return [{ key: aliasKey(alias.name, alias.alias), entry: pointer(alias.modelId, tag) }];
  }
  return [{ key: aliasKey(name, aliasName), entry: unknown(revision, true) }];
}
