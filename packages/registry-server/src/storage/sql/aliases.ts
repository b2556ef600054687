import { sql, type Transaction } from "kysely";
import type {
  AliasRecord,
  DeleteAliasRequest,
  DeleteAliasResult,
  ModelRecord,
  SetAliasRequest,
  SetAliasResult,
  StorageAdapter,
  StorageCallOptions,
} from "../adapter";
import { aliasByName, aliasRow, toAlias } from "./alias-rows";
import { authorOf } from "./changes";
import type { SqlDialect } from "./dialect";
import { getById, withChildren } from "./reads";
import type { ModelsTable, RegistryDatabase } from "./schema";
import type { WriteContext } from "./writes";

type Trx = Transaction<RegistryDatabase>;

/** How many times a move runs when concurrent creates of the same alias keep winning the unique key. */
const maxUniqueAttempts = 3;

/** `query` with the dialect's shared lock: `for share` or `lock in share mode`; as it is where there is none. */
function shared<Q extends { forShare(): Q; modifyEnd(modifier: ReturnType<typeof sql>): Q }>(
  query: Q,
  dialect: SqlDialect,
): Q {
  if (dialect.shareLock === "for share") return query.forShare();
  if (dialect.shareLock === "lock in share mode") return query.modifyEnd(sql`lock in share mode`);
  return query;
}

/**
 * The model (name, version) an alias is to point at, share-locked where the
 * dialect can: it cannot be deleted (or changed) until the move commits.
 * SQLite needs no lock: its transactions run one at a time.
 */
async function lockedTarget(trx: Trx, dialect: SqlDialect, name: string, version: string) {
  const query = trx.selectFrom("models").selectAll().where("name", "=", name).where("version", "=", version);
  const row = await shared(query, dialect).executeTakeFirst();
  return row ? (await withChildren(trx, [row]))[0] : undefined;
}

/**
 * The alias as the committed move made with this request id left it, if
 * there was one. A locking read where the dialect has one: MySQL's plain
 * reads see the transaction's first snapshot, which may predate a move with
 * the same request id that committed while this one waited for the alias.
 */
async function movedWith(
  trx: Trx,
  requestId: string,
  lockWith?: SqlDialect,
): Promise<AliasRecord | undefined> {
  const query = trx
    .selectFrom("model_changes")
    .select("alias_state")
    .where("request_id", "=", requestId)
    .where("type", "=", "alias_set")
    .where("refusal", "is", null)
    .orderBy("revision", "desc")
    .limit(1);
  const row = await (lockWith ? shared(query, lockWith) : query).executeTakeFirst();
  return row?.alias_state ? (JSON.parse(row.alias_state) as AliasRecord) : undefined;
}

/** Whether the alias's current state fails the request's compare-and-set. */
function expectationFails(expected: string | undefined, current: AliasRecord | undefined): boolean {
  if (expected === undefined) return false;
  return expected === "" ? current !== undefined : current?.version !== expected;
}

/** One attempt at `setAlias`, in its write transaction. */
async function setAliasIn(
  { dialect, recordChanges }: WriteContext,
  trx: Trx,
  request: SetAliasRequest,
  options: StorageCallOptions | undefined,
): Promise<SetAliasResult> {
  const { name, alias, version, requestId } = request;
  // The alias first: a concurrent move of it (a retry with the same request id) has committed once this returns.
  const current = await aliasByName(trx, name, alias, dialect.lockingReads);
  if (requestId) {
    const done = await movedWith(trx, requestId, dialect);
    if (done) return { status: "requestIdUsed", alias: done };
  }
  const target = await lockedTarget(trx, dialect, name, version);
  if (!target) return { status: "versionNotFound" };
  if (expectationFails(request.expectedVersion, current)) return { status: "aliasChanged", current };
  if (current?.version === version) return { status: "unchanged", alias: current, target };
  const author = authorOf(options, requestId);
  const moved = (revision: number, updateTime: number): AliasRecord => ({
    name,
    alias,
    version,
    modelId: target.id,
    revision,
    updateTime,
    updatedBy: author.actor,
  });
  const refusal = await request.check?.(target, current);
  const entry = { type: "alias_set", model: target, alias: moved, aliasBefore: current, refusal } as const;
  const [appended] = await recordChanges(trx, [entry], author);
  if (!appended?.alias) throw new Error("the alias entry was not recorded");
  if (refusal) return { status: "refused", refusal, revision: appended.revision };
  const row = aliasRow(appended.alias);
  if (current) {
    await trx
      .updateTable("model_aliases")
      .set(row)
      .where("name", "=", name)
      .where("alias", "=", alias)
      .execute();
  } else {
    // Concurrent creates race here on the primary key; the loser's unique violation is answered in setAlias.
    await trx.insertInto("model_aliases").values(row).execute();
  }
  return { status: "set", alias: appended.alias, target };
}

/**
 * `setAlias`: one write transaction. A concurrent create of the same new
 * alias that committed first makes this one's insert a unique violation:
 * with the expectation `""` the answer is `aliasChanged` with the winner;
 * with no expectation the move runs again, now over the winner's alias.
 */
async function setAlias(
  context: WriteContext,
  request: SetAliasRequest,
  options: StorageCallOptions | undefined,
): Promise<SetAliasResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await context.transact(options, "write", (trx) => setAliasIn(context, trx, request, options));
    } catch (error) {
      if (context.dialect.classify(error) !== "uniqueViolation" || attempt === maxUniqueAttempts) throw error;
    }
    const { requestId } = request;
    const lost = await context.transact(options, "read", async (trx) => ({
      replayed: requestId ? await movedWith(trx, requestId) : undefined,
      current: await aliasByName(trx, request.name, request.alias),
    }));
    // The winner was this request, retried: it answers as a replay does.
    if (lost.replayed) return { status: "requestIdUsed", alias: lost.replayed };
    // Absent: the winner was deleted again in between; try once more.
    if (request.expectedVersion !== undefined && lost.current) {
      return { status: "aliasChanged", current: lost.current };
    }
  }
}

/** `deleteAlias`, in its write transaction. */
async function deleteAliasIn(
  { dialect, recordChanges }: WriteContext,
  trx: Trx,
  request: DeleteAliasRequest,
  options: StorageCallOptions | undefined,
): Promise<DeleteAliasResult> {
  const current = await aliasByName(trx, request.name, request.alias, dialect.lockingReads);
  if (!current) return { status: "notFound" };
  if (request.expectedVersion !== undefined && current.version !== request.expectedVersion) {
    return { status: "aliasChanged", current };
  }
  // The alias row is locked: a delete of its model (which locks the model, then its aliases) waits for it.
  const target = await getById(trx, current.modelId);
  if (!target) throw new Error(`alias ${current.name}@${current.alias} points at a missing model`);
  const refusal = await request.check?.(current, target);
  const entry = {
    type: "alias_deleted",
    model: target,
    alias: current,
    aliasBefore: current,
    refusal,
  } as const;
  const [appended] = await recordChanges(trx, [entry], authorOf(options));
  if (!appended) throw new Error("the alias entry was not recorded");
  if (refusal) return { status: "refused", refusal, revision: appended.revision };
  await trx
    .deleteFrom("model_aliases")
    .where("name", "=", request.name)
    .where("alias", "=", request.alias)
    .execute();
  return { status: "deleted", alias: current };
}

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
    deleteAlias: (request, options) =>
      transact(options, "write", (trx) => deleteAliasIn(context, trx, request, options)),
    getAlias: (name, alias, options) => transact(options, "read", (trx) => aliasByName(trx, name, alias)),
    listAliases: ({ name, after, limit }, options) =>
      transact(options, "read", async (trx) => {
        let query = trx.selectFrom("model_aliases").selectAll();
        if (name !== undefined) query = query.where("name", "=", name);
        if (after) {
          query = query.where((eb) =>
            eb.or([
              eb("name", ">", after.name),
              eb.and([eb("name", "=", after.name), eb("alias", ">", after.alias)]),
            ]),
          );
        }
        const rows = await query.orderBy("name").orderBy("alias").limit(limit).execute();
        return rows.map(toAlias);
      }),
  };
}
