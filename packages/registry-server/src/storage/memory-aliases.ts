import type {
  AliasListQuery,
  AliasRecord,
  AliasRefusal,
  DeleteAliasRequest,
  DeleteAliasResult,
  ModelRecord,
  SetAliasRequest,
  SetAliasResult,
} from "./adapter";
import { keptChanging, maxCheckRounds } from "./check-rounds";
import { appendChange, copyAlias, copyModel, type MemoryState } from "./memory-history";
import { compareStrings } from "./order";

/** The key of `idByNameVersion`. */
export const nameVersionKey = (name: string, version: string) => JSON.stringify([name, version]);

/** The stored alias (not a copy), or `undefined`. */
export function storedAlias(state: MemoryState, name: string, alias: string): AliasRecord | undefined {
  return state.aliases.get(name)?.get(alias);
}

function putAlias(state: MemoryState, record: AliasRecord): void {
  let ofName = state.aliases.get(record.name);
  if (!ofName) {
    ofName = new Map();
    state.aliases.set(record.name, ofName);
  }
  ofName.set(record.alias, record);
}

function removeAlias(state: MemoryState, record: AliasRecord): void {
  const ofName = state.aliases.get(record.name);
  ofName?.delete(record.alias);
  if (ofName?.size === 0) state.aliases.delete(record.name);
}

const byAlias = (a: AliasRecord, b: AliasRecord) =>
  compareStrings(a.name, b.name) || compareStrings(a.alias, b.alias);

/** The stored aliases pointing at `model`, by alias ascending. */
export function aliasesOf(state: MemoryState, model: ModelRecord): AliasRecord[] {
  const ofName = state.aliases.get(model.name);
  return [...(ofName?.values() ?? [])].filter((a) => a.modelId === model.id).sort(byAlias);
}

/** Aliases by (name, alias) ascending, strictly after `query.after`. */
export function listAliasRecords(state: MemoryState, query: AliasListQuery): AliasRecord[] {
  const names = query.name === undefined ? [...state.aliases.keys()] : [query.name];
  const after = query.after;
  const found = names
    .flatMap((name) => [...(state.aliases.get(name)?.values() ?? [])])
    .filter((a) => !after || byAlias(a, { ...a, name: after.name, alias: after.alias }) > 0)
    .sort(byAlias);
  return found.slice(0, query.limit).map(copyAlias);
}

/** Deletes the alias and appends its `alias_deleted` entry (`model` is its target). */
export function deleteAliasWithEntry(
  state: MemoryState,
  current: AliasRecord,
  target: ModelRecord,
  actor: string,
): number {
  removeAlias(state, current);
  return appendChange(state, {
    type: "alias_deleted",
    model: target,
    actor,
    alias: () => copyAlias(current),
    aliasBefore: current,
  }).revision;
}

/** What a move would do, decided from the state at one instant. */
type Plan<Done, Move> = { readonly done: Done } | { readonly move: Move };

interface SetMove {
  readonly target: ModelRecord;
  readonly current: AliasRecord | undefined;
}

function planSet(state: MemoryState, request: SetAliasRequest): Plan<SetAliasResult, SetMove> {
  const used = request.requestId ? state.aliasByRequestId.get(request.requestId) : undefined;
  if (used) return { done: { status: "requestIdUsed", alias: copyAlias(used) } };
  const id = state.idByNameVersion.get(nameVersionKey(request.name, request.version));
  const target = id === undefined ? undefined : state.byId.get(id);
  if (!target) return { done: { status: "versionNotFound" } };
  const current = storedAlias(state, request.name, request.alias);
  if (request.expectedVersion !== undefined && (current?.version ?? "") !== request.expectedVersion) {
    return { done: { status: "aliasChanged", current: current && copyAlias(current) } };
  }
  if (current?.modelId === target.id) {
    return { done: { status: "unchanged", alias: copyAlias(current), target: copyModel(target) } };
  }
  return { move: { target, current } };
}

/** The alias `request` asks for, as the entry numbered `revision` would set it. */
function aliasFor(request: SetAliasRequest, target: ModelRecord, actor: string) {
  return (revision: number, updateTime: number): AliasRecord => ({
    name: request.name,
    alias: request.alias,
    version: target.version,
    modelId: target.id,
    revision,
    updateTime,
    updatedBy: actor,
  });
}

function commitSet(
  state: MemoryState,
  request: SetAliasRequest,
  move: SetMove,
  actor: string,
): SetAliasResult {
  const change = appendChange(state, {
    type: "alias_set",
    model: move.target,
    actor,
    requestId: request.requestId,
    alias: aliasFor(request, move.target, actor),
    aliasBefore: move.current,
    refusal: undefined,
  });
  const alias = change.alias as AliasRecord;
  putAlias(state, alias);
  if (request.requestId) state.aliasByRequestId.set(request.requestId, alias);
  return { status: "set", alias: copyAlias(alias), target: copyModel(move.target) };
}

function refuse(
  state: MemoryState,
  request: SetAliasRequest,
  move: SetMove,
  actor: string,
  refusal: AliasRefusal,
) {
  const change = appendChange(state, {
    type: "alias_set",
    model: move.target,
    actor,
    requestId: request.requestId,
    alias: aliasFor(request, move.target, actor),
    aliasBefore: move.current,
    refusal,
  });
  return { status: "refused", refusal: change.refusal as AliasRefusal, revision: change.revision } as const;
}

/**
 * Runs a move around the policy's `check`. Atomic only between awaits, so
 * it is optimistic: once the check answered, the plan is made again, and if
 * the alias or the target changed meanwhile (another object is stored) the
 * whole step is redone, check included ({@link maxCheckRounds} times at
 * most, then ABORTED).
 */
async function checkedRounds<
  Done,
  Move extends { readonly target: ModelRecord; readonly current: AliasRecord | undefined },
>(
  plan: () => Plan<Done, Move>,
  check: ((move: Move) => Promise<AliasRefusal | undefined>) | undefined,
  commit: (move: Move, refusal: AliasRefusal | undefined) => Done,
): Promise<Done> {
  for (let round = 1; round <= maxCheckRounds; round++) {
    const planned = plan();
    if ("done" in planned) return planned.done;
    const { move } = planned;
    if (!check) return commit(move, undefined);
    const refusal = await check(move);
    const again = plan();
    // Settled meanwhile (a concurrent move made it unchanged, say): that is the answer.
    if ("done" in again) return again.done;
    if (again.move.target !== move.target || again.move.current !== move.current) continue;
    return commit(move, refusal);
  }
  throw keptChanging();
}

/** Sets an alias; optimistic around `check` (see {@link checkedRounds}). */
export function setAliasRecord(
  state: MemoryState,
  request: SetAliasRequest,
  actor: string,
): Promise<SetAliasResult> {
  const { check } = request;
  return checkedRounds(
    () => planSet(state, request),
    check && (({ target, current }) => check(copyModel(target), current && copyAlias(current))),
    (move, refusal) =>
      refusal ? refuse(state, request, move, actor, refusal) : commitSet(state, request, move, actor),
  );
}

/** An alias about to be deleted, and the model it points at. */
export interface DeleteMove {
  readonly current: AliasRecord;
  readonly target: ModelRecord;
}

function planDelete(state: MemoryState, request: DeleteAliasRequest): Plan<DeleteAliasResult, DeleteMove> {
  const current = storedAlias(state, request.name, request.alias);
  if (!current) return { done: { status: "notFound" } };
  if (request.expectedVersion !== undefined && current.version !== request.expectedVersion) {
    return { done: { status: "aliasChanged", current: copyAlias(current) } };
  }
  const target = state.byId.get(current.modelId);
  // Rule 9 keeps every alias's target; a missing one would be a bug here.
  if (!target) throw new Error(`alias ${current.name}@${current.alias} points at no model`);
  return { move: { current, target } };
}

/** Records a refused alias delete (of `move.current`, pointing at `move.target`); nothing is deleted. */
export function refuseDelete(state: MemoryState, move: DeleteMove, actor: string, refusal: AliasRefusal) {
  const change = appendChange(state, {
    type: "alias_deleted",
    model: move.target,
    actor,
    alias: () => copyAlias(move.current),
    aliasBefore: move.current,
    refusal,
  });
  return { status: "refused", refusal: change.refusal as AliasRefusal, revision: change.revision } as const;
}

/** Deletes an alias; optimistic around `check` as {@link setAliasRecord} is. */
export function deleteAliasRecord(
  state: MemoryState,
  request: DeleteAliasRequest,
  actor: string,
): Promise<DeleteAliasResult> {
  const { check } = request;
  return checkedRounds(
    () => planDelete(state, request),
    check && (({ current, target }) => check(copyAlias(current), copyModel(target))),
    (move, refusal): DeleteAliasResult => {
      if (refusal) return refuseDelete(state, move, actor, refusal);
      const revision = deleteAliasWithEntry(state, move.current, move.target, actor);
      return { status: "deleted", alias: copyAlias(move.current), revision };
    },
  );
}
