import { Code, RegistryError } from "@modelreg/proto";
import type { Transaction } from "kysely";
import type {
  DeleteOptions,
  DeleteResult,
  InsertResult,
  ModelRecord,
  StorageAdapter,
  StorageCallOptions,
  WriteResult,
} from "../adapter";
import { aliasesOfModel } from "./alias-rows";
import { authorOf, type EntryDraft, type RecordChanges } from "./changes";
import type { SqlDialect } from "./dialect";
import { lineageHash } from "./lineage-hash";
import { byNameVersion, byRequestId, type Db, getById } from "./reads";
import type { RegistryDatabase } from "./schema";
import type { Transact } from "./transact";

type Trx = Transaction<RegistryDatabase>;

/** What the write methods share: the transaction runner, the dialect, the change history's writer. */
export interface WriteContext {
  readonly transact: Transact;
  readonly dialect: SqlDialect;
  readonly recordChanges: RecordChanges;
}

/** An item of `insertMany`. */
type InsertItem = Parameters<StorageAdapter["insertMany"]>[0][number];

async function writeChildren(db: Db, record: ModelRecord): Promise<void> {
  if (record.tags.length > 0) {
    await db
      .insertInto("model_tags")
      .values(record.tags.map((tag) => ({ model_id: record.id, tag })))
      .execute();
  }
  const entries = Object.entries(record.metadata);
  if (entries.length > 0) {
    await db
      .insertInto("model_metadata")
      .values(entries.map(([key, value]) => ({ model_id: record.id, key, value })))
      .execute();
  }
  const lineage = lineageRows(record);
  if (lineage.length > 0) await db.insertInto("model_lineage").values(lineage).execute();
}

/** The rows of the lineage's lists (each value once per list). */
function lineageRows(record: ModelRecord) {
  const rows = (kind: "dataset" | "parent", values: readonly string[]) =>
    [...new Set(values)].map((value) => ({
      model_id: record.id,
      kind,
      value_hash: lineageHash(value),
      value,
    }));
  return [...rows("dataset", record.lineage.datasetUris), ...rows("parent", record.lineage.parentModelIds)];
}

/** Why a conditional write changed nothing: the row is gone, or its revision moved on. */
async function writeFailure(conn: Db, id: string): Promise<WriteResult> {
  const current = await conn.selectFrom("models").select("revision").where("id", "=", id).executeTakeFirst();
  return current ? { status: "conflict", currentRevision: Number(current.revision) } : { status: "notFound" };
}

/** Inserts the model's rows (no change record). */
async function insertRow(trx: Trx, record: ModelRecord, requestId: string | undefined): Promise<void> {
  await trx
    .insertInto("models")
    .values({
      id: record.id,
      name: record.name,
      version: record.version,
      framework: record.framework,
      description: record.description,
      artifact_uri: record.artifactUri,
      revision: record.revision,
      create_time: record.createTime,
      update_time: record.updateTime,
      request_id: requestId || null,
      artifact_digest: record.artifactDigest,
      lineage_run_uri: record.lineage.runUri,
      lineage_code_revision: record.lineage.codeRevision,
    })
    .execute();
  await writeChildren(trx, record);
}

/** The insert itself; a taken (name, version) surfaces as the driver's unique violation. */
async function insertRecord(
  { recordChanges }: WriteContext,
  trx: Trx,
  record: ModelRecord,
  requestId: string | undefined,
  options: StorageCallOptions | undefined,
): Promise<InsertResult> {
  if (requestId) {
    const existing = await byRequestId(trx, requestId);
    if (existing) return { status: "requestIdUsed", existing };
  }
  await insertRow(trx, record, requestId);
  const [appended] = await recordChanges(
    trx,
    [{ type: "created", model: record }],
    authorOf(options, requestId),
  );
  if (!appended) throw new Error("the change was not recorded");
  return { status: "created", revision: appended.revision };
}

/**
 * After a unique violation: which key the concurrent insert that won took.
 * The failed transaction was rolled back, so this one sees the committed
 * winner; `undefined` if it was deleted again in between.
 */
function insertLoser(
  { transact }: WriteContext,
  record: ModelRecord,
  requestId: string | undefined,
  options: StorageCallOptions | undefined,
): Promise<InsertResult | undefined> {
  return transact(options, "read", async (trx): Promise<InsertResult | undefined> => {
    const replayed = requestId ? await byRequestId(trx, requestId) : undefined;
    if (replayed) return { status: "requestIdUsed", existing: replayed };
    const taken = await byNameVersion(trx, record.name, record.version);
    return taken && { status: "nameVersionTaken", existingId: taken.id };
  });
}

/** `insert`: tries the insert, and on a unique violation finds out who won (three rounds at most). */
async function insert(
  context: WriteContext,
  record: ModelRecord,
  requestId: string | undefined,
  options: StorageCallOptions | undefined,
): Promise<InsertResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await context.transact(options, "write", (trx) =>
        insertRecord(context, trx, record, requestId, options),
      );
    } catch (error) {
      if (context.dialect.classify(error) !== "uniqueViolation") throw error;
      if (attempt === 3) {
        throw new RegistryError(
          Code.ABORTED,
          "The model's name and version were taken and freed by concurrent writes again and again; retry the request.",
          { cause: error, reason: "TRANSACTION_CONFLICT" },
        );
      }
    }
    const outcome = await insertLoser(context, record, requestId, options);
    // Absent: the winner was deleted again in between; try once more.
    if (outcome) return outcome;
  }
}

/** The items of `insertMany` in one transaction, each looked up first. */
async function insertBatch(
  { recordChanges }: WriteContext,
  trx: Trx,
  items: readonly InsertItem[],
  options: StorageCallOptions | undefined,
): Promise<InsertResult[]> {
  const results: (InsertResult | "created")[] = [];
  const created: EntryDraft[] = [];
  for (const { record, requestId } of items) {
    // Looked up first: a unique violation would abort the whole transaction.
    const taken = await trx
      .selectFrom("models")
      .select("id")
      .where("name", "=", record.name)
      .where("version", "=", record.version)
      .executeTakeFirst();
    const replayed = requestId ? await byRequestId(trx, requestId) : undefined;
    if (replayed) results.push({ status: "requestIdUsed", existing: replayed });
    else if (taken) results.push({ status: "nameVersionTaken", existingId: taken.id });
    else {
      await insertRow(trx, record, requestId);
      created.push({ type: "created", model: record, requestId: requestId ?? "" });
      results.push("created");
    }
  }
  // Numbered together at the end: the revision lock is held only from here to commit.
  const appended = await recordChanges(trx, created, authorOf(options));
  let next = 0;
  return results.map((result) => {
    if (result !== "created") return result;
    const entry = appended[next++];
    if (!entry) throw new Error("a change was not recorded");
    return { status: "created", revision: entry.revision };
  });
}

/** `insertMany`: one transaction, or each item on its own after a concurrent writer took a key. */
async function insertMany(
  context: WriteContext,
  items: readonly InsertItem[],
  options: StorageCallOptions | undefined,
): Promise<InsertResult[]> {
  if (items.length === 0) return [];
  try {
    return await context.transact(options, "write", (trx) => insertBatch(context, trx, items, options));
  } catch (error) {
    if (context.dialect.classify(error) !== "uniqueViolation") throw error;
  }
  const results: InsertResult[] = [];
  for (const { record, requestId } of items) results.push(await insert(context, record, requestId, options));
  return results;
}

/** `replace`: compare-and-swap on the revision, then the children are rewritten. */
async function replaceRecord(
  { recordChanges }: WriteContext,
  trx: Trx,
  record: ModelRecord,
  expectedRevision: number,
  options: StorageCallOptions | undefined,
): Promise<WriteResult> {
  const result = await trx
    .updateTable("models")
    .set({
      framework: record.framework,
      description: record.description,
      artifact_uri: record.artifactUri,
      artifact_digest: record.artifactDigest,
      lineage_run_uri: record.lineage.runUri,
      lineage_code_revision: record.lineage.codeRevision,
      revision: record.revision,
      update_time: record.updateTime,
    })
    .where("id", "=", record.id)
    .where("revision", "=", expectedRevision)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return writeFailure(trx, record.id);
  await trx.deleteFrom("model_tags").where("model_id", "=", record.id).execute();
  await trx.deleteFrom("model_metadata").where("model_id", "=", record.id).execute();
  await trx.deleteFrom("model_lineage").where("model_id", "=", record.id).execute();
  await writeChildren(trx, record);
  const [appended] = await recordChanges(trx, [{ type: "updated", model: record }], authorOf(options));
  if (!appended) throw new Error("the change was not recorded");
  return { status: "ok", revision: appended.revision };
}

/**
 * `delete`, only at `expectedRevision` when one is given; with `force`, its
 * aliases go first, unless `checkAliases` refuses (recorded, nothing deleted).
 */
async function deleteRecord(
  { dialect, recordChanges }: WriteContext,
  trx: Trx,
  id: string,
  expectedRevision: number | undefined,
  options: DeleteOptions | undefined,
): Promise<DeleteResult> {
  // Locked, so the state the change reports is the one deleted, and no alias can be set on it meanwhile.
  const current = await getById(trx, id, dialect.lockingReads);
  if (!current) return { status: "notFound" };
  if (expectedRevision !== undefined && current.revision !== expectedRevision) {
    return { status: "conflict", currentRevision: current.revision };
  }
  const aliases = await aliasesOfModel(trx, id, dialect.lockingReads);
  if (aliases.length > 0 && !options?.force) return { status: "aliased", aliases };
  const refused = aliases.length > 0 ? options?.checkAliases?.(aliases) : undefined;
  if (refused) {
    const { alias, refusal } = refused;
    const entry = { type: "alias_deleted", model: current, alias, aliasBefore: alias, refusal } as const;
    const [appended] = await recordChanges(trx, [entry], authorOf(options));
    if (!appended) throw new Error("the refusal was not recorded");
    return { status: "refused", refusal, revision: appended.revision };
  }
  if (aliases.length > 0) await trx.deleteFrom("model_aliases").where("model_id", "=", id).execute();
  await trx.deleteFrom("models").where("id", "=", id).execute();
  const entries: EntryDraft[] = aliases.map((alias) => ({
    type: "alias_deleted",
    model: current,
    alias,
    aliasBefore: alias,
  }));
  entries.push({ type: "deleted", model: current });
  const appended = await recordChanges(trx, entries, authorOf(options));
  const deleted = appended[appended.length - 1];
  if (!deleted) throw new Error("the change was not recorded");
  return { status: "ok", revision: deleted.revision };
}

/** The write methods of the SQL adapter, each one write transaction that records its change. */
export function createWrites(
  context: WriteContext,
): Pick<StorageAdapter, "insert" | "insertMany" | "replace" | "delete"> {
  const { transact } = context;
  return {
    insert: (record, requestId, options) => insert(context, record, requestId, options),
    insertMany: (items, options) => insertMany(context, items, options),
    replace: (record, expectedRevision, options) =>
      transact(options, "write", (trx) => replaceRecord(context, trx, record, expectedRevision, options)),
    delete: (id, expectedRevision, options) =>
      transact(options, "write", (trx) => deleteRecord(context, trx, id, expectedRevision, options)),
  };
}
