import { Code, RegistryError } from "@modelreg/proto";
import type { Expression, ExpressionBuilder, Kysely, SqlBool, Transaction } from "kysely";
import { compileFilter } from "../../filter/sql";
import type { Cursor, InsertResult, ModelRecord, OrderTerm, StorageAdapter, WriteResult } from "../adapter";
import { compareStrings } from "../order";
import type { ModelsTable, RegistryDatabase } from "./schema";

/** How a dialect's driver errors are told apart. The only per-dialect code besides connection set-up. */
/**
 * Returns `uniqueViolation` for a unique or primary-key constraint violation;
 * `unavailable` for a connection that failed, was refused or was lost, or a
 * database too busy to answer; `undefined` for anything else.
 */
export type SqlErrorClassifier = (error: unknown) => "uniqueViolation" | "unavailable" | undefined;

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

/** `(order values, id) > cursor` in the order's directions, as an OR of ANDs (portable; no row-value syntax). */
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
    return eb.or(alternatives);
  };
}

/**
 * A StorageAdapter over any Kysely database with the registry schema: the one
 * SQL implementation that SQLite, PostgreSQL and MySQL share. `classify`
 * tells their driver errors apart. Migrations must already have run.
 */
export function createSqlStorage(
  db: Kysely<RegistryDatabase>,
  classify: SqlErrorClassifier,
  onClose: () => Promise<void>,
): StorageAdapter {
  let closed: Promise<void> | undefined;

  // Connection trouble becomes UNAVAILABLE; anything else stays as it is and
  // is reported to callers as INTERNAL without its message.
  async function guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (classify(error) === "unavailable") {
        throw new RegistryError(Code.UNAVAILABLE, "The model database is unavailable; try again later.", {
          cause: error,
        });
      }
      throw error;
    }
  }

  async function getById(conn: Db, id: string): Promise<ModelRecord | undefined> {
    const row = await conn.selectFrom("models").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? (await withChildren(conn, [row]))[0] : undefined;
  }

  async function byRequestId(requestId: string): Promise<ModelRecord | undefined> {
    const row = await db
      .selectFrom("models")
      .selectAll()
      .where("request_id", "=", requestId)
      .executeTakeFirst();
    return row ? (await withChildren(db, [row]))[0] : undefined;
  }

  async function writeFailure(id: string): Promise<WriteResult> {
    const current = await db.selectFrom("models").select("revision").where("id", "=", id).executeTakeFirst();
    return current
      ? { status: "conflict", currentRevision: Number(current.revision) }
      : { status: "notFound" };
  }

  return {
    insert: (record, requestId) =>
      guard(async (): Promise<InsertResult> => {
        try {
          return await db.transaction().execute(async (trx): Promise<InsertResult> => {
            if (requestId) {
              const row = await trx
                .selectFrom("models")
                .select("id")
                .where("request_id", "=", requestId)
                .executeTakeFirst();
              const existing = row && (await getById(trx, row.id));
              if (existing) return { status: "requestIdUsed", existing };
            }
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
            return { status: "created" };
          });
        } catch (error) {
          if (classify(error) !== "uniqueViolation") throw error;
          // A concurrent insert won; find out which key it took. The failed
          // transaction is rolled back, so these reads see committed rows.
          const replayed = requestId ? await byRequestId(requestId) : undefined;
          if (replayed) return { status: "requestIdUsed", existing: replayed };
          const taken = await db
            .selectFrom("models")
            .select("id")
            .where("name", "=", record.name)
            .where("version", "=", record.version)
            .executeTakeFirst();
          if (taken) return { status: "nameVersionTaken", existingId: taken.id };
          throw error;
        }
      }),

    get: (id) => guard(() => getById(db, id)),

    getByNameVersion: (name, version) =>
      guard(async () => {
        const row = await db
          .selectFrom("models")
          .selectAll()
          .where("name", "=", name)
          .where("version", "=", version)
          .executeTakeFirst();
        return row ? (await withChildren(db, [row]))[0] : undefined;
      }),

    getMany: (ids) =>
      guard(async () => {
        const unique = [...new Set(ids)];
        if (unique.length === 0) return [];
        const rows = await db.selectFrom("models").selectAll().where("id", "in", unique).execute();
        return withChildren(db, rows);
      }),

    list: ({ filter, orderBy, after, limit }) =>
      guard(async () => {
        let query = db.selectFrom("models").selectAll();
        if (filter) query = query.where(compileFilter(filter));
        if (after) query = query.where(afterCursor(orderBy, after));
        for (const term of orderBy) query = query.orderBy(term.field, term.descending ? "desc" : "asc");
        const rows = await query.orderBy("id", "asc").limit(limit).execute();
        return withChildren(db, rows);
      }),

    replace: (record, expectedRevision) =>
      guard(async () => {
        const swapped = await db.transaction().execute(async (trx) => {
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
          if (Number(result.numUpdatedRows) === 0) return false;
          await trx.deleteFrom("model_tags").where("model_id", "=", record.id).execute();
          await trx.deleteFrom("model_metadata").where("model_id", "=", record.id).execute();
          await writeChildren(trx, record);
          return true;
        });
        return swapped ? { status: "ok" } : writeFailure(record.id);
      }),

    delete: (id, expectedRevision) =>
      guard(async () => {
        let query = db.deleteFrom("models").where("id", "=", id);
        if (expectedRevision !== undefined) query = query.where("revision", "=", expectedRevision);
        const result = await query.executeTakeFirst();
        return Number(result.numDeletedRows) > 0 ? { status: "ok" } : writeFailure(id);
      }),

    ping: () =>
      guard(async () => {
        await db.selectFrom("models").select("id").limit(1).execute();
      }),

    close() {
      closed ??= onClose();
      return closed;
    },
  };
}
