import {
  type ImportModelsRequest,
  type ImportModelsResponse,
  ImportOutcome,
  RegistryError,
} from "@modelreg/proto";
import type { CallContext } from "../context";
import { decodeFailureOf } from "../decode-failure";
import type { ModelRecord, StorageAdapter } from "../storage/adapter";
import {
  answerLatestRevision,
  answerRevision,
  type ModelServiceHandlers,
  type ServiceDeps,
  storageOptions,
  writeOptions,
} from "./deps";
import { insertedModel, newRecord, parentsMissing } from "./writes";

/**
 * How many per-item results an ImportModels summary lists at most (the
 * counts are always complete): the summary is one message, and a huge
 * import of mostly existing or invalid items would otherwise outgrow the
 * message size limit after everything was written.
 */
export const maxImportResults = 1000;

interface BatchItem {
  readonly index: number;
  readonly record: ModelRecord;
  readonly requestId: string;
}

/** The summary of one import, filled in as batches are written. */
class ImportSummary {
  readonly response: ImportModelsResponse = {
    createdCount: 0,
    alreadyExistsCount: 0,
    failedCount: 0,
    results: [],
  };

  failed(index: number, error: RegistryError): void {
    this.response.failedCount++;
    if (this.response.results.length >= maxImportResults) return;
    this.response.results.push({
      index,
      outcome: ImportOutcome.FAILED,
      modelId: "",
      error: error.toStatus(),
    });
  }

  alreadyExists(index: number, modelId: string): void {
    this.response.alreadyExistsCount++;
    if (this.response.results.length >= maxImportResults) return;
    this.response.results.push({ index, outcome: ImportOutcome.ALREADY_EXISTS, modelId });
  }

  /** The highest revision of the models the import created (0 before the first). */
  revision = 0;

  created(revision: number): void {
    this.response.createdCount++;
    this.revision = Math.max(this.revision, revision);
  }

  finish(): ImportModelsResponse {
    this.response.results.sort((a, b) => a.index - b.index);
    return this.response;
  }
}

/**
 * The items whose `lineage.parent_model_ids` all exist (one storage read for
 * the batch); the others are reported failed, as CreateModel would fail them.
 */
async function withExistingParents(
  storage: StorageAdapter,
  batch: readonly BatchItem[],
  summary: ImportSummary,
  context: CallContext,
): Promise<readonly BatchItem[]> {
  const parents = [...new Set(batch.flatMap((item) => item.record.lineage.parentModelIds))];
  if (parents.length === 0) return batch;
  const found = new Set((await storage.getMany(parents, storageOptions(context))).map((r) => r.id));
  const kept: BatchItem[] = [];
  for (const item of batch) {
    const missing = item.record.lineage.parentModelIds.filter((id) => !found.has(id));
    if (missing.length === 0) kept.push(item);
    else summary.failed(item.index, parentsMissing("model.lineage.parent_model_ids", missing));
  }
  return kept;
}

/** Writes one batch in one storage call and records each item's outcome. */
async function writeBatch(
  { storage, feed }: ServiceDeps,
  items: readonly BatchItem[],
  summary: ImportSummary,
  context: CallContext,
): Promise<void> {
  if (items.length === 0) return;
  // Storage may ignore the signal: an abandoned import writes no further batch.
  context.signal.throwIfAborted();
  const batch = await withExistingParents(storage, items, summary, context);
  if (batch.length === 0) return;
  const results = await storage.insertMany(
    batch.map(({ record, requestId }) => ({ record, requestId: requestId || undefined })),
    writeOptions(context),
  );
  let created = false;
  for (const [i, item] of batch.entries()) {
    const result = results[i];
    if (result === undefined) throw new Error("storage.insertMany returned fewer results than items");
    created ||= result.status === "created";
    if (result.status === "nameVersionTaken") {
      summary.alreadyExists(item.index, result.existingId);
      continue;
    }
    try {
      insertedModel(result, item.record, item.requestId);
      if (result.status === "created") summary.created(result.revision);
      else summary.created(0);
    } catch (error) {
      summary.failed(item.index, RegistryError.from(error));
    }
  }
  if (created) feed.notify();
}

/** The batch item for one streamed request, or the reason it has none (undecodable, invalid). */
function toBatchItem(index: number, item: ImportModelsRequest): BatchItem {
  const failure = decodeFailureOf(item);
  if (failure) throw failure;
  return { index, record: newRecord(item.model, item.requestId, ""), requestId: item.requestId };
}

type ImportHandlers = Pick<ModelServiceHandlers, "importModels">;

/**
 * ImportModels: creates the streamed models in batches of `importBatchSize`,
 * each batch one storage call (one transaction in the SQL adapters). An
 * item that fails (invalid, or undecodable: see `decodeFailureOf`) is
 * reported and the others go on. Reads the stream only as fast as it
 * writes, so memory holds one batch. Answers with `x-modelreg-revision`:
 * the highest revision it created a model at (the latest if none).
 */
export function importHandlers(deps: ServiceDeps): ImportHandlers {
  return {
    async importModels(requests, context) {
      const summary = new ImportSummary();
      let batch: BatchItem[] = [];
      let index = 0;
      for await (const item of requests) {
        const position = index++;
        try {
          batch.push(toBatchItem(position, item));
        } catch (error) {
          summary.failed(position, RegistryError.from(error));
        }
        if (batch.length >= deps.settings.importBatchSize) {
          await writeBatch(deps, batch, summary, context);
          batch = [];
        }
      }
      await writeBatch(deps, batch, summary, context);
      if (summary.revision > 0) answerRevision(context, summary.revision);
      else await answerLatestRevision(deps.storage, context);
      return summary.finish();
    },
  };
}
