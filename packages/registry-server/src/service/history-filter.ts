import { FilterSyntaxError, parseTimestamp } from "../filter/parse";
import type { ChangeType, HistoryQuery } from "../storage/adapter";
import { microsProblem } from "../validation";

/** What a ListModelHistory filter narrows the query to; `empty` when its conditions cannot all hold. */
export type HistoryConditions = Pick<HistoryQuery, "actor" | "types" | "refused" | "fromTime" | "toTime"> & {
  readonly empty?: boolean;
};

const typeNames: Readonly<Record<string, ChangeType>> = {
  CREATED: "created",
  UPDATED: "updated",
  DELETED: "deleted",
  ALIAS_SET: "alias_set",
  ALIAS_DELETED: "alias_deleted",
};
const allTypes = Object.values(typeNames);
const FIELDS = "actor, type, commit_time, refused";

interface Token {
  readonly text: string;
  /** The unquoted value of a quoted string. */
  readonly value: string;
  readonly quoted: boolean;
  readonly start: number;
}

/** Words, quoted strings and comparators, each with its position. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:"((?:[^"\\]|\\.)*)"|(<=|>=|!=|=|<|>)|([^\s"<>=!]+)|(\S))/gy;
  let match: RegExpExecArray | null;
  for (;;) {
    const at = pattern.lastIndex;
    match = pattern.exec(text);
    if (!match) break;
    const start = at + (match[0].length - match[0].trimStart().length);
    if (match[4] !== undefined) {
      throw new FilterSyntaxError(
        match[4] === '"'
          ? 'expected a closing " for the string that starts'
          : `unexpected character "${match[4]}"`,
        start,
      );
    }
    const quoted = match[1] !== undefined;
    const value = quoted ? (match[1] ?? "").replace(/\\(.)/g, "$1") : match[0].trim();
    tokens.push({ text: match[0].trim(), value, quoted, start });
    if (pattern.lastIndex >= text.length) break;
  }
  return tokens;
}

function timeValue(token: Token): number {
  const instant = parseTimestamp(token.value);
  if (instant === "malformed" || instant === "invalid") {
    throw new FilterSyntaxError(
      `expected an RFC 3339 timestamp such as "2026-11-30T00:00:00Z" after commit_time${token.quoted ? "" : ' (quote it: timestamps contain ":")'}`,
      token.start,
    );
  }
  const problem = microsProblem(instant.micros);
  if (problem)
    throw new FilterSyntaxError(`commit_time ${JSON.stringify(token.value)} ${problem}`, token.start);
  return instant.micros + (instant.subMicro ? 0.5 : 0);
}

interface Builder {
  actor?: string;
  types: Set<ChangeType>;
  refused?: boolean;
  fromTime?: number;
  toTime?: number;
  empty: boolean;
}

/** Applies one `field op value` restriction. */
function restrict(b: Builder, field: Token, op: Token, value: Token): void {
  const only = (ops: readonly string[]) => {
    if (!ops.includes(op.text)) {
      throw new FilterSyntaxError(`${field.text} can be compared only with ${ops.join(" or ")}`, op.start);
    }
  };
  switch (field.text) {
    case "actor":
      only(["="]);
      if (b.actor !== undefined && b.actor !== value.value) b.empty = true;
      b.actor = value.value;
      return;
    case "type": {
      only(["=", "!="]);
      const type = typeNames[value.value];
      if (!type) {
        throw new FilterSyntaxError(
          `unknown type "${value.value}"; the types are ${Object.keys(typeNames).join(", ")}`,
          value.start,
        );
      }
      if (op.text === "=") b.types = new Set([...b.types].filter((t) => t === type));
      else b.types.delete(type);
      return;
    }
    case "refused": {
      only(["=", "!="]);
      if (value.quoted || (value.value !== "true" && value.value !== "false")) {
        throw new FilterSyntaxError("refused is compared with true or false", value.start);
      }
      const refused = (value.value === "true") === (op.text === "=");
      if (b.refused !== undefined && b.refused !== refused) b.empty = true;
      b.refused = refused;
      return;
    }
    case "commit_time": {
      only(["=", "<", "<=", ">", ">="]);
      // A sub-microsecond instant is t + 0.5: whole-microsecond times compare exactly.
      const t = timeValue(value);
      const from = op.text === ">" ? Math.floor(t) + 1 : op.text === "<" ? undefined : Math.ceil(t);
      const to = op.text === "<" ? Math.ceil(t) - 1 : op.text === ">" ? undefined : Math.floor(t);
      if (op.text !== "<" && op.text !== "<=" && from !== undefined)
        b.fromTime = Math.max(b.fromTime ?? from, from);
      if (op.text !== ">" && op.text !== ">=" && to !== undefined) b.toTime = Math.min(b.toTime ?? to, to);
      return;
    }
    default:
      throw new FilterSyntaxError(`unknown field "${field.text}"; the fields are ${FIELDS}`, field.start);
  }
}

/**
 * Parses a ListModelHistory filter: restrictions on `actor` (=), `type`
 * (= or !=, CREATED ... ALIAS_DELETED), `commit_time` (= < <= > >=, RFC 3339)
 * and `refused` (= or !=, true or false), joined by AND.
 *
 * @throws FilterSyntaxError with the position of the first error.
 */
export function parseHistoryFilter(text: string): HistoryConditions {
  if (text.length > 2000) throw new FilterSyntaxError("is longer than 2000 characters", 2000);
  const tokens = tokenize(text);
  const b: Builder = { types: new Set(allTypes), empty: false };
  let i = 0;
  while (i < tokens.length) {
    const [field, op, value] = [tokens[i], tokens[i + 1], tokens[i + 2]];
    if (!field || field.quoted || /^(<=|>=|!=|=|<|>)$/.test(field.text)) {
      throw new FilterSyntaxError(`expected a field (${FIELDS})`, field?.start ?? text.length);
    }
    if (!op || !/^(<=|>=|!=|=|<|>)$/.test(op.text)) {
      throw new FilterSyntaxError(`expected a comparator after "${field.text}"`, op?.start ?? text.length);
    }
    if (!value || (!value.quoted && /^(<=|>=|!=|=|<|>|AND)$/.test(value.text))) {
      throw new FilterSyntaxError(`expected a value after "${op.text}"`, value?.start ?? text.length);
    }
    restrict(b, field, op, value);
    i += 3;
    const and = tokens[i];
    if (and === undefined) break;
    if (and.quoted || and.text !== "AND") {
      throw new FilterSyntaxError(
        `expected AND or the end of the filter (only AND joins restrictions here)`,
        and.start,
      );
    }
    if (i + 1 >= tokens.length) throw new FilterSyntaxError("expected a restriction after AND", text.length);
    i++;
  }
  const types = b.types.size === allTypes.length ? undefined : [...b.types];
  const empty =
    b.empty ||
    types?.length === 0 ||
    (b.fromTime !== undefined && b.toTime !== undefined && b.fromTime > b.toTime);
  return { actor: b.actor, types, refused: b.refused, fromTime: b.fromTime, toTime: b.toTime, empty };
}
