import { hasRole, isRole } from "../auth/roles";
import type { Principal } from "../context";
import { toModel, toModelAlias } from "../convert";
import type { AliasRecord, AliasRefusal, ModelRecord } from "../storage/adapter";
import {
  type AliasPolicy,
  checkAliasPolicy,
  type MetadataCondition,
  type ProtectedAlias,
  parseCondition,
} from "./policy";

type Violation = AliasRefusal["violations"][number];

/** One protected alias, its conditions parsed. */
interface Protection {
  readonly alias: string;
  readonly entry: ProtectedAlias;
  readonly conditions: readonly MetadataCondition[];
}

/** Whether `name` is one of `names` (exact, or a prefix ending in `*`); absent: every name. */
function appliesTo(names: readonly string[] | undefined, name: string): boolean {
  if (names === undefined) return true;
  return names.some((n) => (n.endsWith("*") ? name.startsWith(n.slice(0, -1)) : n === name));
}

function holdsRole(principal: Principal | undefined, role: string): boolean {
  if (!principal) return false;
  return isRole(role) ? hasRole(principal, role) : principal.roles.includes(role);
}

function roleRefusal(
  name: string,
  alias: string,
  role: string,
  principal: Principal | undefined,
  action: string,
): AliasRefusal {
  const who = principal
    ? `${principal.subject} may not ${action} ${name}@${alias}`
    : `An unauthenticated caller may not ${action} ${name}@${alias}`;
  return {
    code: "PERMISSION_DENIED",
    // Every reader sees refusals in ListModelHistory: name the role needed, never the caller's roles.
    message: `${who}: the alias is protected and needs the ${role} role.`,
    reason: "ALIAS_PROTECTED",
    violations: [],
  };
}

function metadataViolation(condition: MetadataCondition, target: ModelRecord): Violation | undefined {
  const { key, op, value, number } = condition;
  const subject = `metadata.${key}`;
  const wanted = `${key} ${op} ${op === "=" || op === "!=" ? JSON.stringify(value) : value}`;
  if (!Object.hasOwn(target.metadata, key)) {
    return {
      type: "METADATA",
      subject,
      description: `metadata "${key}" is missing; the policy needs ${wanted}`,
    };
  }
  const stored = target.metadata[key] ?? "";
  const is = `it is ${JSON.stringify(stored)}`;
  if (op === "=" || op === "!=") {
    if ((stored === value) === (op === "=")) return undefined;
    return { type: "METADATA", subject, description: `metadata needs ${wanted}; ${is}` };
  }
  const actual = stored.trim() === "" ? Number.NaN : Number(stored);
  if (!Number.isFinite(actual)) {
    return {
      type: "METADATA",
      subject,
      description: `metadata needs ${wanted}; ${is}, which is not a number`,
    };
  }
  const ok =
    op === ">"
      ? actual > number
      : op === ">="
        ? actual >= number
        : op === "<"
          ? actual < number
          : actual <= number;
  return ok ? undefined : { type: "METADATA", subject, description: `metadata needs ${wanted}; ${is}` };
}

/** What the target lacks of the entry's evidence (metadata, digest, tags). */
function evidenceViolations(protection: Protection, target: ModelRecord): Violation[] {
  const violations: Violation[] = [];
  for (const condition of protection.conditions) {
    const violation = metadataViolation(condition, target);
    if (violation) violations.push(violation);
  }
  if (protection.entry.artifactDigest && target.artifactDigest === "") {
    violations.push({
      type: "ARTIFACT_DIGEST",
      subject: "artifact_digest",
      description: "the version has no artifact_digest; set it (sha256:...) with UpdateModel",
    });
  }
  for (const tag of protection.entry.tags ?? []) {
    if (!target.tags.includes(tag)) {
      violations.push({
        type: "TAG",
        subject: `tags.${tag}`,
        description: `the version lacks the tag "${tag}"`,
      });
    }
  }
  return violations;
}

/** The violations a custom hook returned. */
function hookViolations(result: unknown): Violation[] {
  if (result === undefined || result === null) return [];
  const list = typeof result === "string" ? [result] : Array.isArray(result) ? result : [];
  return list
    .filter((s): s is string => typeof s === "string" && s !== "")
    .map((description) => ({ type: "CHECK", subject: "check", description }));
}

/** The promotion policy, compiled: the storage `check` callbacks of each alias move and delete. */
export class AliasPolicyChecker {
  readonly #protections = new Map<string, Protection>();

  /** @throws TypeError naming the entry when `policy` is not a valid {@link AliasPolicy}. */
  constructor(policy: AliasPolicy | undefined, where = "createRegistryServer: aliasPolicy") {
    if (policy === undefined) return;
    checkAliasPolicy(policy, where);
    for (const [alias, entry] of Object.entries(policy.protectedAliases)) {
      const conditions = Object.entries(entry.metadata ?? {}).map(([key, text]) => parseCondition(key, text));
      this.#protections.set(alias, { alias, entry, conditions });
    }
  }

  #protection(name: string, alias: string): Protection | undefined {
    const protection = this.#protections.get(alias);
    return protection && appliesTo(protection.entry.names, name) ? protection : undefined;
  }

  /** The `SetAliasRequest.check` for this move, or `undefined` when the alias is not protected. */
  forSet(name: string, alias: string, principal: Principal | undefined) {
    const protection = this.#protection(name, alias);
    if (!protection) return undefined;
    return async (
      target: ModelRecord,
      current: AliasRecord | undefined,
    ): Promise<AliasRefusal | undefined> => {
      const { role, check } = protection.entry;
      if (role !== undefined && !holdsRole(principal, role))
        return roleRefusal(name, alias, role, principal, "move");
      const violations = evidenceViolations(protection, target);
      if (check) {
        const result = await check({
          name,
          alias,
          target: toModel(target),
          current: current && toModelAlias(current),
          principal,
        });
        violations.push(...hookViolations(result));
      }
      if (violations.length === 0) return undefined;
      const list = violations.map((v) => v.description).join("; ");
      return {
        code: "FAILED_PRECONDITION",
        message: `${name} ${target.version} cannot become ${name}@${alias}: the promotion policy's requirements are unmet: ${list}.`,
        reason: "PROMOTION_REQUIREMENTS_UNMET",
        violations,
      };
    };
  }

  /**
   * The refusal of a caller who lacks the role of `name@alias` when a
   * protected alias names one, or `undefined` (not protected, no role, or
   * held). For the answers storage gives without calling `check` (a move to
   * where the alias already points, a replayed request id): nothing changed,
   * but only a caller who could have made the move may be told it succeeded.
   */
  roleRefusal(name: string, alias: string, principal: Principal | undefined, action: "move" | "delete") {
    const role = this.#protection(name, alias)?.entry.role;
    if (role === undefined || holdsRole(principal, role)) return undefined;
    return roleRefusal(name, alias, role, principal, action);
  }

  /**
   * The `DeleteOptions.checkAliases` of a forced DeleteModel, or `undefined`
   * when nothing is protected: each protected alias it would delete needs
   * the role, as a DeleteModelAlias of it would (evidence is not needed).
   */
  forForcedDelete(principal: Principal | undefined) {
    if (this.#protections.size === 0) return undefined;
    return (aliases: readonly AliasRecord[]) => {
      for (const alias of aliases) {
        const refusal = this.roleRefusal(alias.name, alias.alias, principal, "delete");
        if (refusal) return { alias, refusal };
      }
      return undefined;
    };
  }

  /** The `DeleteAliasRequest.check` for this delete (the role only), or `undefined`. */
  forDelete(name: string, alias: string, principal: Principal | undefined) {
    const role = this.#protection(name, alias)?.entry.role;
    if (role === undefined) return undefined;
    return async (): Promise<AliasRefusal | undefined> =>
      holdsRole(principal, role) ? undefined : roleRefusal(name, alias, role, principal, "delete");
  }
}
