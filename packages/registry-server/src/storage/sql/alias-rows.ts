import type { AliasRecord } from "../adapter";
import type { Db } from "./reads";
import type { ModelAliasesTable } from "./schema";

/** An alias from its row. */
export function toAlias(row: ModelAliasesTable): AliasRecord {
  return {
    name: row.name,
    alias: row.alias,
    version: row.version,
    modelId: row.model_id,
    revision: Number(row.revision),
    updateTime: Number(row.update_time),
    updatedBy: row.updated_by,
  };
}

/** The row of an alias. */
export function aliasRow(alias: AliasRecord): ModelAliasesTable {
  return {
    name: alias.name,
    alias: alias.alias,
    version: alias.version,
    model_id: alias.modelId,
    revision: alias.revision,
    update_time: alias.updateTime,
    updated_by: alias.updatedBy,
  };
}

/** The alias (name, alias); `forUpdate` locks its row (only where the dialect has locking reads). */
export async function aliasByName(
  db: Db,
  name: string,
  alias: string,
  forUpdate = false,
): Promise<AliasRecord | undefined> {
  let query = db.selectFrom("model_aliases").selectAll().where("name", "=", name).where("alias", "=", alias);
  if (forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && toAlias(row);
}

/** The aliases that point at the model, by alias; `forUpdate` locks them. */
export async function aliasesOfModel(db: Db, modelId: string, forUpdate = false): Promise<AliasRecord[]> {
  let query = db.selectFrom("model_aliases").selectAll().where("model_id", "=", modelId).orderBy("alias");
  if (forUpdate) query = query.forUpdate();
  return (await query.execute()).map(toAlias);
}
