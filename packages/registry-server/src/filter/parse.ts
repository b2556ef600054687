import type {
  ComparisonOperator,
  FilterExpression,
  LineageMembership,
  StringComparison,
  TimeComparison,
} from "./ast";

const MAX_LENGTH = 2000;
const MAX_DEPTH = 32;
const MAX_COMPARISONS = 100;

const FIELD_LIST =
  "name, version, framework, tags, metadata.KEY, create_time, update_time, artifact_digest, lineage.run_uri, lineage.code_revision, lineage.dataset_uris, lineage.parent_model_ids";

/**
 * A filter that does not follow the grammar or breaks a limit. The service
 * reports it as INVALID_ARGUMENT on the `filter` field.
 */
export class FilterSyntaxError extends Error {
  /** 0-based offset of the error in the filter text, counted in Unicode code points (characters). */
  readonly position: number;
  /** What was expected or what is wrong, followed by the position; no `filter:` prefix. */
  readonly description: string;

  /**
   * @param description What was expected or what is wrong, without the position.
   * @param position 0-based offset in code points; the message ends with `at position N`.
   */
  constructor(description: string, position: number) {
    super(`filter: ${description} at position ${position}`);
    this.name = "FilterSyntaxError";
    this.position = position;
    this.description = `${description} at position ${position}`;
  }
}

type Token =
  | { readonly type: "word"; readonly text: string; readonly start: number; readonly end: number }
  | {
      readonly type: "string";
      readonly value: string;
      /** Unescaped `*`s: index in `value` and offset in the source. */
      readonly stars: readonly Star[];
      readonly start: number;
      readonly end: number;
    }
  | {
      readonly type: "op";
      readonly op: ComparisonOperator | ":";
      readonly start: number;
      readonly end: number;
    }
  | { readonly type: "(" | ")" | "-" | "eof"; readonly start: number; readonly end: number };

interface Star {
  readonly index: number;
  readonly source: number;
}

/** A value after a comparator, decoded, with its unescaped `*`s. */
interface Value {
  readonly text: string;
  readonly stars: readonly Star[];
  readonly start: number;
  readonly quoted: boolean;
}

type Field =
  | { readonly type: "string"; readonly field: StringComparison["field"] }
  | { readonly type: "time"; readonly field: TimeComparison["field"] }
  | { readonly type: "tags" }
  | { readonly type: "metadata" }
  | { readonly type: "metadataKey"; readonly key: string }
  | { readonly type: "lineage"; readonly field: LineageMembership["field"] };

const KEYWORDS = new Set(["AND", "OR", "NOT"]);
const isWhitespace = (c: string) =>
  c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
const isBareChar = (c: string) => /^[A-Za-z0-9._\-/*]$/.test(c);
const isIdentifier = (s: string) => /^[A-Za-z0-9_]+$/.test(s);

/** The number of characters (code points) in `text.slice(0, end)`; doesn't allocate, as the text may be megabytes. */
function countCodePoints(text: string, end: number): number {
  let count = 0;
  for (let i = 0; i < end; i++) {
    const unit = text.charCodeAt(i);
    const secondHalf =
      unit >= 0xdc00 && unit <= 0xdfff && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800;
    if (!secondHalf) count++;
  }
  return count;
}

/**
 * Parses a ListModels / WatchModels filter (an AIP-160 subset, documented on
 * `ListModelsRequest.filter`) into a {@link FilterExpression}.
 *
 * @param text The filter as the client sent it.
 * @returns The syntax tree, or `undefined` for an empty or whitespace-only filter (match everything).
 * @throws FilterSyntaxError if the filter is malformed or exceeds a limit (2000 characters,
 *   nesting depth 32, 100 comparisons).
 */
export function parseFilter(text: string): FilterExpression | undefined {
  if (text.length > MAX_LENGTH) {
    const length = countCodePoints(text, text.length);
    if (length > MAX_LENGTH) {
      throw new FilterSyntaxError(`is longer than ${MAX_LENGTH} characters (it has ${length})`, MAX_LENGTH);
    }
  }
  const parser = new Parser(text);
  if (parser.peek().type === "eof") return undefined;
  return parser.parseFilter();
}

class Parser {
  readonly #text: string;
  #pos = 0;
  #peeked: Token | undefined;
  #depth = 0;
  #comparisons = 0;

  constructor(text: string) {
    this.#text = text;
  }

  parseFilter(): FilterExpression {
    const expression = this.#parseExpression();
    const token = this.peek();
    if (token.type === ")") this.#fail('unexpected ")" with no matching "("', token.start);
    if (token.type !== "eof") {
      this.#fail(
        `expected AND, OR, another restriction or the end of the filter, not ${this.#describe(token)}`,
        token.start,
      );
    }
    return expression;
  }

  // expression: sequence {AND sequence}
  #parseExpression(): FilterExpression {
    const operands = [this.#parseSequence()];
    while (this.#isKeyword(this.peek(), "AND")) {
      this.#next();
      operands.push(this.#parseSequence());
    }
    return combine("and", operands);
  }

  // sequence: factor {factor} (juxtaposition is an implicit AND)
  #parseSequence(): FilterExpression {
    const operands = [this.#parseFactor()];
    while (this.#startsTerm(this.peek())) operands.push(this.#parseFactor());
    return combine("and", operands);
  }

  // factor: term {OR term}; OR binds tighter than AND in AIP-160.
  #parseFactor(): FilterExpression {
    const operands = [this.#parseTerm()];
    while (this.#isKeyword(this.peek(), "OR")) {
      this.#next();
      operands.push(this.#parseTerm());
    }
    return combine("or", operands);
  }

  // term: [NOT | -] term | "(" expression ")" | restriction
  #parseTerm(): FilterExpression {
    const token = this.peek();
    if (token.type === "-" || this.#isKeyword(token, "NOT")) {
      this.#next();
      this.#enter(token.start);
      const operand = this.#parseTerm();
      this.#depth--;
      return { kind: "not", operand };
    }
    if (token.type === "(") {
      this.#next();
      this.#enter(token.start);
      const expression = this.#parseExpression();
      const close = this.#next();
      if (close.type !== ")") {
        this.#fail(
          `expected ")" to match the "(" at position ${this.#offset(token.start)}, not ${this.#describe(close)}`,
          close.start,
        );
      }
      this.#depth--;
      return expression;
    }
    return this.#parseRestriction();
  }

  #enter(start: number): void {
    this.#depth++;
    if (this.#depth > MAX_DEPTH) {
      this.#fail(`parentheses and NOT are nested more than ${MAX_DEPTH} levels deep`, start);
    }
  }

  #parseRestriction(): FilterExpression {
    const fieldToken = this.#next();
    if (fieldToken.type !== "word" || KEYWORDS.has(fieldToken.text)) {
      this.#fail(
        `expected a field name, "(", NOT or "-", not ${this.#describe(fieldToken)}`,
        fieldToken.start,
      );
    }
    this.#comparisons++;
    if (this.#comparisons > MAX_COMPARISONS) {
      this.#fail(`has more than ${MAX_COMPARISONS} comparisons, the limit`, fieldToken.start);
    }
    const field = this.#parseField(fieldToken);
    const fieldText = this.#text.slice(fieldToken.start, this.#pos);
    const opToken = this.#next();
    if (opToken.type !== "op") {
      this.#fail(
        `expected a comparator (= != < <= > >= or :) after "${fieldText}", not ${this.#describe(opToken)}`,
        opToken.start,
      );
    }
    const op = opToken.op;

    switch (field.type) {
      case "lineage": {
        if (op !== ":") {
          this.#fail(
            `lineage.${field.field} is a list and cannot be compared with "${op}"; use lineage.${field.field}:"VALUE"`,
            opToken.start,
          );
        }
        const value = this.#parseValue(opToken);
        this.#rejectStars(value, `a lineage.${field.field} value`);
        return { kind: "hasLineage", field: field.field, value: value.text };
      }
      case "tags": {
        if (op !== ":") this.#fail(`tags cannot be compared with "${op}"; use tags:VALUE`, opToken.start);
        const value = this.#parseValue(opToken);
        this.#rejectStars(value, "a tag");
        return { kind: "hasTag", tag: value.text };
      }
      case "metadata": {
        if (op !== ":") {
          this.#fail(`metadata needs a key; use metadata:KEY or metadata.KEY ${op} VALUE`, opToken.start);
        }
        const value = this.#parseValue(opToken);
        this.#rejectStars(value, "a metadata key");
        return { kind: "hasMetadataKey", key: value.text };
      }
      case "time": {
        if (op === ":") {
          this.#fail(
            `${field.field} cannot be used with ":"; compare it with = != < <= > or >= and an RFC 3339 timestamp`,
            opToken.start,
          );
        }
        return this.#timeComparison(field.field, op, this.#parseValue(opToken));
      }
      case "string":
      case "metadataKey": {
        const comparison = op === ":" ? "=" : op;
        const value = this.#parseValue(opToken);
        const prefix = this.#trailingStar(value, comparison, op);
        const text = prefix ? value.text.slice(0, -1) : value.text;
        return field.type === "string"
          ? { kind: "string", field: field.field, op: comparison, value: text, prefix }
          : { kind: "metadata", key: field.key, op: comparison, value: text, prefix };
      }
    }
  }

  #parseField(token: Token & { type: "word" }): Field {
    const name = token.text;
    switch (name) {
      case "name":
      case "version":
      case "framework":
      case "artifact_digest":
      case "lineage.run_uri":
      case "lineage.code_revision":
        return { type: "string", field: name };
      case "lineage.dataset_uris":
        return { type: "lineage", field: "dataset_uris" };
      case "lineage.parent_model_ids":
        return { type: "lineage", field: "parent_model_ids" };
      case "create_time":
      case "update_time":
        return { type: "time", field: name };
      case "tags":
        return { type: "tags" };
      case "metadata":
        return { type: "metadata" };
    }
    if (name === "metadata.") {
      const next = this.peek();
      if (next.type !== "string" || next.start !== token.end) {
        this.#fail('expected a metadata key right after "metadata."', token.end);
      }
      this.#next();
      this.#rejectStars(next, "a metadata key");
      return { type: "metadataKey", key: next.value };
    }
    if (name.startsWith("metadata.")) {
      const key = name.slice("metadata.".length);
      if (!isIdentifier(key)) {
        this.#fail(
          `metadata key "${key}" must be quoted because it has characters other than letters, digits and _, as in metadata.${JSON.stringify(key)}`,
          token.start + "metadata.".length,
        );
      }
      return { type: "metadataKey", key };
    }
    const lower = name.toLowerCase();
    if (lower === "and" || lower === "or" || lower === "not") {
      this.#fail(`"${name}" is not a field; write the operators AND, OR and NOT in uppercase`, token.start);
    }
    this.#fail(`unknown field "${name}"; the fields are ${FIELD_LIST}`, token.start);
  }

  #parseValue(opToken: Token & { type: "op" }): Value {
    const token = this.#next();
    const after = `after "${opToken.op}"`;
    if (token.type === "string")
      return { text: token.value, stars: token.stars, start: token.start, quoted: true };
    if (token.type === "word") {
      if (KEYWORDS.has(token.text)) {
        this.#fail(`expected a value ${after}; quote "${token.text}" to use it as a value`, token.start);
      }
      const stars: Star[] = [];
      for (let i = 0; i < token.text.length; i++) {
        if (token.text[i] === "*") stars.push({ index: i, source: token.start + i });
      }
      return { text: token.text, stars, start: token.start, quoted: false };
    }
    if (token.type === "-") {
      this.#fail(`expected a value ${after}; quote a value that starts with "-"`, token.start);
    }
    this.#fail(`expected a value ${after}`, token.start);
  }

  /** Whether `value` ends in a prefix-match `*`; throws for any other unescaped `*`. */
  #trailingStar(value: Value, op: ComparisonOperator, written: ComparisonOperator | ":"): boolean {
    const first = value.stars[0];
    if (first === undefined) return false;
    if (op !== "=" && op !== "!=") {
      this.#fail(`a "*" prefix match needs = or !=, not "${written}"`, first.source);
    }
    if (first.index !== value.text.length - 1) {
      this.#fail(
        `"*" is only allowed at the end of a value, for a prefix match; write \\* in a quoted string for a literal "*"`,
        first.source,
      );
    }
    return true;
  }

  #rejectStars(value: { readonly stars: readonly Star[] }, what: string): void {
    const first = value.stars[0];
    if (first !== undefined) {
      this.#fail(
        `"*" cannot be used in ${what}; write \\* in a quoted string for a literal "*"`,
        first.source,
      );
    }
  }

  #timeComparison(field: TimeComparison["field"], op: ComparisonOperator, value: Value): FilterExpression {
    const instant = parseTimestamp(value.text);
    if (instant === "malformed") {
      const hint = value.quoted ? "" : ' (quote it: timestamps contain ":")';
      this.#fail(
        `expected an RFC 3339 timestamp such as "2024-01-01T00:00:00Z" after "${op}"${hint}`,
        value.start,
      );
    }
    if (instant === "invalid") {
      this.#fail(`timestamp ${JSON.stringify(value.text)} is not a valid date and time`, value.start);
    }
    const { micros, subMicro } = instant;
    if (!subMicro) return { kind: "time", field, op, value: micros };
    // Stored times are whole microseconds, so a finer instant lies strictly
    // between `micros` and `micros + 1`; rewrite to an exact equivalent.
    const next = micros + 1;
    const at = (o: ComparisonOperator, v: number): TimeComparison => ({
      kind: "time",
      field,
      op: o,
      value: v,
    });
    switch (op) {
      case "<":
      case ">=":
        return at(op, next);
      case "<=":
      case ">":
        return at(op, micros);
      case "=":
        return { kind: "and", operands: [at(">", micros), at("<", next)] };
      case "!=":
        return { kind: "or", operands: [at("<=", micros), at(">=", next)] };
    }
  }

  #isKeyword(token: Token, keyword: string): boolean {
    return token.type === "word" && token.text === keyword;
  }

  #startsTerm(token: Token): boolean {
    if (token.type === "(" || token.type === "-") return true;
    return token.type === "word" && token.text !== "AND" && token.text !== "OR";
  }

  #describe(token: Token): string {
    switch (token.type) {
      case "eof":
        return "the end of the filter";
      case "string":
        return "a quoted string";
      default:
        return `"${this.#text.slice(token.start, token.end)}"`;
    }
  }

  /** Converts a UTF-16 index into the code-point offset users see. */
  #offset(index: number): number {
    return countCodePoints(this.#text, index);
  }

  #fail(description: string, index: number): never {
    throw new FilterSyntaxError(description, this.#offset(index));
  }

  peek(): Token {
    this.#peeked ??= this.#lex();
    return this.#peeked;
  }

  #next(): Token {
    const token = this.peek();
    this.#peeked = undefined;
    return token;
  }

  #lex(): Token {
    const text = this.#text;
    while (this.#pos < text.length && isWhitespace(text.charAt(this.#pos))) this.#pos++;
    const start = this.#pos;
    if (start >= text.length) return { type: "eof", start, end: start };
    const c = text.charAt(start);
    const single = (type: "(" | ")" | "-"): Token => {
      this.#pos = start + 1;
      return { type, start, end: this.#pos };
    };
    const op = (value: ComparisonOperator | ":", length: number): Token => {
      this.#pos = start + length;
      return { type: "op", op: value, start, end: this.#pos };
    };
    const following = text.charAt(start + 1);
    switch (c) {
      case "(":
      case ")":
      case "-":
        return single(c);
      case ":":
      case "=":
        return op(c, 1);
      case "<":
      case ">":
        return following === "=" ? op(c === "<" ? "<=" : ">=", 2) : op(c, 1);
      case "!":
        if (following !== "=") this.#fail('expected "=" after "!"', start + 1);
        return op("!=", 2);
      case '"':
        return this.#lexString(start);
      case "\0":
        this.#fail("NUL characters are not allowed", start);
    }
    if (!isBareChar(c)) {
      const character = String.fromCodePoint(text.codePointAt(start) ?? 0);
      this.#fail(
        `unexpected character ${JSON.stringify(character)}; values with characters other than letters, digits, . _ - / must be quoted`,
        start,
      );
    }
    let end = start + 1;
    while (end < text.length && isBareChar(text.charAt(end))) end++;
    this.#pos = end;
    return { type: "word", text: text.slice(start, end), start, end };
  }

  #lexString(start: number): Token {
    const text = this.#text;
    let value = "";
    const stars: Star[] = [];
    let i = start + 1;
    for (;;) {
      if (i >= text.length) this.#fail('expected a closing " for the string that starts', start);
      const c = text.charAt(i);
      if (c === '"') break;
      if (c === "\0") this.#fail("NUL characters are not allowed", i);
      if (c === "\\") {
        const escaped = text.charAt(i + 1);
        if (escaped === "") this.#fail('expected a closing " for the string that starts', start);
        if (escaped === "\0") this.#fail("NUL characters are not allowed", i + 1);
        if (escaped !== '"' && escaped !== "\\" && escaped !== "*") {
          const shown = String.fromCodePoint(text.codePointAt(i + 1) ?? 0);
          this.#fail(`unknown escape "\\${shown}" in a string; the escapes are \\" \\\\ and \\*`, i);
        }
        value += escaped;
        i += 2;
        continue;
      }
      if (c === "*") stars.push({ index: value.length, source: i });
      value += c;
      i++;
    }
    this.#pos = i + 1;
    return { type: "string", value, stars, start, end: this.#pos };
  }
}

/** Joins operands with AND or OR, flattening nested operations of the same kind. */
function combine(kind: "and" | "or", operands: readonly FilterExpression[]): FilterExpression {
  const flat: FilterExpression[] = [];
  for (const operand of operands) {
    if (operand.kind === kind) flat.push(...operand.operands);
    else flat.push(operand);
  }
  const [only] = flat;
  return flat.length === 1 && only !== undefined ? only : { kind, operands: flat };
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 date-time as whole microseconds since the epoch, rounded down;
 * `subMicro` says whether digits beyond the microsecond were non-zero.
 * `"malformed"` when it is not RFC 3339, `"invalid"` when it names no instant.
 */
export function parseTimestamp(
  text: string,
): { micros: number; subMicro: boolean } | "malformed" | "invalid" {
  const match = TIMESTAMP.exec(text);
  if (!match) return "malformed";
  const [, y, mo, d, h, mi, s, fraction = "", , sign, oh = "0", om = "0"] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = Number(oh);
  const offsetMinutes = Number(om);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    // A leap second (:60) has no representation in Unix time or protobuf Timestamp.
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return "invalid";
  }
  const offset = (sign === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60;
  const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
  const micros = BigInt(seconds) * 1_000_000n + BigInt(fraction.slice(0, 6).padEnd(6, "0"));
  return { micros: Number(micros), subMicro: /[1-9]/.test(fraction.slice(6)) };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
