import assert from "node:assert/strict";
import type {
  AliasRecord,
  AliasRefusal,
  AliasResolution,
  ChangeRecord,
  ModelRecord,
  SetAliasRequest,
  StorageAdapter,
  StorageCallOptions,
} from "../storage/adapter";
import { plain } from "./assertions";
import { insertAll, makeModelRecord } from "./fixtures";

const ALIAS_KEYS = ["alias", "modelId", "name", "revision", "updateTime", "updatedBy", "version"];

/** A plain copy holding exactly the fields of an AliasRecord, for deep comparison. */
export function plainAlias(alias: AliasRecord): AliasRecord {
  return {
    name: alias.name,
    alias: alias.alias,
    version: alias.version,
    modelId: alias.modelId,
    revision: alias.revision,
    updateTime: alias.updateTime,
    updatedBy: alias.updatedBy,
  };
}

/** `plainAlias`, or `undefined`. */
export const maybeAlias = (alias: AliasRecord | undefined) => (alias ? plainAlias(alias) : undefined);

/** Asserts `actual` is an AliasRecord with exactly `expected`'s values. */
export function assertAlias(actual: AliasRecord | undefined, expected: AliasRecord, what: string): void {
  assert.ok(
    actual !== undefined,
    `${what}: expected alias ${expected.name}@${expected.alias}, got undefined`,
  );
  assert.deepEqual(
    Object.keys(actual).sort(),
    ALIAS_KEYS,
    `${what}: an alias has exactly the AliasRecord fields`,
  );
  assert.deepEqual(plainAlias(actual), plainAlias(expected), `${what}: the alias differs`);
}

/**
 * A history entry as plain data: every field of ChangeRecord, with absent
 * optional fields left out (an adapter may return them as `undefined`).
 */
export function plainChange(change: ChangeRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    revision: change.revision,
    type: change.type,
    model: plain(change.model),
    commitTime: change.commitTime,
    actor: change.actor,
    requestId: change.requestId,
  };
  if (change.alias !== undefined) view.alias = plainAlias(change.alias);
  if (change.aliasBefore !== undefined) view.aliasBefore = plainAlias(change.aliasBefore);
  if (change.refusal !== undefined) view.refusal = plainRefusal(change.refusal);
  return view;
}

/** A plain copy of a refusal. */
export function plainRefusal(refusal: AliasRefusal): AliasRefusal {
  return {
    code: refusal.code,
    message: refusal.message,
    reason: refusal.reason,
    violations: refusal.violations.map((v) => ({
      type: v.type,
      subject: v.subject,
      description: v.description,
    })),
  };
}

/** A resolution as plain data. */
export function plainResolution(resolution: AliasResolution): unknown {
  if (resolution.status !== "found") return resolution;
  return { status: "found", alias: plainAlias(resolution.alias), model: plain(resolution.model) };
}

/** A refusal such as a promotion policy returns. */
export const REFUSAL: AliasRefusal = {
  code: "FAILED_PRECONDITION",
  message: 'the target lacks metadata eval.passed = "true"; set it, then promote again',
  reason: "PROMOTION_REQUIREMENTS_UNMET",
  violations: [{ type: "METADATA", subject: "eval.passed", description: 'must be "true"' }],
};

/** Inserts one model per version of `name`; returns them by version. */
export async function insertVersions(
  adapter: StorageAdapter,
  name: string,
  versions: readonly string[],
  overrides: Partial<ModelRecord> = {},
): Promise<Map<string, ModelRecord>> {
  const records = versions.map((version) => makeModelRecord({ ...overrides, name, version }));
  await insertAll(adapter, records);
  return new Map(records.map((r) => [r.version, r]));
}

/** The model of `version`, asserted present. */
export function version(models: Map<string, ModelRecord>, v: string): ModelRecord {
  const model = models.get(v);
  assert.ok(model, `fixture has no version ${v}`);
  return model;
}

/** Calls setAlias and asserts it is `set`; returns the alias. */
export async function setOk(
  adapter: StorageAdapter,
  request: SetAliasRequest,
  options?: StorageCallOptions,
): Promise<AliasRecord> {
  const result = await adapter.setAlias(request, options);
  assert.equal(result.status, "set", `setAlias(${describeSet(request)}): ${JSON.stringify(result)}`);
  return (result as { alias: AliasRecord }).alias;
}

/** How failures name a setAlias request. */
export function describeSet(request: SetAliasRequest): string {
  const { name, alias, version: v, expectedVersion, requestId } = request;
  return JSON.stringify({ name, alias, version: v, expectedVersion, requestId });
}

/** The whole retained history, oldest first. */
export async function allChanges(adapter: StorageAdapter): Promise<ChangeRecord[]> {
  const changes: ChangeRecord[] = [];
  for (let after = 0; ; ) {
    const page = await adapter.readChanges(after, 1000);
    changes.push(...page.changes);
    const last = page.changes.at(-1);
    if (!last) return changes;
    after = last.revision;
  }
}

/** The latest revision. */
export async function latestRevision(adapter: StorageAdapter): Promise<number> {
  return (await adapter.readChanges(0, 0)).latestRevision;
}

/** The single entry appended since `revision`, asserted to be exactly one. */
export async function onlyEntrySince(
  adapter: StorageAdapter,
  revision: number,
  what: string,
): Promise<ChangeRecord> {
  const { changes } = await adapter.readChanges(revision, 10);
  assert.equal(
    changes.length,
    1,
    `${what}: expected exactly one history entry, got ${JSON.stringify(changes.map((c) => [c.revision, c.type]))}`,
  );
  return changes[0] as ChangeRecord;
}

/** Asserts nothing was appended since `revision`. */
export async function assertNoEntrySince(
  adapter: StorageAdapter,
  revision: number,
  what: string,
): Promise<void> {
  const { changes } = await adapter.readChanges(revision, 10);
  assert.deepEqual(
    changes.map((c) => [c.revision, c.type]),
    [],
    `${what}: expected no new history entry`,
  );
}
