import { Code, type LookupModelRequest, RegistryError } from "@modelreg/proto";
import type { CallContext } from "../context";
import type { ModelRecord, StorageAdapter } from "../storage/adapter";
import { checkAliasName, checkTimestamp, checkToken, limits, Violations } from "../validation";
import { aliasPath } from "./aliases";
import { storageOptions } from "./deps";

/** An instant in microseconds as RFC 3339, with the fraction only when there is one. */
function formatMicros(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  const fraction = String(((micros % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, "0");
  return fraction === "000000" ? iso.replace(".000Z", "Z") : iso.replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

/** What a LookupModel request asks for, validated. */
interface LookupPlan {
  readonly name: string;
  readonly version: string;
  readonly alias: string;
  /** Microseconds since the epoch. */
  readonly readTime: number | undefined;
}

export function planLookup(request: LookupModelRequest): LookupPlan {
  const v = new Violations();
  checkToken(v, "name", request.name, limits.name, true);
  if (request.version !== "" && request.alias !== "") {
    v.add("alias", "give either version or alias, not both");
  } else if (request.version === "" && request.alias === "") {
    v.add("version", "is required, unless alias is given");
  } else if (request.alias !== "") {
    checkAliasName(v, "alias", request.alias, true);
  } else {
    checkToken(v, "version", request.version, limits.version, true);
  }
  const { readTime } = request;
  if (readTime && request.alias === "") v.add("read_time", "is only allowed with alias");
  // Range-checked before it reaches storage: 1e15 seconds is no instant a database can compare.
  const micros = readTime ? checkTimestamp(v, "read_time", readTime) : undefined;
  v.throwIfAny();
  return { name: request.name, version: request.version, alias: request.alias, readTime: micros };
}

const historyPruned = (plan: LookupPlan) =>
  new RegistryError(
    Code.FAILED_PRECONDITION,
    `The history of ${formatMicros(plan.readTime ?? 0)} was pruned (see the storage's retainHistory), so where ${aliasPath(plan.name, plan.alias)} pointed then is unknown; use a later read_time.`,
    { reason: "HISTORY_PRUNED" },
  );

const nothingThen = (plan: LookupPlan) =>
  plan.readTime === undefined
    ? new RegistryError(
        Code.NOT_FOUND,
        plan.alias === "latest"
          ? `No model named "${plan.name}" exists, so ${aliasPath(plan.name, "latest")} points nowhere.`
          : `Alias ${aliasPath(plan.name, plan.alias)} does not exist.`,
        { reason: plan.alias === "latest" ? "MODEL_NOT_FOUND" : "ALIAS_NOT_FOUND" },
      )
    : new RegistryError(
        Code.NOT_FOUND,
        `${aliasPath(plan.name, plan.alias)} did not exist at ${formatMicros(plan.readTime)}.`,
        { reason: plan.alias === "latest" ? "MODEL_NOT_FOUND" : "ALIAS_NOT_FOUND" },
      );

/**
 * The model as it was at `readTime`, or `undefined` if it was deleted by
 * then. `created` is its created entry, which may commit a little after
 * `readTime` (see {@link createCommitSlack}): then it is the model as made.
 */
async function modelAt(
  storage: StorageAdapter,
  created: ModelRecord,
  readTime: number,
  context: CallContext,
): Promise<ModelRecord | undefined> {
  const [latest] = await storage.listHistory(
    { modelId: created.id, types: ["created", "updated", "deleted"], toTime: readTime, limit: 1 },
    storageOptions(context),
  );
  if (!latest) return created;
  return latest.type !== "deleted" ? latest.model : undefined;
}

/** Scanned per history read when resolving `latest` at a read time. */
const latestScanPage = 100;

/**
 * How much later than a version's create time its `created` entry may
 * commit, in microseconds: the service stamps the time, then storage commits
 * (after the writes queued before it). `latest` at a read time is decided by
 * create time, so entries up to this much after the read time are read too.
 */
const createCommitSlack = 60_000_000;

/**
 * Newest create time first. A stable sort of created entries (newest revision first) keeps the one
 * created last first among equal create times (the models of one ImportModels batch share one).
 */
const byCreateTime = (a: ModelRecord, b: ModelRecord) => b.createTime - a.createTime;

/**
 * `name@latest` at `readTime`: of the versions whose create time is at or
 * before it and that were not deleted by then, the newest by create time,
 * as it was then; from the history.
 */
async function latestAt(storage: StorageAdapter, plan: LookupPlan, readTime: number, context: CallContext) {
  let before: number | undefined;
  for (;;) {
    const created = await storage.listHistory(
      {
        name: plan.name,
        types: ["created"],
        toTime: Math.min(readTime + createCommitSlack, Number.MAX_SAFE_INTEGER),
        beforeRevision: before,
        limit: latestScanPage,
      },
      storageOptions(context),
    );
    const candidates = created
      .map((entry) => entry.model)
      .filter((model) => model.createTime <= readTime)
      .sort(byCreateTime);
    for (const candidate of candidates) {
      const model = await modelAt(storage, candidate, readTime, context);
      if (model) return model;
    }
    const last = created.at(-1);
    if (!last || created.length < latestScanPage) return undefined;
    before = last.revision;
  }
}

/** The `limit` newest versions of `name` by create time. */
function newestVersions(storage: StorageAdapter, name: string, limit: number, context: CallContext) {
  return storage.list(
    {
      filter: { kind: "string", field: "name", op: "=", value: name, prefix: false },
      orderBy: [{ field: "create_time", descending: true }],
      limit,
    },
    storageOptions(context),
  );
}

/**
 * The newest version of `name` now: of those sharing the newest create time (one ImportModels batch),
 * the one created last (by its created entry's revision; by id once history no longer holds it).
 */
async function latestNow(storage: StorageAdapter, name: string, context: CallContext) {
  const [first, second] = await newestVersions(storage, name, 2, context);
  if (!first || !second || second.createTime !== first.createTime) return first;
  const tied = (await newestVersions(storage, name, 1000, context)).filter(
    (model) => model.createTime === first.createTime,
  );
  const ids = new Set(tied.map((model) => model.id));
  const created = await storage.listHistory(
    { name, types: ["created"], limit: tied.length + latestScanPage },
    storageOptions(context),
  );
  const last = created.find((entry) => ids.has(entry.model.id));
  return tied.find((model) => model.id === last?.model.id) ?? first;
}

/** `name@latest`: the newest version by create time (then, with a read time). */
async function resolveLatest(storage: StorageAdapter, plan: LookupPlan, context: CallContext) {
  if (plan.readTime === undefined) return latestNow(storage, plan.name, context);
  const model = await latestAt(storage, plan, plan.readTime, context);
  if (model) return model;
  const { prunedThrough } = await storage.readChanges(0, 0, storageOptions(context));
  if (prunedThrough > 0) throw historyPruned(plan);
  return undefined;
}

/** The model a LookupModel by alias answers with (as it was at `read_time`, when given). */
export async function lookupByAlias(
  storage: StorageAdapter,
  plan: LookupPlan,
  context: CallContext,
): Promise<ModelRecord> {
  if (plan.alias === "latest") {
    const model = await resolveLatest(storage, plan, context);
    if (!model) throw nothingThen(plan);
    return model;
  }
  const resolution = await storage.resolveAlias(
    plan.name,
    plan.alias,
    plan.readTime,
    storageOptions(context),
  );
  if (resolution.status === "found") return resolution.model;
  if (resolution.status === "historyPruned") throw historyPruned(plan);
  throw nothingThen(plan);
}
