import { Code, RegistryError } from "@modelreg/proto";
import type { Expression, ExpressionBuilder, Kysely, SqlBool, Transaction } from "kysely";
import { compileFilter } from "../../filter/sql";
import type {
  ChangesPage,
  ChangeType,
  Cursor,
  InsertResult,
  ModelRecord,
  OrderTerm,
  StorageAdapter,
  StorageCallOptions,
  WriteResult,
} from "../adapter";
import { compareStrings } from "../order";
import type { ModelsTable, RegistryDatabase } from "./schema";

/**
 * What a driver error means to the storage, told apart per dialect:
 * - `uniqueViolation`: a unique or primary-key constraint was violated;
 * - `retryable`: the transaction lost a deadlock or a serialization check and
 *   was rolled back; running it again can succeed;
 * - `timeout`: a statement ran past the time limit the storage set, and the
 *   database cancelled it;
 * - `unavailable`: the connection failed, was refused or lost, or the
 *   database is too busy or shutting down;
 * - `undefined`: anything else (a bug, reported as INTERNAL).
 */
export type SqlErrorKind = "uniqueViolation" | "retryable" | "timeout" | "unavailable";

/** Classifies a driver error; see {@link SqlErrorKind}. */
export type SqlErrorClassifier = (error: unknown) => SqlErrorKind | undefined;

/** The per-dialect parts of {@link createSqlStorage}. */
export interface SqlDialect {
  readonly classify: SqlErrorClassifier;
  /**
   * Bounds how long each later statement of `trx` may run, in milliseconds
   * (at least 1), so the database itself cancels work past a call's deadline.
   * Returns what to run before the transaction ends when the limit would
   * otherwise outlive it on the pooled connection. Absent: the dialect cannot
   * bound statements (SQLite runs in-process; a call's deadline is checked
   * before each attempt only).
   */
  readonly limitStatementTime?: (
    trx: Transaction<RegistryDatabase>,
    ms: number,
  ) => Promise<(() => Promise<void>) | undefined>;
  /** Whether `SELECT ... FOR UPDATE` exists (not in SQLite, whose write transactions are serialized anyway). */
  readonly lockingReads: boolean;
  /** How many of the latest changes to keep, at least (see `StorageAdapter.readChanges`). */
  readonly retainChanges: number;
  /** Isolation for read-only transactions: a consistent snapshot across the statements that read one record. */
  readonly readIsolation?: "repeatable read" | "serializable";
  readonly close: () => Promise<void>;
}

/** How many times a transaction runs when it keeps losing deadlocks or serialization checks. */
const maxTransactionAttempts = 5;

/** A jittered pause before the next attempt: 5-10 ms, doubling up to 80-160 ms. */
const backoff = (attempt: number) =>
  new Promise<void>((resolve) => {
    const base = 5 * 2 ** Math.min(attempt - 1, 4);
    setTimeout(resolve, base + Math.random() * base);
  });

const deadlineExceeded = (cause?: unknown) =>
  new RegistryError(
    Code.DEADLINE_EXCEEDED,
    "The call's deadline passed before the database finished; the statement was cancelled.",
    cause === undefined ? {} : { cause },
  );

type Db = Kysely<RegistryDatabase> | Transaction<RegistryDatabase>;

function toRecord(row: ModelsTable, tags: string[], metadata: Record<string, string>): ModelRecord {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    framework: row.framework,
    description: row.description,
    tags: tags.sort(compareStrings),
    metadata,
    artifactUri: row.artifact_uri,
    revision: Number(row.revision),
    createTime: Number(row.create_time),
    updateTime: Number(row.update_time),
  };
}

/** Loads tags and metadata for many rows in two queries (no N+1). */
async function withChildren(db: Db, rows: readonly ModelsTable[]): Promise<ModelRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const tagRows = await db
    .selectFrom("model_tags")
    .select(["model_id", "tag"])
    .where("model_id", "in", ids)
    .execute();
  const metadataRows = await db
    .selectFrom("model_metadata")
    .select(["model_id", "key", "value"])
    .where("model_id", "in", ids)
    .execute();
  const tags = new Map<string, string[]>(ids.map((id) => [id, []]));
  const metadata = new Map<string, Record<string, string>>(ids.map((id) => [id, {}]));
  for (const { model_id, tag } of tagRows) tags.get(model_id)?.push(tag);
  for (const { model_id, key, value } of metadataRows) {
    const entries = metadata.get(model_id);
    if (entries) entries[key] = value;
  }
  return rows.map((row) => toRecord(row, tags.get(row.id) ?? [], metadata.get(row.id) ?? {}));
}

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

/**
 * `(order values, id) > cursor` in the order's directions, as an OR of ANDs
 * (portable; no row-value syntax), ANDed with the first term's inclusive
 * bound (`create_time <= ?` for newest first): redundant for the result, but
 * a range the planner can start an index scan at, so a deep page does not
 * read every row before it.
 */
function afterCursor(orderBy: readonly OrderTerm[], cursor: Cursor) {
  return (eb: ExpressionBuilder<RegistryDatabase, "models">): Expression<SqlBool> => {
    const alternatives: Expression<SqlBool>[] = [];
    const equalities: Expression<SqlBool>[] = [];
    for (const [i, term] of orderBy.entries()) {
      const value = cursor.values[i];
      if (value === undefined) break;
      alternatives.push(eb.and([...equalities, eb(term.field, term.descending ? "<" : ">", value)]));
      equalities.push(eb(term.field, "=", value));
    }
    alternatives.push(eb.and([...equalities, eb("id", ">", cursor.id)]));
    const [first] = orderBy;
    const firstValue = cursor.values[0];
    if (first === undefined || firstValue === undefined) return eb.or(alternatives);
    return eb.and([eb(first.field, first.descending ? "<=" : ">=", firstValue), eb.or(alternatives)]);
  };
}

/**
 * A StorageAdapter over any Kysely database with the registry schema: the one
 * SQL implementation that SQLite, PostgreSQL and MySQL share. `dialect`
 * holds what differs. Migrations must already have run.
 *
 * Every operation is one transaction (reads too: a record and its tags and
 * metadata come from one snapshot). A transaction that loses a deadlock or a
 * serialization check is run again, up to {@link maxTransactionAttempts}
 * times, then fails ABORTED. A call's deadline becomes the statements' time
 * limit, so the database cancels work nobody waits for any more.
 */
export function createSqlStorage(db: Kysely<RegistryDatabase>, dialect: SqlDialect): StorageAdapter {
  const { classify } = dialect;
  let closed: Promise<void> | undefined;

  /** The error a caller sees for a driver error: UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, or the error itself (INTERNAL). */
  function translate(error: unknown, kind: SqlErrorKind | undefined): unknown {
    switch (kind) {
      case "unavailable":
        return new RegistryError(Code.UNAVAILABLE, "The model database is unavailable; try again later.", {
          cause: error,
        });
      case "timeout":
        return deadlineExceeded(error);
      case "retryable":
        return new RegistryError(
          Code.ABORTED,
          "The write kept conflicting with concurrent writes and was not made; retry it.",
          { cause: error, reason: "TRANSACTION_CONFLICT" },
        );
      default:
        return error;
    }
  }

  /**
   * Runs `body` in a transaction bounded by the call's deadline, again after
   * a lost deadlock or serialization check. `read` transactions get the
   * dialect's snapshot isolation.
   */
  async function transact<T>(
    options: StorageCallOptions | undefined,
    mode: "read" | "write",
    body: (trx: Transaction<RegistryDatabase>) => Promise<T>,
  ): Promise<T> {
    const deadline = options?.deadline;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
      if (remaining <= 0) throw deadlineExceeded();
      let builder = db.transaction();
      if (mode === "read" && dialect.readIsolation)
        builder = builder.setIsolationLevel(dialect.readIsolation);
      try {
        return await builder.execute(async (trx) => {
          const undo =
            dialect.limitStatementTime && deadline !== undefined
              ? // Measured again here: waiting for a pooled connection took some of it.
                await dialect.limitStatementTime(trx, Math.max(1, Math.ceil(deadline - Date.now())))
              : undefined;
          if (undo === undefined) return body(trx);
          try {
            return await body(trx);
          } finally {
            // A broken connection fails this too; the body's error is the one to report.
            await undo().catch(() => {});
          }
        });
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        const kind = classify(error);
        if (kind === "retryable" && attempt < maxTransactionAttempts) {
          await backoff(attempt);
          continue;
        }
        throw translate(error, kind);
      }
    }
  }

  async function getById(conn: Db, id: string, lock = false): Promise<ModelRecord | undefined> {
    let query = conn.selectFrom("models").selectAll().where("id", "=", id);
    if (lock && dialect.lockingReads) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row ? (await withChildren(conn, [row]))[0] : undefined;
  }

  // Pruned in steps of a tenth of what is kept (at most 1000), so a write rarely pays for it.
  const pruneEvery = Math.max(1, Math.min(1000, Math.ceil(dialect.retainChanges / 10)));

  /**
   * Appends the changes a write made, in the write's transaction, numbered
   * consecutively. Bumping the one state row takes its lock until commit, so
   * concurrent writers get consecutive revisions in commit order; callers do
   * it last, to hold the lock briefly.
   */
  async function recordChanges(
    trx: Transaction<RegistryDatabase>,
    type: ChangeType,
    models: readonly ModelRecord[],
  ): Promise<void> {
    if (models.length === 0) return;
    await trx
      .updateTable("modelreg_state")
      .set((eb) => ({ revision: eb("revision", "+", models.length) }))
      .where("id", "=", 1)
      .execute();
    const state = await trx
      .selectFrom("modelreg_state")
      .select(["revision", "pruned_through"])
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    const last = Number(state.revision);
    const first = last - models.length + 1;
    const commitTime = Date.now() * 1000;
    // In slices: a multi-row INSERT's parameters are limited (SQLite: 32 766).
    for (let i = 0; i < models.length; i += 500) {
      await trx
        .insertInto("model_changes")
        .values(
          models.slice(i, i + 500).map((model, j) => ({
            revision: first + i + j,
            type,
            model_id: model.id,
            model: JSON.stringify(model),
            commit_time: commitTime,
          })),
        )
        .execute();
    }
    // Pruned when the revisions cross a multiple of pruneEvery.
    const through = last - dialect.retainChanges;
    const crossed = Math.floor(last / pruneEvery) > Math.floor((first - 1) / pruneEvery);
    if (crossed && through > Number(state.pruned_through)) {
      await trx.deleteFrom("model_changes").where("revision", "<=", through).execute();
      await trx.updateTable("modelreg_state").set({ pruned_through: through }).where("id", "=", 1).execute();
    }
  }

  async function byNameVersion(conn: Db, name: string, version: string): Promise<ModelRecord | undefined> {
    const row = await conn
      .selectFrom("models")
      .selectAll()
      .where("name", "=", name)
      .where("version", "=", version)
      .executeTakeFirst();
    return row ? (await withChildren(conn, [row]))[0] : undefined;
  }

  async function byRequestId(conn: Db, requestId: string): Promise<ModelRecord | undefined> {
    const row = await conn
      .selectFrom("models")
      .selectAll()
      .where("request_id", "=", requestId)
      .executeTakeFirst();
    return row ? (await withChildren(conn, [row]))[0] : undefined;
  }

  /** Why a conditional write changed nothing: the row is gone, or its revision moved on. */
  async function writeFailure(conn: Db, id: string): Promise<WriteResult> {
    const current = await conn
      .selectFrom("models")
      .select("revision")
      .where("id", "=", id)
      .executeTakeFirst();
    return current
      ? { status: "conflict", currentRevision: Number(current.revision) }
      : { status: "notFound" };
  }

  /** Inserts the model's rows (no change record). */
  async function insertRow(
    trx: Transaction<RegistryDatabase>,
    record: ModelRecord,
    requestId: string | undefined,
  ): Promise<void> {
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

  async function insertRecord(
    trx: Transaction<RegistryDatabase>,
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

  const adapter: StorageAdapter = {
    async insert(record, requestId, options) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await transact(options, "write", (trx) => insertRecord(trx, record, requestId));
        } catch (error) {
          if (classify(error) !== "uniqueViolation") throw error;
          if (attempt === 3) {
            throw new RegistryError(
              Code.ABORTED,
              "The model's name and version were taken and freed by concurrent writes again and again; retry the request.",
              { cause: error, reason: "TRANSACTION_CONFLICT" },
            );
          }
        }
        // A concurrent insert won; find out which key it took. The failed
        // transaction was rolled back, so this one sees the committed winner.
        const outcome = await transact(options, "read", async (trx): Promise<InsertResult | undefined> => {
          const replayed = requestId ? await byRequestId(trx, requestId) : undefined;
          if (replayed) return { status: "requestIdUsed", existing: replayed };
          const taken = await byNameVersion(trx, record.name, record.version);
          return taken && { status: "nameVersionTaken", existingId: taken.id };
        });
        // Absent: the winner was deleted again in between; try once more.
        if (outcome) return outcome;
      }
    },

    async insertMany(items, options) {
      if (items.length === 0) return [];
      try {
        return await transact(options, "write", async (trx) => {
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
        });
      } catch (error) {
        if (classify(error) !== "uniqueViolation") throw error;
      }
      // A concurrent writer took one of the keys in between: each item on its own.
      const results: InsertResult[] = [];
      for (const { record, requestId } of items)
        results.push(await adapter.insert(record, requestId, options));
      return results;
    },

    get: (id, options) => transact(options, "read", (trx) => getById(trx, id)),

    getByNameVersion: (name, version, options) =>
      transact(options, "read", (trx) => byNameVersion(trx, name, version)),

    getMany: (ids, options) => {
      const unique = [...new Set(ids)];
      if (unique.length === 0) return Promise.resolve([]);
      return transact(options, "read", async (trx) => {
        const rows = await trx.selectFrom("models").selectAll().where("id", "in", unique).execute();
        return withChildren(trx, rows);
      });
    },

    list: ({ filter, orderBy, after, limit }, options) =>
      transact(options, "read", async (trx) => {
        let query = trx.selectFrom("models").selectAll();
        if (filter) query = query.where(compileFilter(filter));
        if (after) query = query.where(afterCursor(orderBy, after));
        for (const term of orderBy) query = query.orderBy(term.field, term.descending ? "desc" : "asc");
        const rows = await query.orderBy("id", "asc").limit(limit).execute();
        return withChildren(trx, rows);
      }),

    replace: (record, expectedRevision, options) =>
      transact(options, "write", async (trx): Promise<WriteResult> => {
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
      }),

    delete: (id, expectedRevision, options) =>
      transact(options, "write", async (trx): Promise<WriteResult> => {
        // Locked, so the state the change reports is the one deleted.
        const current = await getById(trx, id, true);
        if (!current) return { status: "notFound" };
        if (expectedRevision !== undefined && current.revision !== expectedRevision) {
          return { status: "conflict", currentRevision: current.revision };
        }
        await trx.deleteFrom("models").where("id", "=", id).execute();
        await recordChanges(trx, "deleted", [current]);
        return { status: "ok" };
      }),

    readChanges: (afterRevision, limit, options) =>
      transact(options, "read", async (trx): Promise<ChangesPage> => {
        const state = await trx
          .selectFrom("modelreg_state")
          .select(["revision", "pruned_through"])
          .where("id", "=", 1)
          .executeTakeFirstOrThrow();
        const rows =
          limit > 0
            ? await trx
                .selectFrom("model_changes")
                .selectAll()
                .where("revision", ">", afterRevision)
                .orderBy("revision", "asc")
                .limit(limit)
                .execute()
            : [];
        return {
          changes: rows.map((row) => ({
            revision: Number(row.revision),
            type: row.type,
            model: JSON.parse(row.model) as ModelRecord,
            commitTime: Number(row.commit_time),
          })),
          latestRevision: Number(state.revision),
          prunedThrough: Number(state.pruned_through),
        };
      }),

    async ping() {
      try {
        await db.selectFrom("models").select("id").limit(1).execute();
      } catch (error) {
        throw translate(error, classify(error));
      }
    },

    close() {
      closed ??= dialect.close();
      return closed;
    },
  };
  return adapter;
}
