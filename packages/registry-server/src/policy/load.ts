import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse } from "yaml";
import { type AliasPolicy, checkAliasPolicy } from "./policy";

/**
 * Reads a promotion policy ({@link AliasPolicy}, without `check` hooks)
 * from a JSON (`.json`) or YAML (`.yaml`, `.yml`) file, strictly: an
 * unknown setting, a bad alias name or a condition that is not a number
 * where one is needed is an error naming the file and the entry.
 *
 * ```yaml
 * protectedAliases:
 *   production:
 *     role: admin
 *     metadata: { eval.passed: "true", eval.auc: ">= 0.90" }
 *     artifactDigest: true
 * ```
 *
 * @throws Error naming the file when it cannot be read or parsed, TypeError when it is not a valid policy.
 */
export async function loadAliasPolicy(file: string): Promise<AliasPolicy> {
  const extension = extname(file).toLowerCase();
  if (extension !== ".json" && extension !== ".yaml" && extension !== ".yml") {
    throw new TypeError(`${file}: a promotion policy file must end in .json, .yaml or .yml`);
  }
  const text = await readFile(file, "utf8");
  let policy: unknown;
  try {
    policy = extension === ".json" ? JSON.parse(text) : parse(text);
  } catch (error) {
    throw new Error(
      `${file}: not valid ${extension === ".json" ? "JSON" : "YAML"}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  checkAliasPolicy(policy, file);
  return policy;
}
