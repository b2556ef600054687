import { Code, type ModelEvent, RegistryError, type WatchModelsRequest } from "@modelreg/proto";
import type { CallContext } from "../context";
import { eventTypes, toModel, toModelAlias, toTimestamp } from "../convert";
import type { FilterExpression } from "../filter/ast";
import { evaluateFilter } from "../filter/evaluate";
import { FilterSyntaxError, parseFilter } from "../filter/parse";
import type { ChangeRecord, StorageCallOptions } from "../storage/adapter";
import { invalidArgument } from "../validation";
import { type ModelServiceHandlers, type ServiceDeps, storageOptions } from "./deps";

/** Changes read per storage call: what a watch holds in memory at most, however slow its watcher. */
const pageSize = 256;

const pruned = (after: number, prunedThrough: number) =>
  new RegistryError(
    Code.OUT_OF_RANGE,
    `after_revision ${after} is older than the retained change history (changes up to ${prunedThrough} were pruned); list the models again and watch from the latest revision.`,
    { reason: "REVISION_PRUNED" },
  );

const historyBehind = (cursor: number, latest: number) =>
  new RegistryError(
    Code.OUT_OF_RANGE,
    `The change history went back from revision ${cursor} to ${latest} (the database was restored or failed over); list the models again and watch from the latest revision.`,
    { reason: "REVISION_AHEAD" },
  );

function toModelEvent(change: ChangeRecord): ModelEvent {
  return {
    type: eventTypes[change.type],
    model: toModel(change.model),
    modelId: change.model.id,
    revision: BigInt(change.revision),
    commitTime: toTimestamp(change.commitTime),
    ...(change.alias ? { alias: toModelAlias(change.alias) } : {}),
  };
}

function watchFilter(request: WatchModelsRequest): FilterExpression | undefined {
  try {
    return request.filter ? parseFilter(request.filter) : undefined;
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw invalidArgument("filter", error.description);
    throw error;
  }
}

/** The revision the watch starts after: `after_revision` when given and servable, else the latest. */
async function startRevision(
  { storage }: ServiceDeps,
  request: WatchModelsRequest,
  options: StorageCallOptions,
): Promise<number> {
  const bounds = await storage.readChanges(0, 0, options);
  if (request.afterRevision === undefined) return bounds.latestRevision;
  const after = request.afterRevision;
  if (after < 0n) throw invalidArgument("after_revision", "must be 0 or more");
  if (after > BigInt(bounds.latestRevision)) {
    throw new RegistryError(
      Code.OUT_OF_RANGE,
      `after_revision ${after} is ahead of the latest revision ${bounds.latestRevision}; it belongs to another registry database. List the models again and watch from there.`,
      { reason: "REVISION_AHEAD" },
    );
  }
  const cursor = Number(after);
  if (cursor < bounds.prunedThrough) throw pruned(cursor, bounds.prunedThrough);
  return cursor;
}

type WatchHandlers = Pick<ModelServiceHandlers, "watchModels">;
type Responses = Parameters<ModelServiceHandlers["watchModels"]>[1];

/** Sends every change after `cursor` that passes `filter`, and progress notifications, until aborted. */
async function follow(
  { storage, feed, settings }: ServiceDeps,
  cursor: number,
  filter: FilterExpression | undefined,
  responses: Responses,
  context: CallContext,
): Promise<void> {
  const { signal } = context;
  let idleSince = Date.now();
  while (!signal.aborted) {
    const page = await storage.readChanges(cursor, pageSize, storageOptions(context));
    if (cursor < page.prunedThrough) throw pruned(cursor, page.prunedThrough);
    if (page.latestRevision < cursor) throw historyBehind(cursor, page.latestRevision);
    // Consecutive or nothing: anything else means history was lost under us.
    const first = page.changes[0];
    if (first && first.revision !== cursor + 1) throw pruned(cursor, first.revision - 1);
    for (const change of page.changes) {
      signal.throwIfAborted();
      cursor = change.revision;
      // A refused alias move changed nothing: it is history, not an event.
      if (change.refusal) continue;
      if (filter && !evaluateFilter(filter, change.model)) continue;
      await responses.send({ event: toModelEvent(change), revision: BigInt(change.revision) });
      idleSince = Date.now();
    }
    if (page.changes.length === pageSize) continue;
    const quietFor = Date.now() - idleSince;
    if (quietFor >= settings.progressIntervalMs) {
      await responses.send({ revision: BigInt(cursor) });
      idleSince = Date.now();
      continue;
    }
    await feed.waitForChange(cursor, settings.progressIntervalMs - quietFor, signal);
  }
}

/**
 * WatchModels: sends a progress notification with the starting revision,
 * then every change after it in order, each once (those the filter leaves
 * out are skipped), and a progress notification when nothing was sent for
 * `progressIntervalMs`. Runs until the call's signal aborts or
 * `responses.send` rejects; reads storage only as fast as the transport
 * takes messages, so memory holds one page of changes however slow the
 * watcher.
 */
export function watchHandlers(deps: ServiceDeps): WatchHandlers {
  return {
    async watchModels(request, responses, context) {
      const filter = watchFilter(request);
      try {
        const cursor = await startRevision(deps, request, storageOptions(context));
        await responses.send({ revision: BigInt(cursor) });
        await follow(deps, cursor, filter, responses, context);
      } catch (error) {
        // Once aborted, the watch ends with the signal's reason (the server
        // shutting down, say), not with what storage made of the abort.
        context.signal.throwIfAborted();
        throw error;
      }
      context.signal.throwIfAborted();
    },
  };
}
