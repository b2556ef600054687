import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import { lineageHash } from "../storage/sql/lineage-hash";
import type { RegistryDatabase } from "../storage/sql/schema";
import type { ComparisonOperator, FilterExpression } from "./ast";

type Builder = ExpressionBuilder<RegistryDatabase, "models">;

const TIME_COLUMNS = { create_time: "models.create_time", update_time: "models.update_time" } as const;
const STRING_COLUMNS = {
  name: "models.name",
  version: "models.version",
  framework: "models.framework",
  artifact_digest: "models.artifact_digest",
  "lineage.run_uri": "models.lineage_run_uri",
  "lineage.code_revision": "models.lineage_code_revision",
} as const;

/** The `model_lineage.kind` of each lineage list. */
const LINEAGE_KINDS = { dataset_uris: "dataset", parent_model_ids: "parent" } as const;

/**
 * Compiles a filter into a WHERE condition on `models`, for every SQL adapter:
 *
 * ```ts
 * db.selectFrom("models").selectAll().where(compileFilter(ast))
 * ```
 *
 * Every value is a bound parameter. Tags, metadata and the lineage's lists
 * are correlated `EXISTS` subqueries on `model_tags` / `model_metadata` /
 * `model_lineage` (by the value's SHA-256, its indexed key, and the value). A prefix match is
 * the range `col >= prefix AND col < successor` rather than `LIKE` (SQLite's
 * LIKE ignores case, and a range can use an index). Only portable SQL is
 * emitted. Strings compare in the column's binary collation (SQLite BINARY,
 * PostgreSQL "C", MySQL / MariaDB's NO PAD utf8mb4 binary): Unicode code
 * point order, the order `evaluateFilter` uses too.
 *
 * @throws TypeError for a tree `parseFilter` never produces (a prefix match with `<` etc.).
 */
export function compileFilter(expression: FilterExpression): (eb: Builder) => Expression<SqlBool> {
  return (eb) => compile(eb, expression);
}

function compile(eb: Builder, expression: FilterExpression): Expression<SqlBool> {
  switch (expression.kind) {
    case "and":
      return eb.and(expression.operands.map((operand) => compile(eb, operand)));
    case "or":
      return eb.or(expression.operands.map((operand) => compile(eb, operand)));
    case "not":
      return eb.not(compile(eb, expression.operand));
    case "string":
      return compareString(
        eb,
        eb.ref(STRING_COLUMNS[expression.field]),
        expression.op,
        expression.value,
        expression.prefix,
      );
    case "time":
      return eb(TIME_COLUMNS[expression.field], expression.op, expression.value);
    case "metadata":
      return eb.exists(
        eb
          .selectFrom("model_metadata")
          .select((sub) => sub.lit(1).as("one"))
          .whereRef("model_metadata.model_id", "=", "models.id")
          .where("model_metadata.key", "=", expression.key)
          .where((sub) =>
            compareString(
              sub,
              sub.ref("model_metadata.value"),
              expression.op,
              expression.value,
              expression.prefix,
            ),
          ),
      );
    case "hasTag":
      return eb.exists(
        eb
          .selectFrom("model_tags")
          .select((sub) => sub.lit(1).as("one"))
          .whereRef("model_tags.model_id", "=", "models.id")
          .where("model_tags.tag", "=", expression.tag),
      );
    case "hasMetadataKey":
      return eb.exists(
        eb
          .selectFrom("model_metadata")
          .select((sub) => sub.lit(1).as("one"))
          .whereRef("model_metadata.model_id", "=", "models.id")
          .where("model_metadata.key", "=", expression.key),
      );
    case "hasLineage":
      // By the value's hash (the indexed key: a URI is too long to index in MySQL), and the value itself.
      return eb.exists(
        eb
          .selectFrom("model_lineage")
          .select((sub) => sub.lit(1).as("one"))
          .whereRef("model_lineage.model_id", "=", "models.id")
          .where("model_lineage.kind", "=", LINEAGE_KINDS[expression.field])
          .where("model_lineage.value_hash", "=", lineageHash(expression.value))
          .where("model_lineage.value", "=", expression.value),
      );
    default:
      return unreachable(expression);
  }
}

function compareString<TB extends keyof RegistryDatabase>(
  eb: ExpressionBuilder<RegistryDatabase, TB>,
  column: Expression<string>,
  op: ComparisonOperator,
  value: string,
  prefix: boolean,
): Expression<SqlBool> {
  if (!prefix) return eb(column, op, value);
  if (op !== "=" && op !== "!=") throw new TypeError(`filter: a prefix match needs = or !=, not ${op}`);
  const successor = prefixSuccessor(value);
  if (op === "=") {
    const atLeast = eb(column, ">=", value);
    return successor === undefined ? atLeast : eb.and([atLeast, eb(column, "<", successor)]);
  }
  const below = eb(column, "<", value);
  return successor === undefined ? below : eb.or([below, eb(column, ">=", successor)]);
}

/**
 * The least string greater than every string that starts with `prefix`, or
 * `undefined` if there is none (the empty prefix, or one made of U+10FFFF).
 * Increments the last code point rather than the last UTF-16 unit: a lone
 * surrogate can't be bound (drivers turn it into U+FFFD), and databases
 * order by code point, so U+D7FF's successor is U+E000.
 */
function prefixSuccessor(prefix: string): string | undefined {
  const codePoints = Array.from(prefix);
  while (codePoints.length > 0) {
    const last = codePoints.pop()?.codePointAt(0) ?? 0x10ffff;
    if (last < 0x10ffff) {
      const next = last + 1 >= 0xd800 && last + 1 <= 0xdfff ? 0xe000 : last + 1;
      return codePoints.join("") + String.fromCodePoint(next);
    }
  }
  return undefined;
}

function unreachable(expression: never): never {
  throw new TypeError(`filter: unknown expression ${JSON.stringify(expression)}`);
}
