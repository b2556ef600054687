import {
  type AliasRecord,
  type AliasRefusal,
  type AliasResolution,
  type ChangeRecord,
  type ChangesPage,
  type ChangeType,
  copyLineage,
  type HistoryQuery,
  type HistoryRecord,
  type ModelRecord,
} from "./adapter";

/** A copy of a model, its arrays and objects copied too (rule 4). */
export function copyModel(record: ModelRecord): ModelRecord {
  return {
    ...record,
    tags: [...record.tags],
    metadata: { ...record.metadata },
    lineage: copyLineage(record.lineage),
  };
}

/** A copy of an alias. */
export const copyAlias = (alias: AliasRecord): AliasRecord => ({ ...alias });

function copyRefusal(refusal: AliasRefusal): AliasRefusal {
  return { ...refusal, violations: refusal.violations.map((v) => ({ ...v })) };
}

/** A copy of a history entry, leaving out the optional fields it does not have. */
export function copyChange(change: ChangeRecord): ChangeRecord {
  const copy: { -readonly [K in keyof ChangeRecord]: ChangeRecord[K] } = {
    ...change,
    model: copyModel(change.model),
  };
  if (change.alias) copy.alias = copyAlias(change.alias);
  if (change.aliasBefore) copy.aliasBefore = copyAlias(change.aliasBefore);
  if (change.refusal) copy.refusal = copyRefusal(change.refusal);
  return copy;
}

/** One stored history entry, with the revision of its model's previous model change (for `before`). */
interface Entry {
  readonly change: ChangeRecord;
  readonly previous: number | undefined;
}

/**
 * Everything one in-memory store holds. The functions that change it do not
 * await between reading and writing it, so each step is atomic (rule 1).
 */
export interface MemoryState {
  /** How many entries are kept at least; `undefined`: every entry is kept. */
  readonly retain: number | undefined;
  readonly byId: Map<string, ModelRecord>;
  readonly idByNameVersion: Map<string, string>;
  readonly idByRequestId: Map<string, string>;
  readonly requestIdById: Map<string, string>;
  /** Aliases by model name, then by alias. */
  readonly aliases: Map<string, Map<string, AliasRecord>>;
  /** The alias as each request id's move left it. */
  readonly aliasByRequestId: Map<string, AliasRecord>;
  /** The revision of each model's latest `created` or `updated` entry. */
  readonly lastModelChange: Map<string, number>;
  entries: Entry[];
  latestRevision: number;
  /** The commit time of the latest entry: the next one is later. */
  lastCommitTime: number;
  prunedThrough: number;
}

/** The fields of a new entry; revision and commit time are assigned by {@link appendChange}. */
export interface NewChange {
  readonly type: ChangeType;
  readonly model: ModelRecord;
  readonly actor: string;
  readonly requestId?: string | undefined;
  /** Alias entries: the alias after, given the entry's revision and commit time. */
  readonly alias?: ((revision: number, commitTime: number) => AliasRecord) | undefined;
  readonly aliasBefore?: AliasRecord | undefined;
  readonly refusal?: AliasRefusal | undefined;
}

function nextChange(state: MemoryState, change: NewChange): ChangeRecord {
  const revision = ++state.latestRevision;
  // Strictly increasing, so a read at an entry's commit time sees exactly the state after it.
  const commitTime = Math.max(Date.now() * 1000, state.lastCommitTime + 1);
  state.lastCommitTime = commitTime;
  const record: { -readonly [K in keyof ChangeRecord]: ChangeRecord[K] } = {
    revision,
    type: change.type,
    model: copyModel(change.model),
    commitTime,
    actor: change.actor,
    requestId: change.requestId ?? "",
  };
  if (change.alias) record.alias = change.alias(revision, commitTime);
  if (change.aliasBefore) record.aliasBefore = copyAlias(change.aliasBefore);
  if (change.refusal) record.refusal = copyRefusal(change.refusal);
  return record;
}

/** Appends one entry, numbered one past the latest, and prunes past both retention windows. */
export function appendChange(state: MemoryState, change: NewChange): ChangeRecord {
  const record = nextChange(state, change);
  const id = record.model.id;
  const isModelChange = record.type === "created" || record.type === "updated" || record.type === "deleted";
  const previous = isModelChange ? state.lastModelChange.get(id) : undefined;
  if (record.type === "created" || record.type === "updated") state.lastModelChange.set(id, record.revision);
  if (record.type === "deleted") state.lastModelChange.delete(id);
  state.entries.push({ change: record, previous });
  const retain = state.retain;
  // Pruned in steps of a tenth, so a write rarely pays for it.
  if (retain !== undefined && state.entries.length >= retain + Math.ceil(retain / 10)) {
    state.entries = state.entries.slice(state.entries.length - retain);
    state.prunedThrough = (state.entries[0]?.change.revision ?? state.latestRevision + 1) - 1;
  }
  return record;
}

/** The index in `entries` of `revision`, which may be out of range (revisions are consecutive). */
function indexOf(state: MemoryState, revision: number): number {
  return revision - (state.entries[0]?.change.revision ?? state.latestRevision + 1);
}

/** The index of the last entry committed at or before `time`, or -1. */
function lastIndexAtOrBefore(state: MemoryState, time: number): number {
  let low = 0;
  let high = state.entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((state.entries[middle]?.change.commitTime ?? 0) <= time) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/** Up to `limit` entries after `afterRevision`, ascending (each with its `before`), with the bounds. */
export function readChangesPage(state: MemoryState, afterRevision: number, limit: number): ChangesPage {
  const start = Math.max(0, indexOf(state, afterRevision + 1));
  const page = state.entries.slice(start, start + Math.max(0, limit));
  return {
    changes: page.map((e) => historyRecord(state, e)),
    latestRevision: state.latestRevision,
    prunedThrough: state.prunedThrough,
  };
}

function matches(change: ChangeRecord, query: HistoryQuery): boolean {
  if (query.name !== undefined && change.model.name !== query.name) return false;
  if (query.alias !== undefined && change.alias?.alias !== query.alias) return false;
  if (query.modelId !== undefined && change.model.id !== query.modelId) return false;
  if (query.actor !== undefined && change.actor !== query.actor) return false;
  if (query.types !== undefined && !query.types.includes(change.type)) return false;
  if (query.refused !== undefined && (change.refusal !== undefined) !== query.refused) return false;
  return true;
}

function historyRecord(state: MemoryState, entry: Entry): HistoryRecord {
  const record: HistoryRecord = copyChange(entry.change);
  if (entry.previous === undefined) return record;
  const previous = state.entries[indexOf(state, entry.previous)];
  return previous ? { ...record, before: copyModel(previous.change.model) } : record;
}

/** Entries matching the query, newest first. */
export function listHistoryRecords(state: MemoryState, query: HistoryQuery): HistoryRecord[] {
  let start = state.entries.length - 1;
  if (query.beforeRevision !== undefined) start = Math.min(start, indexOf(state, query.beforeRevision) - 1);
  if (query.toTime !== undefined) start = Math.min(start, lastIndexAtOrBefore(state, query.toTime));
  const found: HistoryRecord[] = [];
  for (let i = start; i >= 0 && found.length < query.limit; i--) {
    const entry = state.entries[i];
    if (!entry) break;
    if (query.fromTime !== undefined && entry.change.commitTime < query.fromTime) break;
    if (matches(entry.change, query)) found.push(historyRecord(state, entry));
  }
  return found;
}

/** Whether the retained entries cover `readTime`: every entry after it is kept (nothing pruned, or it is past the oldest kept). */
function retainedAfter(state: MemoryState, readTime: number): boolean {
  const oldest = state.entries[0]?.change.commitTime;
  return state.prunedThrough === 0 || (oldest !== undefined && oldest <= readTime);
}

/** The alias at `readTime` (`undefined`: absent then), or `"unknown"` when pruning hid it. */
function aliasAt(state: MemoryState, name: string, alias: string, readTime: number) {
  const last = lastIndexAtOrBefore(state, readTime);
  const of = (i: number) => {
    const change = state.entries[i]?.change;
    return change && !change.refusal && change.model.name === name && change.alias?.alias === alias
      ? change
      : undefined;
  };
  for (let i = last; i >= 0; i--) {
    const change = of(i);
    if (change) return change.type === "alias_set" ? change.alias : undefined;
  }
  if (state.prunedThrough === 0) return undefined;
  // Set by then and never moved since (its row names the entry that last set it).
  const current = state.aliases.get(name)?.get(alias);
  if (current && current.updateTime <= readTime) return current;
  if (!retainedAfter(state, readTime)) return "unknown";
  // Every entry after the time is kept: the earliest of the alias says what it was just before.
  for (let i = last + 1; i < state.entries.length; i++) {
    const change = of(i);
    if (change) return change.aliasBefore;
  }
  return undefined;
}

/** The model `id` at `readTime` (it existed then), or `undefined` when pruning hid it. */
function modelAt(state: MemoryState, id: string, readTime: number): ModelRecord | undefined {
  const last = lastIndexAtOrBefore(state, readTime);
  const of = (i: number) => {
    const change = state.entries[i]?.change;
    return change && !change.refusal && change.model.id === id ? change : undefined;
  };
  // Every committed entry about the model carries it as it was then; the latest one tells.
  for (let i = last; i >= 0; i--) {
    const change = of(i);
    if (change) return change.model;
  }
  // Never written since it was created (revision 1): as it is now (the alias pointed at it, so it existed).
  const current = state.byId.get(id);
  if (current?.revision === 1) return current;
  if (!retainedAfter(state, readTime)) return undefined;
  // Every entry after the time is kept: the earliest tells if it is an alias entry (it left the model as it was).
  for (let i = last + 1; i < state.entries.length; i++) {
    const change = of(i);
    if (change)
      return change.type === "alias_set" || change.type === "alias_deleted" ? change.model : undefined;
  }
  // None: the model is as it is now.
  return current;
}

/**
 * `name@alias` and its model as the entries committed at or before
 * `readTime` left them, or, past pruning, as the retained entries after it
 * and the current alias and model prove (see `StorageAdapter.resolveAlias`).
 */
export function resolveAt(
  state: MemoryState,
  name: string,
  alias: string,
  readTime: number,
): AliasResolution {
  const pruned = { status: "historyPruned", prunedThrough: state.prunedThrough } as const;
  const found = aliasAt(state, name, alias, readTime);
  if (found === "unknown") return pruned;
  if (!found) return { status: "notFound" };
  const model = modelAt(state, found.modelId, readTime);
  return model ? { status: "found", alias: copyAlias(found), model: copyModel(model) } : pruned;
}
