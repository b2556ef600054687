import { sql, type Transaction } from "kysely";
import type { AliasListQuery, AliasRecord, ModelRecord, StorageAdapter } from "../adapter";
import { deleteAlias, setAlias } from "./alias-moves";
import { aliasByName, toAlias } from "./alias-rows";
import { type Db, withChildren } from "./reads";
import type { ModelsTable, RegistryDatabase } from "./schema";
import type { WriteContext } from "./writes";

type Trx = Transaction<RegistryDatabase>;

/** A row of {@link resolveCurrent}'s join: the model's columns and the alias's. */
interface AliasJoinRow extends ModelsTable {
  alias_version: string;
  alias_revision: number;
  alias_update_time: number;
  alias_updated_by: string;
}

/**
 * The alias and its model now, from one join (and the model's children) in
 * one read transaction. The join is a raw template: the query builder took
 * longer to build it than the database to run it (an alias lookup must cost
 * about what a get by id does). Its identifiers need no quoting in any dialect.
 */
export async function resolveCurrent(
  trx: Trx,
  name: string,
  alias: string,
): Promise<{ alias: AliasRecord; model: ModelRecord } | undefined> {
  const { rows } = await sql<AliasJoinRow>`select m.*, a.version as alias_version,
    a.revision as alias_revision, a.update_time as alias_update_time, a.updated_by as alias_updated_by
    from model_aliases a join models m on m.id = a.model_id
    where a.name = ${name} and a.alias = ${alias}`.execute(trx);
  const [row] = rows;
  if (!row) return undefined;
  const [model] = await withChildren(trx, [row]);
  if (!model) return undefined;
  const record = toAlias({
    name,
    alias,
    version: row.alias_version,
    model_id: row.id,
    revision: row.alias_revision,
    update_time: row.alias_update_time,
    updated_by: row.alias_updated_by,
  });
  return { alias: record, model };
}

/** The alias methods of the SQL adapter except `resolveAlias` (see history.ts), each one transaction. */
export function createAliases(
  context: WriteContext,
): Pick<StorageAdapter, "setAlias" | "deleteAlias" | "getAlias" | "listAliases"> {
  const { transact } = context;
  return {
    setAlias: (request, options) => setAlias(context, request, options),
    deleteAlias: (request, options) => deleteAlias(context, request, options),
    getAlias: (name, alias, options) => transact(options, "read", (trx) => aliasByName(trx, name, alias)),
    listAliases: (query, options) =>
      transact(options, "read", async (trx) => (await aliasPageQuery(trx, query).execute()).map(toAlias)),
  };
}

/**
 * A page of aliases in (name, alias) order after the query's cursor. Past a
 * cursor it also says `name >= cursor name` (redundant for the result, as
 * keyset.ts does for ListModels): the start of a range seek on the (name,
 * alias) key, so each page of every name's aliases reads about a page of
 * rows instead of every row before it.
 */
export function aliasPageQuery(db: Db, { name, after, limit }: AliasListQuery) {
  let query = db.selectFrom("model_aliases").selectAll();
  if (name !== undefined) query = query.where("name", "=", name);
  if (after) {
    query = query.where((eb) =>
      eb.and([
        eb("name", ">=", after.name),
        eb.or([
          eb("name", ">", after.name),
          eb.and([eb("name", "=", after.name), eb("alias", ">", after.alias)]),
        ]),
      ]),
    );
  }
  return query.orderBy("name").orderBy("alias").limit(limit);
}
