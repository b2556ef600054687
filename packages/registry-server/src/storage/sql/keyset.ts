import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import type { Cursor, OrderTerm } from "../adapter";
import type { RegistryDatabase } from "./schema";

/**
 * `(order values, id) > cursor` in the order's directions, as an OR of ANDs
 * (portable; no row-value syntax), ANDed with the first term's inclusive
 * bound (`create_time <= ?` for newest first): redundant for the result, but
 * a range the planner can start an index scan at, so a deep page does not
 * read every row before it.
 */
export function afterCursor(orderBy: readonly OrderTerm[], cursor: Cursor) {
  return (eb: ExpressionBuilder<RegistryDatabase, "models">): Expression<SqlBool> => {
    const alternatives: Expression<SqlBool>[] = [];
    const equalities: Expression<SqlBool>[] = [];
    for (const [i, term] of orderBy.entries()) {
      const value = cursor.values[i];
      if (value === undefined) break;
      alternatives.push(eb.and([...equalities, eb(term.field, term.descending ? "<" : ">", value)]));
      equalities.push(eb(term.field, "=", value));
    }
    alternatives.push(eb.and([...equalities, eb("id", ">", cursor.id)]));
    const [first] = orderBy;
    const firstValue = cursor.values[0];
    if (first === undefined || firstValue === undefined) return eb.or(alternatives);
    return eb.and([eb(first.field, first.descending ? "<=" : ">=", firstValue), eb.or(alternatives)]);
  };
}
