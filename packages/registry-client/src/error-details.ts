import { Any, PreconditionFailure, RegistryError } from "@modelreg/proto";

/** One unmet precondition, as in `google.rpc.PreconditionFailure.Violation`. */
export interface PreconditionViolation {
  /** The kind of precondition, for example `METADATA`, `ARTIFACT_DIGEST` or `TAG`. */
  type: string;
  /** What it applies to, for example the metadata key `eval.passed`. */
  subject: string;
  /** What is missing and how to fix it. */
  description: string;
}

/**
 * The `google.rpc.PreconditionFailure` violations an error carries: for a
 * promotion the registry's policy refused (FAILED_PRECONDITION), one per
 * missing item of evidence on the target version. Empty for anything that is
 * not a RegistryError or carries no such detail.
 *
 * ```ts
 * try {
 *   await client.setModelAlias({ name: "bert", alias: "production", version: "1.1.0" });
 * } catch (error) {
 *   const missing = preconditionViolations(error);
 *   if (missing.length === 0) throw error;
 *   throw new Error(`not promoted: ${missing.map((v) => `${v.subject} (${v.description})`).join(", ")}`);
 * }
 * ```
 */
export function preconditionViolations(error: unknown): PreconditionViolation[] {
  if (!(error instanceof RegistryError)) return [];
  const violations: PreconditionViolation[] = [];
  for (const detail of error.details) {
    if (!Any.contains(detail, PreconditionFailure)) continue;
    for (const v of Any.unpack(detail, PreconditionFailure).violations) {
      violations.push({ type: v.type, subject: v.subject, description: v.description });
    }
  }
  return violations;
}
