import { describe, expect, it } from "vitest";
import type { ComparisonOperator, FilterExpression } from "./ast";
import { FilterSyntaxError, parseFilter } from "./parse";

const str = (
  field: "name" | "version" | "framework",
  op: ComparisonOperator,
  value: string,
  prefix = false,
): FilterExpression => ({ kind: "string", field, op, value, prefix });
const time = (
  field: "create_time" | "update_time",
  op: ComparisonOperator,
  value: number,
): FilterExpression => ({
  kind: "time",
  field,
  op,
  value,
});
const meta = (key: string, op: ComparisonOperator, value: string, prefix = false): FilterExpression => ({
  kind: "metadata",
  key,
  op,
  value,
  prefix,
});
const tag = (t: string): FilterExpression => ({ kind: "hasTag", tag: t });
const hasKey = (key: string): FilterExpression => ({ kind: "hasMetadataKey", key });
const and = (...operands: FilterExpression[]): FilterExpression => ({ kind: "and", operands });
const or = (...operands: FilterExpression[]): FilterExpression => ({ kind: "or", operands });
const not = (operand: FilterExpression): FilterExpression => ({ kind: "not", operand });

const a = str("name", "=", "a");
const b = str("name", "=", "b");
const c = str("name", "=", "c");
const d = str("name", "=", "d");

/** 2024-01-01T00:00:00Z in microseconds. */
const JAN_2024 = Date.UTC(2024, 0, 1) * 1000;

function syntaxError(filter: string): FilterSyntaxError {
  try {
    parseFilter(filter);
  } catch (error) {
    if (error instanceof FilterSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(filter)} to be rejected`);
}

describe("parseFilter: empty filters", () => {
  it.each(["", " ", "\t\n\r  "])("returns undefined for %j", (filter) => {
    expect(parseFilter(filter)).toBeUndefined();
  });
});

describe("parseFilter: comparisons", () => {
  it.each<[string, FilterExpression]>([
    ["name = alpha", str("name", "=", "alpha")],
    ["name != alpha", str("name", "!=", "alpha")],
    ["name < alpha", str("name", "<", "alpha")],
    ["name <= alpha", str("name", "<=", "alpha")],
    ["name > alpha", str("name", ">", "alpha")],
    ["name >= alpha", str("name", ">=", "alpha")],
    ["name:alpha", str("name", "=", "alpha")],
    ["name=alpha", str("name", "=", "alpha")],
    ["name>=alpha", str("name", ">=", "alpha")],
    ["name!=alpha", str("name", "!=", "alpha")],
    ["version = 1.0.0", str("version", "=", "1.0.0")],
    ['version = "1.0.0+build.5"', str("version", "=", "1.0.0+build.5")],
    ["version:2", str("version", "=", "2")],
    ["framework = pytorch", str("framework", "=", "pytorch")],
    ['framework = ""', str("framework", "=", "")],
    ["framework:onnx", str("framework", "=", "onnx")],
    ["name = models/bert_base-v2.1", str("name", "=", "models/bert_base-v2.1")],
    ["name = 42", str("name", "=", "42")],
    ["  name\t=\n alpha  ", str("name", "=", "alpha")],
  ])("%s", (filter, expected) => {
    expect(parseFilter(filter)).toEqual(expected);
  });

  it.each<[string, FilterExpression]>([
    ["tags:prod", tag("prod")],
    ['tags:"team:vision"', tag("team:vision")],
    ["tags : cv/backbone", tag("cv/backbone")],
    ['tags:"a\\*"', tag("a*")],
    ["metadata:owner", hasKey("owner")],
    ['metadata:"mlflow.run_id"', hasKey("mlflow.run_id")],
    ["metadata:mlflow.run_id", hasKey("mlflow.run_id")],
    ["metadata.owner = ana", meta("owner", "=", "ana")],
    ['metadata.owner:"ana"', meta("owner", "=", "ana")],
    ["metadata.owner != ana", meta("owner", "!=", "ana")],
    ["metadata.epochs < 9", meta("epochs", "<", "9")],
    ["metadata.epochs <= 9", meta("epochs", "<=", "9")],
    ["metadata.epochs > 9", meta("epochs", ">", "9")],
    ["metadata.epochs >= 9", meta("epochs", ">=", "9")],
    ["metadata.Team_2 = x", meta("Team_2", "=", "x")],
    ['metadata."mlflow.run_id" = "abc"', meta("mlflow.run_id", "=", "abc")],
    ['metadata."owner/team-lead":bob', meta("owner/team-lead", "=", "bob")],
    ['metadata."" = x', meta("", "=", "x")],
    ['metadata."with \\"quote\\"" = x', meta('with "quote"', "=", "x")],
    ['metadata.note = "😀 ok"', meta("note", "=", "😀 ok")],
  ])("%s", (filter, expected) => {
    expect(parseFilter(filter)).toEqual(expected);
  });

  it.each<[string, FilterExpression]>([
    ['create_time = "2024-01-01T00:00:00Z"', time("create_time", "=", JAN_2024)],
    ['create_time != "2024-01-01T00:00:00Z"', time("create_time", "!=", JAN_2024)],
    ['create_time < "2024-01-01T00:00:00Z"', time("create_time", "<", JAN_2024)],
    ['create_time <= "2024-01-01T00:00:00Z"', time("create_time", "<=", JAN_2024)],
    ['update_time > "2024-01-01T00:00:00Z"', time("update_time", ">", JAN_2024)],
    ['update_time >= "2024-01-01T00:00:00Z"', time("update_time", ">=", JAN_2024)],
    ['create_time > "2024-01-01t00:00:00z"', time("create_time", ">", JAN_2024)],
    ['create_time > "2024-01-01T00:00:00.5Z"', time("create_time", ">", JAN_2024 + 500_000)],
    ['create_time > "2024-01-01T00:00:00.123456Z"', time("create_time", ">", JAN_2024 + 123_456)],
    ['create_time > "2024-01-01T00:00:00.000001Z"', time("create_time", ">", JAN_2024 + 1)],
    ['create_time > "2024-01-01T00:00:00.123456000Z"', time("create_time", ">", JAN_2024 + 123_456)],
    ['create_time > "2024-01-01T02:30:00+02:30"', time("create_time", ">", JAN_2024)],
    ['create_time > "2023-12-31T19:00:00-05:00"', time("create_time", ">", JAN_2024)],
    ['create_time > "2024-01-01T00:00:00+00:00"', time("create_time", ">", JAN_2024)],
    ['create_time > "1970-01-01T00:00:00Z"', time("create_time", ">", 0)],
    ['create_time > "1969-12-31T23:59:59.999999Z"', time("create_time", ">", -1)],
    ['create_time > "2024-02-29T12:00:00Z"', time("create_time", ">", Date.UTC(2024, 1, 29, 12) * 1000)],
    ['create_time > "2000-02-29T00:00:00Z"', time("create_time", ">", Date.UTC(2000, 1, 29) * 1000)],
    ['create_time > "1900-03-01T00:00:00Z"', time("create_time", ">", Date.UTC(1900, 2, 1) * 1000)],
    ['create_time > "0001-01-01T00:00:00Z"', time("create_time", ">", -62_135_596_800_000_000)],
  ])("%s", (filter, expected) => {
    expect(parseFilter(filter)).toEqual(expected);
  });

  it("keeps sub-microsecond timestamps exact, since stored times are whole microseconds", () => {
    const at = '"2024-01-01T00:00:00.0000015Z"';
    const t = JAN_2024 + 1;
    expect(parseFilter(`create_time < ${at}`)).toEqual(time("create_time", "<", t + 1));
    expect(parseFilter(`create_time <= ${at}`)).toEqual(time("create_time", "<=", t));
    expect(parseFilter(`create_time > ${at}`)).toEqual(time("create_time", ">", t));
    expect(parseFilter(`create_time >= ${at}`)).toEqual(time("create_time", ">=", t + 1));
    expect(parseFilter(`create_time = ${at}`)).toEqual(
      and(time("create_time", ">", t), time("create_time", "<", t + 1)),
    );
    expect(parseFilter(`create_time != ${at}`)).toEqual(
      or(time("create_time", "<=", t), time("create_time", ">=", t + 1)),
    );
  });

  it("agrees with Date.parse on many instants", () => {
    for (let ms = -5e12; ms < 5e12; ms += 123_456_789_012) {
      const iso = new Date(ms).toISOString();
      expect(parseFilter(`update_time = "${iso}"`), iso).toEqual(time("update_time", "=", ms * 1000));
    }
  });
});

describe("parseFilter: quoting and escapes", () => {
  it.each<[string, string]>([
    ['"hello world"', "hello world"],
    ['"with \\"quotes\\""', 'with "quotes"'],
    ['"back\\\\slash"', "back\\slash"],
    ['"star \\* inside"', "star * inside"],
    ['"literal star\\*"', "literal star*"],
    ['"AND"', "AND"],
    ['"-leading"', "-leading"],
    ['"x\' OR 1=1 --"', "x' OR 1=1 --"],
    ['"模型-😀"', "模型-😀"],
    ['"(parens) and: colons"', "(parens) and: colons"],
    ['"tab\there"', "tab\there"],
  ])("name = %s", (quoted, value) => {
    expect(parseFilter(`name = ${quoted}`)).toEqual(str("name", "=", value));
  });

  it("takes a value that ends with an escaped backslash before the closing quote", () => {
    expect(parseFilter('name = "a\\\\" AND tags:x')).toEqual(and(str("name", "=", "a\\"), tag("x")));
  });
});

describe("parseFilter: prefix matches", () => {
  it.each<[string, FilterExpression]>([
    ['name = "bert-*"', str("name", "=", "bert-", true)],
    ["name = bert*", str("name", "=", "bert", true)],
    ["name != bert*", str("name", "!=", "bert", true)],
    ["name:bert*", str("name", "=", "bert", true)],
    ['version = "1.*"', str("version", "=", "1.", true)],
    ["framework = py*", str("framework", "=", "py", true)],
    ['name = "*"', str("name", "=", "", true)],
    ["name != *", str("name", "!=", "", true)],
    ['metadata.team = "n*"', meta("team", "=", "n", true)],
    ['metadata.team != "n*"', meta("team", "!=", "n", true)],
    ['metadata."a.b":"x*"', meta("a.b", "=", "x", true)],
    ['name = "a\\**"', str("name", "=", "a*", true)],
    ['name = "a\\*"', str("name", "=", "a*")],
    ['name = "50%_*"', str("name", "=", "50%_", true)],
  ])("%s", (filter, expected) => {
    expect(parseFilter(filter)).toEqual(expected);
  });
});

describe("parseFilter: boolean operators and precedence", () => {
  it.each<[string, FilterExpression]>([
    ["name=a AND name=b", and(a, b)],
    ["name=a OR name=b", or(a, b)],
    ["NOT name=a", not(a)],
    ["-name=a", not(a)],
    ["- name=a", not(a)],
    ["NOT NOT name=a", not(not(a))],
    ["--name=a", not(not(a))],
    ["NOT(name=a)", not(a)],
    ["-(name=a OR name=b)", not(or(a, b))],
    // OR binds tighter than AND (AIP-160).
    ["name=a AND name=b OR name=c", and(a, or(b, c))],
    ["name=a OR name=b AND name=c", and(or(a, b), c)],
    ["name=a OR name=b AND name=c OR name=d", and(or(a, b), or(c, d))],
    ["(name=a AND name=b) OR name=c", or(and(a, b), c)],
    // NOT binds tightest.
    ["NOT name=a OR name=b", or(not(a), b)],
    ["NOT name=a AND name=b", and(not(a), b)],
    ["-name=a name=b", and(not(a), b)],
    // Juxtaposition is an implicit AND, looser than OR, tighter than AND.
    ["name=a name=b", and(a, b)],
    ["name=a name=b OR name=c", and(a, or(b, c))],
    ["name=a OR name=b name=c", and(or(a, b), c)],
    ["name=a AND name=b name=c", and(a, b, c)],
    ["name=a name=b AND name=c name=d", and(a, b, c, d)],
    ["(name=a)(name=b)", and(a, b)],
    ["name=a (name=b OR name=c)", and(a, or(b, c))],
    // Nested operations of the same kind are flattened.
    ["name=a AND (name=b AND name=c) AND name=d", and(a, b, c, d)],
    ["(name=a OR name=b) OR (name=c OR name=d)", or(a, b, c, d)],
    ["((((name=a))))", a],
    ["(name=a AND name=b) OR (name=c AND name=d)", or(and(a, b), and(c, d))],
    ["NOT (name=a AND name=b)", not(and(a, b))],
    // Values that look like operators only when quoted.
    ['name="AND" OR name="OR"', or(str("name", "=", "AND"), str("name", "=", "OR"))],
    [
      'framework = "pytorch" AND tags:production AND create_time > "2024-01-01T00:00:00Z"',
      and(str("framework", "=", "pytorch"), tag("production"), time("create_time", ">", JAN_2024)),
    ],
  ])("%s", (filter, expected) => {
    expect(parseFilter(filter)).toEqual(expected);
  });
});

describe("parseFilter: errors name what was expected and where", () => {
  it.each<[filter: string, position: number, message: string]>([
    // Values
    ["name =", 6, 'filter: expected a value after "=" at position 6'],
    ["name = AND tags:x", 7, 'expected a value after "="; quote "AND" to use it as a value'],
    ["name = -x", 7, 'expected a value after "="; quote a value that starts with "-"'],
    ["name = (x)", 7, 'expected a value after "="'],
    ["name = = x", 7, 'expected a value after "="'],
    ["name = 😀", 7, 'unexpected character "😀"; values with characters other than letters, digits'],
    ["name = a+b", 8, 'unexpected character "+"'],
    ["name = 'x'", 7, 'unexpected character "\'"'],
    // Comparators
    ["name", 4, 'expected a comparator (= != < <= > >= or :) after "name", not the end of the filter'],
    ["name alpha", 5, 'expected a comparator (= != < <= > >= or :) after "name", not "alpha"'],
    ["name ! alpha", 6, 'expected "=" after "!"'],
    ["name == alpha", 6, 'expected a value after "="'],
    ["name =< alpha", 6, 'expected a value after "="'],
    ['metadata.team "x"', 14, 'after "metadata.team", not a quoted string'],
    // Fields
    ["foo = 1", 0, 'unknown field "foo"; the fields are name, version, framework, tags, metadata.KEY'],
    ["name = a OR Name = b", 12, 'unknown field "Name"'],
    ["id = x", 0, 'unknown field "id"'],
    ["description:x", 0, 'unknown field "description"'],
    ["tags.x = 1", 0, 'unknown field "tags.x"'],
    ["name = a and name = b", 9, '"and" is not a field; write the operators AND, OR and NOT in uppercase'],
    ["name = a or name = b", 9, '"or" is not a field'],
    ['"name" = a', 0, 'expected a field name, "(", NOT or "-", not a quoted string'],
    ["= a", 0, 'expected a field name, "(", NOT or "-", not "="'],
    ["AND name = a", 0, 'expected a field name, "(", NOT or "-", not "AND"'],
    ["OR", 0, 'not "OR"'],
    // metadata
    ["metadata.mlflow.run_id = x", 9, 'metadata key "mlflow.run_id" must be quoted'],
    ["metadata.a-b = x", 9, 'as in metadata."a-b"'],
    ["metadata.a/b = x", 9, 'metadata key "a/b" must be quoted'],
    ["metadata.k* = x", 9, 'metadata key "k*" must be quoted'],
    ['metadata. "x" = 1', 9, 'expected a metadata key right after "metadata."'],
    ["metadata. = 1", 9, 'expected a metadata key right after "metadata."'],
    ["metadata = x", 9, "metadata needs a key; use metadata:KEY or metadata.KEY = VALUE"],
    ["metadata < x", 9, "metadata.KEY < VALUE"],
    ['metadata."k*" = x', 11, '"*" cannot be used in a metadata key'],
    ["metadata:k*", 10, '"*" cannot be used in a metadata key'],
    // tags
    ["tags = prod", 5, 'tags cannot be compared with "="; use tags:VALUE'],
    ["tags != prod", 5, 'tags cannot be compared with "!="; use tags:VALUE'],
    ["tags < prod", 5, 'tags cannot be compared with "<"'],
    ["tags >= prod", 5, 'tags cannot be compared with ">="'],
    ["tags:pro*", 8, '"*" cannot be used in a tag; write \\* in a quoted string for a literal "*"'],
    ["tags:*", 5, '"*" cannot be used in a tag'],
    // Prefix matches
    ["name = a*b", 8, '"*" is only allowed at the end of a value, for a prefix match'],
    ['name = "*a"', 8, '"*" is only allowed at the end of a value'],
    ["name = a**", 8, '"*" is only allowed at the end of a value'],
    ["name < a*", 8, 'a "*" prefix match needs = or !=, not "<"'],
    ['metadata.k >= "v*"', 16, 'a "*" prefix match needs = or !=, not ">="'],
    // Times
    [
      'create_time:"2024-01-01T00:00:00Z"',
      11,
      'create_time cannot be used with ":"; compare it with = != < <= > or >=',
    ],
    ["update_time:x", 11, "update_time cannot be used"],
    [
      'create_time > "2024-01-01"',
      14,
      'expected an RFC 3339 timestamp such as "2024-01-01T00:00:00Z" after ">"',
    ],
    ["create_time > 2024-01-01", 14, '(quote it: timestamps contain ":")'],
    ["create_time > 2024-01-01T00:00:00Z", 14, "expected an RFC 3339 timestamp"],
    ['create_time > "2024-01-01 00:00:00Z"', 14, "expected an RFC 3339 timestamp"],
    ['create_time > "2024-01-01T00:00:00"', 14, "expected an RFC 3339 timestamp"],
    ['create_time > "2024-01-01T00:00:00.Z"', 14, "expected an RFC 3339 timestamp"],
    ['create_time > "2024-1-01T00:00:00Z"', 14, "expected an RFC 3339 timestamp"],
    ['create_time > "2024-01-01T00:00:00+0100"', 14, "expected an RFC 3339 timestamp"],
    ['create_time > "2024-01-01T00:00:00Z*"', 14, "expected an RFC 3339 timestamp"],
    ['create_time > "yesterday"', 14, "expected an RFC 3339 timestamp"],
    [
      'create_time > "2024-02-30T00:00:00Z"',
      14,
      'timestamp "2024-02-30T00:00:00Z" is not a valid date and time',
    ],
    ['create_time > "2023-02-29T00:00:00Z"', 14, "is not a valid date and time"],
    ['create_time > "1900-02-29T00:00:00Z"', 14, "is not a valid date and time"],
    ['create_time > "2024-13-01T00:00:00Z"', 14, "is not a valid date and time"],
    ['create_time > "2024-00-01T00:00:00Z"', 14, "is not a valid date and time"],
    ['create_time > "2024-04-31T00:00:00Z"', 14, "is not a valid date and time"],
    ['create_time > "2024-01-00T00:00:00Z"', 14, "is not a valid date and time"],
    ['create_time > "2024-01-01T24:00:00Z"', 14, "is not a valid date and time"],
    ['create_time > "2024-01-01T00:60:00Z"', 14, "is not a valid date and time"],
    ['create_time > "2016-12-31T23:59:60Z"', 14, "is not a valid date and time"],
    ['create_time > "2024-01-01T00:00:00+24:00"', 14, "is not a valid date and time"],
    ['create_time > "2024-01-01T00:00:00+01:60"', 14, "is not a valid date and time"],
    ['tags:x create_time <= "bad"', 22, 'after "<="'],
    // Strings and escapes
    ['name = "abc', 7, 'expected a closing " for the string that starts at position 7'],
    ['name = "abc\\"', 7, 'expected a closing " for the string that starts'],
    ['name = "abc\\', 7, 'expected a closing " for the string that starts'],
    ['name = "a\\nb"', 9, 'unknown escape "\\n" in a string; the escapes are \\" \\\\ and \\*'],
    ['name = "a\\\'"', 9, 'unknown escape "\\\'"'],
    // Structure
    ["(name = a", 9, 'expected ")" to match the "(" at position 0, not the end of the filter at position 9'],
    ["((name = a) OR name = b", 23, 'expected ")" to match the "(" at position 0'],
    ["(name = a name", 14, "expected a comparator"],
    ["name = a)", 8, 'unexpected ")" with no matching "("'],
    ["()", 1, 'expected a field name, "(", NOT or "-", not ")"'],
    ["name = a AND", 12, 'expected a field name, "(", NOT or "-", not the end of the filter'],
    ["name = a OR", 11, "not the end of the filter"],
    ["name = a AND OR name = b", 13, 'not "OR"'],
    ["NOT", 3, "not the end of the filter"],
    ["-", 1, "not the end of the filter"],
    ["name = a -", 10, "not the end of the filter"],
    ["name = 1 = 2", 9, 'expected AND, OR, another restriction or the end of the filter, not "="'],
    [
      'name = 1 "x"',
      9,
      "expected AND, OR, another restriction or the end of the filter, not a quoted string",
    ],
    // Positions count characters (code points), not UTF-16 units.
    ['name = "😀😀" AND tags=x', 20, 'tags cannot be compared with "="'],
    ['metadata.k = "𝄞" tags:*', 22, '"*" cannot be used in a tag'],
    // NUL characters, anywhere
    ["name = a\0", 8, "NUL characters are not allowed"],
    ['name = "a\0"', 9, "NUL characters are not allowed"],
    ['name = "a\\\0"', 10, "NUL characters are not allowed"],
    ["\0", 0, "NUL characters are not allowed"],
  ])("%j at %i", (filter, position, message) => {
    const error = syntaxError(filter);
    expect(error).toBeInstanceOf(FilterSyntaxError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("FilterSyntaxError");
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
    expect(error.message).toMatch(/^filter: .* at position \d+$/s);
    expect(error.message.endsWith(` at position ${position}`)).toBe(true);
  });

  it("reports the leftmost error", () => {
    expect(syntaxError('name = = "unterminated').position).toBe(7);
    expect(syntaxError('foo = "unterminated').position).toBe(0);
  });
});

describe("parseFilter: limits", () => {
  const restriction = "name=a ";

  it("accepts a filter of exactly 2000 characters and rejects 2001", () => {
    const base = "name = ";
    expect(parseFilter(`${base}"${"x".repeat(2000 - base.length - 2)}"`)).toEqual(
      str("name", "=", "x".repeat(2000 - base.length - 2)),
    );
    const error = syntaxError(`${base}"${"x".repeat(2001 - base.length - 2)}"`);
    expect(error.position).toBe(2000);
    expect(error.message).toBe("filter: is longer than 2000 characters (it has 2001) at position 2000");
  });

  it("rejects a megabyte filter at the limit, without reading it", () => {
    const error = syntaxError(`name = "${"😀".repeat(500_000)}"`);
    expect(error.position).toBe(2000);
    expect(error.message).toContain("(it has 500009)");
  });

  it("counts the length in characters: 2000 emoji fit", () => {
    const emoji = "😀".repeat(1990);
    expect(parseFilter(`name = "${emoji}"`)).toEqual(str("name", "=", emoji));
    expect(syntaxError(`name = "${emoji}😀😀"`).message).toContain("(it has 2001)");
  });

  it("accepts 100 comparisons and rejects the 101st, at its position", () => {
    const hundred = parseFilter(restriction.repeat(100));
    expect(hundred).toEqual(and(...Array.from({ length: 100 }, () => a)));
    const error = syntaxError(restriction.repeat(101));
    expect(error.position).toBe(700);
    expect(error.message).toBe("filter: has more than 100 comparisons, the limit at position 700");
  });

  it("counts every kind of restriction towards the limit", () => {
    const mixed = ["tags:x", "metadata:k", "metadata.k=v", 'create_time>"2024-01-01T00:00:00Z"', "name=a"];
    const text = Array.from({ length: 101 }, (_, i) => mixed[i % mixed.length]).join(" OR ");
    expect(syntaxError(text).message).toContain("more than 100 comparisons");
  });

  it("accepts 32 levels of parentheses and rejects 33", () => {
    expect(parseFilter(`${"(".repeat(32)}name=a${")".repeat(32)}`)).toEqual(a);
    const error = syntaxError(`${"(".repeat(33)}name=a${")".repeat(33)}`);
    expect(error.position).toBe(32);
    expect(error.message).toBe(
      "filter: parentheses and NOT are nested more than 32 levels deep at position 32",
    );
  });

  it("counts NOT and - towards the depth", () => {
    expect(parseFilter(`${"NOT ".repeat(32)}name=a`)).toBeDefined();
    expect(syntaxError(`${"NOT ".repeat(33)}name=a`).position).toBe(128);
    expect(syntaxError(`${"-(".repeat(17)}name=a${")".repeat(17)}`).position).toBe(32);
  });

  it("measures depth, not the number of parentheses", () => {
    const siblings = Array.from({ length: 60 }, () => "(name=a)").join(" OR ");
    expect(parseFilter(siblings)).toEqual(or(...Array.from({ length: 60 }, () => a)));
  });
});

describe("parseFilter: artifact digest and lineage", () => {
  const digest = `sha256:${"ab".repeat(32)}`;
  it.each<[string, FilterExpression]>([
    [
      `artifact_digest = "${digest}"`,
      { kind: "string", field: "artifact_digest", op: "=", value: digest, prefix: false },
    ],
    [
      'artifact_digest != ""',
      { kind: "string", field: "artifact_digest", op: "!=", value: "", prefix: false },
    ],
    [
      'lineage.run_uri = "mlflow://runs/*"',
      { kind: "string", field: "lineage.run_uri", op: "=", value: "mlflow://runs/", prefix: true },
    ],
    [
      "lineage.code_revision >= v1.2",
      { kind: "string", field: "lineage.code_revision", op: ">=", value: "v1.2", prefix: false },
    ],
    [
      'lineage.dataset_uris:"s3://bucket/train-2026-11"',
      { kind: "hasLineage", field: "dataset_uris", value: "s3://bucket/train-2026-11" },
    ],
    ["lineage.parent_model_ids:abc-123", { kind: "hasLineage", field: "parent_model_ids", value: "abc-123" }],
  ])("parses %s", (filter, expected) => {
    expect(parseFilter(filter)).toEqual(expected);
  });

  it.each<[string, string]>([
    [
      'lineage.dataset_uris = "s3://x"',
      'lineage.dataset_uris is a list and cannot be compared with "="; use lineage.dataset_uris:"VALUE" at position 21',
    ],
    [
      'lineage.parent_model_ids:"a*"',
      '"*" cannot be used in a lineage.parent_model_ids value; write \\* in a quoted string for a literal "*" at position 27',
    ],
    [
      'lineage.owner = "x"',
      'unknown field "lineage.owner"; the fields are name, version, framework, tags, metadata.KEY, create_time, update_time, artifact_digest, lineage.run_uri, lineage.code_revision, lineage.dataset_uris, lineage.parent_model_ids at position 0',
    ],
  ])("rejects %s", (filter, description) => {
    expect(syntaxError(filter).description).toBe(description);
  });
});
