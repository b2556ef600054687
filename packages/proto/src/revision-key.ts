import type { Model } from "./gen/modelregistry/v1/model";

/**
 * A key naming one revision of one model, for caches of what a model
 * encodes to (its protobuf bytes, its JSON): every write changes the etag,
 * and ids are never reused, so an entry under this key never goes stale.
 * The update time is part of it because a database restored from a backup
 * (or failed over to a replica that lost commits) can reuse a revision for
 * other content. `undefined` for a model without an id or etag.
 */
export function modelRevisionKey(model: Model | undefined): string | undefined {
  if (!model || model.id === "" || model.etag === "") return undefined;
  const time = model.updateTime;
  return `${model.id}\n${model.etag}\n${time?.seconds ?? ""}.${time?.nanos ?? ""}`;
}
