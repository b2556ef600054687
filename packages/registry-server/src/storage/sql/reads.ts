import type { Kysely, Transaction } from "kysely";
import { compileFilter } from "../../filter/sql";
import type { ModelRecord, StorageAdapter } from "../adapter";
import { compareStrings } from "../order";
import { afterCursor } from "./keyset";
import type { ModelsTable, RegistryDatabase } from "./schema";
import type { Transact } from "./transact";

/** A connection or transaction the registry's queries run on. */
export type Db = Kysely<RegistryDatabase> | Transaction<RegistryDatabase>;

/** A model's children, loaded with it: tags, metadata and the lineage's lists. */
interface Children {
  readonly tags: string[];
  readonly metadata: Record<string, string>;
  readonly datasetUris: string[];
  readonly parentModelIds: string[];
}

function toRecord(row: ModelsTable, { tags, metadata, datasetUris, parentModelIds }: Children): ModelRecord {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    framework: row.framework,
    description: row.description,
    tags: tags.sort(compareStrings),
    metadata,
    artifactUri: row.artifact_uri,
    artifactDigest: row.artifact_digest,
    lineage: {
      runUri: row.lineage_run_uri,
      codeRevision: row.lineage_code_revision,
      datasetUris: datasetUris.sort(compareStrings),
      parentModelIds: parentModelIds.sort(compareStrings),
    },
    revision: Number(row.revision),
    createTime: Number(row.create_time),
    updateTime: Number(row.update_time),
  };
}

/** Loads tags, metadata and lineage lists for many rows in three queries (no N+1). */
export async function withChildren(db: Db, rows: readonly ModelsTable[]): Promise<ModelRecord[]> {
  if (rows.length === 0) return [];
  const ids = [...new Set(rows.map((r) => r.id))];
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
  const lineageRows = await db
    .selectFrom("model_lineage")
    .select(["model_id", "kind", "value"])
    .where("model_id", "in", ids)
    .execute();
  const children = new Map<string, Children>();
  const of = (id: string): Children => {
    let found = children.get(id);
    if (!found) {
      found = { tags: [], metadata: {}, datasetUris: [], parentModelIds: [] };
      children.set(id, found);
    }
    return found;
  };
  for (const { model_id, tag } of tagRows) of(model_id).tags.push(tag);
  for (const { model_id, key, value } of metadataRows) of(model_id).metadata[key] = value;
  for (const { model_id, kind, value } of lineageRows) {
    const lists = of(model_id);
    (kind === "dataset" ? lists.datasetUris : lists.parentModelIds).push(value);
  }
  // Each row gets fresh arrays: the same model may appear twice (a join), and records must not share state.
  return rows.map((row) => {
    const c = of(row.id);
    return toRecord(row, {
      tags: [...c.tags],
      metadata: { ...c.metadata },
      datasetUris: [...c.datasetUris],
      parentModelIds: [...c.parentModelIds],
    });
  });
}

/** The model with this id; `forUpdate` locks its row (only where the dialect has locking reads). */
export async function getById(conn: Db, id: string, forUpdate = false): Promise<ModelRecord | undefined> {
  let query = conn.selectFrom("models").selectAll().where("id", "=", id);
  if (forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row ? (await withChildren(conn, [row]))[0] : undefined;
}

/** The model with this (name, version). */
export async function byNameVersion(
  conn: Db,
  name: string,
  version: string,
): Promise<ModelRecord | undefined> {
  const row = await conn
    .selectFrom("models")
    .selectAll()
    .where("name", "=", name)
    .where("version", "=", version)
    .executeTakeFirst();
  return row ? (await withChildren(conn, [row]))[0] : undefined;
}

/** The model a CreateModel with this request id created. */
export async function byRequestId(conn: Db, requestId: string): Promise<ModelRecord | undefined> {
  const row = await conn
    .selectFrom("models")
    .selectAll()
    .where("request_id", "=", requestId)
    .executeTakeFirst();
  return row ? (await withChildren(conn, [row]))[0] : undefined;
}

/** The read methods of the SQL adapter, each one read transaction (one snapshot). */
export function createReads(
  transact: Transact,
): Pick<StorageAdapter, "get" | "getByNameVersion" | "getMany" | "list"> {
  return {
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
  };
}
