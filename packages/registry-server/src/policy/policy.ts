import type { Model, ModelAlias } from "@modelreg/proto";
import type { Principal } from "../context";
import { limits } from "../validation";

/**
 * The promotion policy (`RegistryServerOptions.aliasPolicy`): which aliases
 * are protected, and what moving one requires. Checked inside the move's
 * transaction; a refused move is recorded in the history and fails with
 * PERMISSION_DENIED (the role) or FAILED_PRECONDITION (the evidence, one
 * `google.rpc.PreconditionFailure` violation per missing item).
 *
 * ```ts
 * const aliasPolicy: AliasPolicy = {
 *   protectedAliases: {
 *     production: { role: "admin", metadata: { "eval.passed": "true", "eval.auc": ">= 0.90" } },
 *   },
 * };
 * ```
 */
export interface AliasPolicy {
  /** Protected alias names (for example `production`) and their requirements. */
  readonly protectedAliases: Readonly<Record<string, ProtectedAlias>>;
}

/** What moving (or deleting) one protected alias requires. */
export interface ProtectedAlias {
  /**
   * The role the caller needs to move or delete the alias: a built-in role
   * (`reader`, `writer`, `admin`, ordered: `admin` includes `writer`), or any
   * other name, which must be among the principal's roles. A call without a
   * principal (authentication off) is refused. Absent: any caller allowed
   * to call SetModelAlias.
   */
  readonly role?: string | undefined;
  /**
   * Metadata the target version must have, by key. A bare value or `= v`
   * must equal the stored value exactly; `!= v` must differ; `> n`, `>= n`,
   * `< n`, `<= n` compare as numbers (a stored value that is not a number
   * is a violation).
   */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** The target version must have an `artifact_digest`. */
  readonly artifactDigest?: boolean | undefined;
  /** Tags the target version must have. */
  readonly tags?: readonly string[] | undefined;
  /**
   * The model names the protection applies to: exact names, or prefixes
   * ending in one `*` (`fraud/*`), each by the model-name rule (a name that
   * no model can have is refused when the policy is loaded, not ignored).
   * Absent: every name.
   */
  readonly names?: readonly string[] | undefined;
  /**
   * Anything else, checked after the rest when the role is held: return
   * nothing to allow the move, or one or more violations (descriptions of
   * what is missing) to refuse it with FAILED_PRECONDITION. What it throws
   * fails the call (a `RegistryError` as it is, anything else as INTERNAL)
   * and records nothing. Not called for deletes.
   */
  readonly check?:
    | ((input: PromotionCheckInput) => PromotionCheckResult | Promise<PromotionCheckResult>)
    | undefined;
}

/** What a {@link ProtectedAlias.check} hook returns: nothing, or violations. */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook that allows the move returns nothing.
export type PromotionCheckResult = void | undefined | string | readonly string[];

/** What a {@link ProtectedAlias.check} hook is told about the move. */
export interface PromotionCheckInput {
  /** The model name. */
  readonly name: string;
  /** The alias to move. */
  readonly alias: string;
  /** The version it would point at, as it is now (it cannot change until the move commits). */
  readonly target: Model;
  /** The alias now, if it exists. */
  readonly current: ModelAlias | undefined;
  /** The caller, when authentication established one. */
  readonly principal: Principal | undefined;
}

/** A metadata requirement, parsed. */
export interface MetadataCondition {
  readonly key: string;
  readonly op: "=" | "!=" | ">" | ">=" | "<" | "<=";
  readonly value: string;
  /** The value as a number, for `>` `>=` `<` `<=`. */
  readonly number: number;
  /** As written in the policy. */
  readonly text: string;
}

const conditionPattern = /^\s*(>=|<=|!=|=|>|<)?\s*(.*?)\s*$/s;

/** Parses a metadata requirement (`"true"`, `">= 0.90"`); throws a message for a bad number. */
export function parseCondition(key: string, text: string): MetadataCondition {
  const match = conditionPattern.exec(text);
  const op = (match?.[1] ?? "=") as MetadataCondition["op"];
  // A bare value is compared exactly as written, spaces included.
  const value = match?.[1] === undefined ? text : (match?.[2] ?? "");
  const numeric = op !== "=" && op !== "!=";
  const number = numeric ? Number(value) : Number.NaN;
  if (numeric && (value === "" || !Number.isFinite(number))) {
    throw new Error(`"${text}" compares with ${op}, which needs a number after it`);
  }
  return { key, op, value, number, text };
}

const allowed = new Set(["role", "metadata", "artifactDigest", "tags", "names", "check"]);

function fail(where: string, message: string): never {
  throw new TypeError(`${where}: ${message}`);
}

function checkStringList(where: string, value: unknown, item: (s: string) => boolean, what: string): void {
  if (!Array.isArray(value) || value.some((s) => typeof s !== "string" || !item(s))) {
    fail(where, `must be a list of ${what}`);
  }
}

/**
 * Each of an entry's `names`: a model name, or a name prefix ending in one
 * `*`, by the model-name rule, so a typo (`"bert "`, `"fraud/**"`) is an
 * error instead of a protection that matches nothing.
 */
function checkNames(where: string, names: unknown): void {
  if (!Array.isArray(names)) fail(where, "must be a list of model names or name prefixes ending in *");
  names.forEach((name: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof name !== "string") fail(at, "must be a model name or a name prefix ending in *");
    const base = name.endsWith("*") ? name.slice(0, -1) : name;
    if (base.length <= limits.name.max && limits.name.pattern.test(base)) return;
    fail(
      at,
      `${JSON.stringify(name)} is not a model name or a name prefix ending in *: names have ${limits.name.chars}, starting with a letter or digit, at most ${limits.name.max} characters (a prefix may end in one *)`,
    );
  });
}

function checkEntry(where: string, entry: unknown): void {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) fail(where, "must be an object");
  const e = entry as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!allowed.has(key))
      fail(where, `unknown setting "${key}"; the settings are ${[...allowed].join(", ")}`);
  }
  if (e.role !== undefined && (typeof e.role !== "string" || e.role === "")) {
    fail(`${where}.role`, "must be a role name, such as admin");
  }
  if (e.metadata !== undefined) {
    if (typeof e.metadata !== "object" || e.metadata === null || Array.isArray(e.metadata)) {
      fail(`${where}.metadata`, 'must map metadata keys to conditions, such as { "eval.auc": ">= 0.90" }');
    }
    for (const [key, condition] of Object.entries(e.metadata)) {
      const at = `${where}.metadata[${JSON.stringify(key)}]`;
      if (!limits.metadataKey.pattern.test(key)) fail(at, "is not a valid metadata key");
      if (typeof condition !== "string") fail(at, 'must be a string, such as "true" or ">= 0.90"');
      try {
        parseCondition(key, condition);
      } catch (error) {
        fail(at, (error as Error).message);
      }
    }
  }
  if (e.artifactDigest !== undefined && typeof e.artifactDigest !== "boolean") {
    fail(`${where}.artifactDigest`, "must be true or false");
  }
  if (e.tags !== undefined)
    checkStringList(`${where}.tags`, e.tags, (t) => limits.tag.pattern.test(t), "tags");
  if (e.names !== undefined) checkNames(`${where}.names`, e.names);
  if (e.check !== undefined && typeof e.check !== "function") fail(`${where}.check`, "must be a function");
}

/**
 * Throws a TypeError naming the entry and what is wrong when `policy` is not
 * a valid {@link AliasPolicy}. `where` starts each message (the option, or
 * the file it came from).
 */
export function checkAliasPolicy(policy: unknown, where = "aliasPolicy"): asserts policy is AliasPolicy {
  if (typeof policy !== "object" || policy === null || Array.isArray(policy)) {
    fail(where, "must be an object with protectedAliases");
  }
  for (const key of Object.keys(policy)) {
    if (key !== "protectedAliases") fail(where, `unknown setting "${key}"; the only one is protectedAliases`);
  }
  const aliases = (policy as { protectedAliases?: unknown }).protectedAliases;
  if (typeof aliases !== "object" || aliases === null || Array.isArray(aliases)) {
    fail(`${where}.protectedAliases`, "must map alias names to their requirements");
  }
  for (const [alias, entry] of Object.entries(aliases)) {
    const at = `${where}.protectedAliases.${alias}`;
    if (!limits.alias.test(alias) || alias === "latest") {
      fail(
        at,
        "is not an alias that can be set (1-63 lower-case letters, digits, - and _, starting with a letter; not latest)",
      );
    }
    checkEntry(at, entry);
  }
}
