// Versions that share a create time (a registry stamps milliseconds, so one ImportModels batch gives many
// the same) are listed by id, which is random. The registry resolves `name@latest` among them to the one
// created last; an export lists them in creation order, so an import creates them in that order again.
import { type Model, Timestamp } from "@modelreg/proto";
import type { RegistryClient } from "@modelreg/registry-client";

/** How long after its create time a version's created entry may commit (the registry's own bound). */
const commitSlackMs = 60_000;

const timeKey = (model: Model) => `${model.createTime?.seconds ?? 0n}.${model.createTime?.nanos ?? 0}`;

/**
 * The created entries' revisions of `ids` (versions of `name` created at `time`), from the history; a
 * version whose entry is not found (pruned, or no permission to read the history) is left out.
 */
async function createdRevisions(
  client: RegistryClient,
  name: string,
  time: Date,
  ids: ReadonlySet<string>,
  signal: AbortSignal | undefined,
): Promise<Map<string, bigint>> {
  const revisions = new Map<string, bigint>();
  const until = new Date(time.getTime() + commitSlackMs);
  const filter = `type = CREATED AND commit_time >= "${time.toISOString()}" AND commit_time <= "${until.toISOString()}"`;
  try {
    for await (const entry of client.listAllModelHistory({ name, filter, pageSize: 1000 }, { signal })) {
      const id = entry.after?.id ?? "";
      if (ids.has(id)) revisions.set(id, entry.revision);
      if (revisions.size === ids.size) break;
    }
  } catch (error) {
    if (signal?.aborted) throw error;
  }
  return revisions;
}

/**
 * `run` (models with one create time, as ListModels lists them) with the versions of each name in the
 * order they were created, each name keeping the positions its versions had.
 */
async function orderRun(client: RegistryClient, run: Model[], signal: AbortSignal | undefined) {
  const byName = new Map<string, Model[]>();
  for (const model of run) {
    const versions = byName.get(model.name);
    if (versions) versions.push(model);
    else byName.set(model.name, [model]);
  }
  const sorted = new Map<string, Model[]>();
  for (const [name, versions] of byName) {
    if (versions.length < 2 || !versions[0]?.createTime) {
      sorted.set(name, versions);
      continue;
    }
    const time = Timestamp.toDate(versions[0].createTime);
    const ids = new Set(versions.map((model) => model.id));
    const revisions = await createdRevisions(client, name, time, ids, signal);
    if (revisions.size < ids.size) {
      sorted.set(name, versions);
      continue;
    }
    const revision = (model: Model) => revisions.get(model.id) ?? 0n;
    sorted.set(
      name,
      [...versions].sort((a, b) => (revision(a) < revision(b) ? -1 : revision(a) > revision(b) ? 1 : 0)),
    );
  }
  return run.map((model) => sorted.get(model.name)?.shift() ?? model);
}

/**
 * Reorders a page of models (oldest first) so that versions of one name sharing a create time come in
 * creation order. The last run of equal create times may continue on the next page: it is returned as
 * `held`, to be put before that page (unless `last`).
 */
export async function inCreationOrder(
  client: RegistryClient,
  models: readonly Model[],
  last: boolean,
  signal: AbortSignal | undefined,
): Promise<{ ready: Model[]; held: Model[] }> {
  const ready: Model[] = [];
  let run: Model[] = [];
  const flush = async () => {
    ready.push(...(run.length > 1 ? await orderRun(client, run, signal) : run));
    run = [];
  };
  for (const model of models) {
    if (run.length > 0 && timeKey(run[0] as Model) !== timeKey(model)) await flush();
    run.push(model);
  }
  if (last) await flush();
  return { ready, held: run };
}
