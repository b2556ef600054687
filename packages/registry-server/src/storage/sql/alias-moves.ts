import { sql, type Transaction } from "kysely";
import type {
  AliasRecord,
  AliasRefusal,
  DeleteAliasRequest,
  DeleteAliasResult,
  ModelRecord,
  SetAliasRequest,
  SetAliasResult,
  StorageCallOptions,
} from "../adapter";
import { keptChanging, maxCheckRounds } from "../check-rounds";
import { aliasByName, aliasRow } from "./alias-rows";
import { authorOf, parseAlias } from "./changes";
import type { SqlDialect } from "./dialect";
import { withChildren } from "./reads";
import type { RegistryDatabase } from "./schema";
import type { WriteContext } from "./writes";

type Trx = Transaction<RegistryDatabase>;

/** How many times a move runs when concurrent creates of the same alias keep winning the unique key. */
const maxUniqueAttempts = 3;

/** Returned by a write whose alias or target changed since the policy checked them: check again. */
const CHANGED = "changed";

/** `query` with the dialect's shared lock (`for share`, `lock in share mode`); unchanged without `lock`. */
function shared<Q extends { forShare(): Q; modifyEnd(modifier: ReturnType<typeof sql>): Q }>(
  query: Q,
  lock: SqlDialect | undefined,
): Q {
  if (lock?.shareLock === "for share") return query.forShare();
  if (lock?.shareLock === "lock in share mode") return query.modifyEnd(sql`lock in share mode`);
  return query;
}

/**
 * A model by id or by (name, version), share-locked with `lock` where the
 * dialect can: it cannot be deleted or changed until the write commits.
 * SQLite needs no lock: its transactions run one at a time.
 */
async function modelFor(
  trx: Trx,
  lock: SqlDialect | undefined,
  key: { readonly id: string } | { readonly name: string; readonly version: string },
): Promise<ModelRecord | undefined> {
  let query = trx.selectFrom("models").selectAll();
  query =
    "id" in key
      ? query.where("id", "=", key.id)
      : query.where("name", "=", key.name).where("version", "=", key.version);
  const row = await shared(query, lock).executeTakeFirst();
  return row ? (await withChildren(trx, [row]))[0] : undefined;
}

/**
 * The alias as the committed move made with this request id left it, if
 * there was one. A plain read, but in the write after the alias row's lock:
 * a move with the same request id that held it has committed by then, and
 * the read sees it (PostgreSQL's READ COMMITTED reads a snapshot per
 * statement; MySQL's REPEATABLE READ takes its snapshot at the first plain
 * read, this one). Not a locking read: on MySQL that would gap-lock the
 * request id index where every other write inserts its entry.
 */
export async function movedWith(trx: Trx, requestId: string): Promise<AliasRecord | undefined> {
  const row = await trx
    .selectFrom("model_changes")
    .select("alias_state")
    .where("request_id", "=", requestId)
    .where("type", "=", "alias_set")
    .where("refusal", "is", null)
    .orderBy("revision", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.alias_state ? parseAlias(row.alias_state) : undefined;
}

/** Whether two states of an alias are the same one (both absent, or set by the same entry). */
const sameAlias = (a: AliasRecord | undefined, b: AliasRecord | undefined) =>
  a === undefined ? b === undefined : b !== undefined && a.revision === b.revision;

/** Whether two states of a model are the same one. */
const sameModel = (a: ModelRecord, b: ModelRecord) => a.id === b.id && a.revision === b.revision;

/** A move that would change the alias: what the policy is shown. */
interface PlannedMove {
  readonly status: "move";
  readonly target: ModelRecord;
  readonly current: AliasRecord | undefined;
}

/** What the policy check saw, and what it answered. */
interface Checked<T> {
  readonly seen: T;
  readonly refusal: AliasRefusal | undefined;
}

/** Whether the alias or the target is no longer what the policy check saw (never, without a check). */
function changedSinceCheck(
  checked: Checked<{ readonly target: ModelRecord; readonly current: AliasRecord | undefined }> | undefined,
  now: { readonly target: ModelRecord; readonly current: AliasRecord | undefined },
): boolean {
  return (
    checked !== undefined &&
    !(sameModel(now.target, checked.seen.target) && sameAlias(now.current, checked.seen.current))
  );
}

/**
 * The outcomes of `setAlias` that need no policy (a replay, a missing
 * version, a failed compare-and-set, no change), or the move. With `lock`
 * (in the write), the alias row first, locked: a concurrent move of it (a
 * retry with the same request id) has committed once that returns, and
 * this transaction's first plain read comes after it.
 */
async function planMove(
  trx: Trx,
  request: SetAliasRequest,
  lock: SqlDialect | undefined,
): Promise<SetAliasResult | PlannedMove> {
  const { name, alias, version, requestId, expectedVersion } = request;
  const current = await aliasByName(trx, name, alias, lock?.lockingReads ?? false);
  // The target's row is share-locked and read with its children before the
  // request id's plain read: on MySQL the first plain read fixes the
  // snapshot, and it must come after both locks, or the children of a
  // target replaced in between would be read as they were before.
  const target = await modelFor(trx, lock, { name, version });
  if (requestId) {
    const done = await movedWith(trx, requestId);
    if (done) return { status: "requestIdUsed", alias: done };
  }
  if (!target) return { status: "versionNotFound" };
  const expectationFails =
    expectedVersion !== undefined &&
    (expectedVersion === "" ? current !== undefined : current?.version !== expectedVersion);
  if (expectationFails) return { status: "aliasChanged", current };
  if (current?.version === version) return { status: "unchanged", alias: current, target };
  return { status: "move", target, current };
}

/**
 * `setAlias`'s write transaction: plans again under locks, and records the
 * move (or the refusal the policy returned), but only if the alias and the
 * target are still what the policy saw; else {@link CHANGED}.
 */
async function commitMove(
  { dialect, recordChanges }: WriteContext,
  trx: Trx,
  request: SetAliasRequest,
  options: StorageCallOptions | undefined,
  checked: Checked<PlannedMove> | undefined,
): Promise<SetAliasResult | typeof CHANGED> {
  const plan = await planMove(trx, request, dialect.lockingReads ? dialect : undefined);
  if (plan.status !== "move") return plan;
  if (changedSinceCheck(checked, plan)) return CHANGED;
  const { target, current } = plan;
  const author = authorOf(options, request.requestId);
  const { name, alias, version } = request;
  const moved = (revision: number, updateTime: number): AliasRecord => ({
    ...{ name, alias, version, modelId: target.id, revision, updateTime },
    updatedBy: author.actor,
  });
  const refusal = checked?.refusal;
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
    // Concurrent creates race here on the primary key; the loser's unique violation is answered in writeMove.
    await trx.insertInto("model_aliases").values(row).execute();
  }
  return { status: "set", alias: appended.alias, target };
}

/**
 * {@link commitMove} in its write transaction. A concurrent create of the
 * same new alias that committed first makes this one's insert a unique
 * violation: a retry of the same request answers `requestIdUsed`; with an
 * expectation the answer is `aliasChanged` with the winner; with none the
 * move runs again, over the winner's alias.
 */
async function writeMove(
  context: WriteContext,
  request: SetAliasRequest,
  options: StorageCallOptions | undefined,
  checked: Checked<PlannedMove> | undefined,
): Promise<SetAliasResult | typeof CHANGED> {
  const { requestId } = request;
  for (let attempt = 1; ; attempt++) {
    try {
      return await context.transact(options, "write", (trx) =>
        commitMove(context, trx, request, options, checked),
      );
    } catch (error) {
      if (context.dialect.classify(error) !== "uniqueViolation" || attempt === maxUniqueAttempts) throw error;
    }
    const lost = await context.transact(options, "read", async (trx) => ({
      replayed: requestId ? await movedWith(trx, requestId) : undefined,
      current: await aliasByName(trx, request.name, request.alias),
    }));
    if (lost.replayed) return { status: "requestIdUsed", alias: lost.replayed };
    // Absent: the winner was deleted again in between; try once more.
    if (request.expectedVersion !== undefined && lost.current) {
      return { status: "aliasChanged", current: lost.current };
    }
  }
}

/**
 * `setAlias`. Without a policy check: one write transaction. With one: the
 * move is planned in a read transaction, checked outside any transaction
 * (a slow hook holds no lock or connection), then committed only if the
 * alias and the target are still what the check saw; else all again, a
 * bounded number of times.
 */
export async function setAlias(
  context: WriteContext,
  request: SetAliasRequest,
  options: StorageCallOptions | undefined,
): Promise<SetAliasResult> {
  const { check } = request;
  for (let round = 1; round <= maxCheckRounds; round++) {
    let checked: Checked<PlannedMove> | undefined;
    if (check) {
      const plan = await context.transact(options, "read", (trx) => planMove(trx, request, undefined));
      if (plan.status !== "move") return plan;
      checked = { seen: plan, refusal: await check(plan.target, plan.current) };
    }
    const outcome = await writeMove(context, request, options, checked);
    if (outcome !== CHANGED) return outcome;
  }
  throw keptChanging();
}

/** A delete of an alias: what the policy is shown. */
interface PlannedDelete {
  readonly status: "delete";
  readonly current: AliasRecord;
  readonly target: ModelRecord;
}

/** The outcomes of `deleteAlias` that need no policy, or the delete; with `lock`, the rows locked. */
async function planDelete(
  trx: Trx,
  request: DeleteAliasRequest,
  lock: SqlDialect | undefined,
): Promise<DeleteAliasResult | PlannedDelete> {
  const current = await aliasByName(trx, request.name, request.alias, lock?.lockingReads ?? false);
  if (!current) return { status: "notFound" };
  if (request.expectedVersion !== undefined && current.version !== request.expectedVersion) {
    return { status: "aliasChanged", current };
  }
  // Read, not locked: a forced delete of the model locks the model, then its
  // aliases; locking the model here, after the alias, would take the two in
  // the opposite order and deadlock with it. The alias row's lock is enough:
  // that delete waits for this one, then finds the alias gone.
  const target = await modelFor(trx, undefined, { id: current.modelId });
  if (!target) throw new Error(`alias ${current.name}@${current.alias} points at a missing model`);
  return { status: "delete", current, target };
}

/** `deleteAlias`'s write transaction, as {@link commitMove}. */
async function commitDelete(
  { dialect, recordChanges }: WriteContext,
  trx: Trx,
  request: DeleteAliasRequest,
  options: StorageCallOptions | undefined,
  checked: Checked<PlannedDelete> | undefined,
): Promise<DeleteAliasResult | typeof CHANGED> {
  const plan = await planDelete(trx, request, dialect.lockingReads ? dialect : undefined);
  if (plan.status !== "delete") return plan;
  if (changedSinceCheck(checked, plan)) return CHANGED;
  const { current, target } = plan;
  const refusal = checked?.refusal;
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
  return { status: "deleted", alias: current, revision: appended.revision };
}

/** `deleteAlias`, with its policy check outside any transaction as in {@link setAlias}. */
export async function deleteAlias(
  context: WriteContext,
  request: DeleteAliasRequest,
  options: StorageCallOptions | undefined,
): Promise<DeleteAliasResult> {
  const { check } = request;
  for (let round = 1; round <= maxCheckRounds; round++) {
    let checked: Checked<PlannedDelete> | undefined;
    if (check) {
      const plan = await context.transact(options, "read", (trx) => planDelete(trx, request, undefined));
      if (plan.status !== "delete") return plan;
      checked = { seen: plan, refusal: await check(plan.current, plan.target) };
    }
    const outcome = await context.transact(options, "write", (trx) =>
      commitDelete(context, trx, request, options, checked),
    );
    if (outcome !== CHANGED) return outcome;
  }
  throw keptChanging();
}
