import { Code, RegistryError } from "@modelreg/proto";
import type { Transaction } from "kysely";
import type { InsertResult, ModelRecord, StorageAdapter, StorageCallOptions, WriteResult } from "../adapter";
import type { RecordChanges } from "./changes";
import type { SqlDialect } from "./dialect";
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
): Promise<InsertResult> {
  if (requestId) {
    const existing = await byRequestId(trx, requestId);
    if (existing) return { status: "requestIdUsed", existing };
  }
  await insertRow(trx, record, requestId);
  await recordChanges(trx, "created", [record]);
  return { status: "created" };
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
      return await context.transact(options, "write", (trx) => insertRecord(context, trx, record, requestId));
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
): Promise<InsertResult[]> {
  const results: InsertResult[] = [];
  const created: ModelRecord[] = [];
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
      created.push(record);
      results.push({ status: "created" });
    }
  }
  // Numbered together at the end: the revision lock is held only from here to commit.
  await recordChanges(trx, "created", created);
  return results;
}

/** `insertMany`: one transaction, or each item on its own after a concurrent writer took a key. */
async function insertMany(
  context: WriteContext,
  items: readonly InsertItem[],
  options: StorageCallOptions | undefined,
): Promise<InsertResult[]> {
  if (items.length === 0) return [];
  try {
    return await context.transact(options, "write", (trx) => insertBatch(context, trx, items));
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
): Promise<WriteResult> {
  const result = await trx
    .updateTable("models")
    .set({
      framework: record.framework,
      description: record.description,
      artifact_uri: record.artifactUri,
      revision: record.revision,
      update_time: record.updateTime,
    })
    .where("id", "=", record.id)
    .where("revision", "=", expectedRevision)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return writeFailure(trx, record.id);
  await trx.deleteFrom("model_tags").where("model_id", "=", record.id).execute();
  await trx.deleteFrom("model_metadata").where("model_id", "=", record.id).execute();
  await writeChildren(trx, record);
  await recordChanges(trx, "updated", [record]);
  return { status: "ok" };
}

/** `delete`, only at `expectedRevision` when one is given. */
async function deleteRecord(
  { dialect, recordChanges }: WriteContext,
  trx: Trx,
  id: string,
  expectedRevision: number | undefined,
): Promise<WriteResult> {
  // Locked, so the state the change reports is the one deleted.
  const current = await getById(trx, id, dialect.lockingReads);
  if (!current) return { status: "notFound" };
  if (expectedRevision !== undefined && current.revision !== expectedRevision) {
    return { status: "conflict", currentRevision: current.revision };
  }
  await trx.deleteFrom("models").where("id", "=", id).execute();
  await recordChanges(trx, "deleted", [current]);
  return { status: "ok" };
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
      transact(options, "write", (trx) => replaceRecord(context, trx, record, expectedRevision)),
    delete: (id, expectedRevision, options) =>
      transact(options, "write", (trx) => deleteRecord(context, trx, id, expectedRevision)),
  };
}
