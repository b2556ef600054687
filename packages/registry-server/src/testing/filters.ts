import { checkFilterCases, type FilterCase, f } from "./filter-cases";
import { ALL, except, type FixtureRows, insertFixture, MAIN_ROWS, T0 } from "./fixtures";
import type { TestFn } from "./harness";

/** Registers the tests of `list` filters: every kind of `FilterExpression`, compared exactly (rule 5). */
export function defineFilterTests(test: TestFn): void {
  defineComparisonFilterTests(test);
  defineMetadataAndTagFilterTests(test);
  defineBooleanFilterTests(test);
  defineExactStringFilterTests(test);
}

/** Comparisons of the string and time fields, with every operator and prefixes. */
function defineComparisonFilterTests(test: TestFn): void {
  filterTest(test, "string comparisons of name, version and framework with every operator", [
    [f.str("name", "=", "alpha"), ["a1", "a2"]],
    [f.str("name", "!=", "alpha"), except("a1", "a2")],
    [f.str("name", "<", "beta"), ["a1", "a2"]],
    [f.str("name", "<=", "beta"), ["a1", "a2", "beta"]],
    [f.str("name", ">", "res_net"), ["zeta"]],
    [f.str("name", ">=", "res_net"), ["resnet", "zeta"]],
    [f.str("name", ">=", "m"), ["eclair", "omega", "resx", "resnet", "zeta"]],
    [f.str("name", "=", "alph"), []],
    [f.str("version", "=", "1.0.0"), ["a1", "resnet", "resx", "omega", "zeta"]],
    [f.str("version", ">", "2"), ["a2", "delta"]],
    [f.str("version", "<", "1.0.0"), ["beta"]],
    [f.str("version", "<=", "1.0.0"), ["beta", "a1", "resnet", "resx", "omega", "zeta"]],
    [f.str("framework", "=", ""), ["gamma"]],
    [f.str("framework", ">", ""), except("gamma")],
    [f.str("framework", "!=", "pytorch"), ["beta", "resx", "gamma", "eclair", "omega", "delta"]],
    [f.str("framework", ">=", "sklearn"), ["beta", "delta"]],
  ]);

  filterTest(test, "prefix matches with = and != (wildcard characters in the prefix are literal)", [
    [f.prefix("name", "=", "al"), ["a1", "a2"]],
    [f.prefix("name", "=", "alpha"), ["a1", "a2"]],
    [f.prefix("name", "=", "res"), ["resnet", "resx"]],
    [f.prefix("name", "=", "res_"), ["resnet"]],
    [f.prefix("name", "!=", "res_"), except("resnet")],
    [f.prefix("name", "=", "models/"), ["eclair"]],
    [f.prefix("name", "=", "%"), []],
    [f.prefix("name", "=", "_"), []],
    [f.prefix("name", "=", "Al"), []],
    [f.prefix("name", "=", "alphabet"), []],
    [f.prefix("version", "=", "1."), ["a1", "resnet", "resx", "eclair", "omega", "zeta"]],
    [f.prefix("version", "=", "1.0.0+"), ["eclair"]],
    [f.prefix("framework", "=", "py"), ["a1", "a2", "resnet", "zeta"]],
    [f.prefix("framework", "!=", "py"), ["beta", "resx", "gamma", "eclair", "omega", "delta"]],
  ]);

  filterTest(
    test,
    "time comparisons of create_time and update_time with every operator, to the microsecond",
    [
      [f.time("create_time", "=", T0 + 60), ["omega", "zeta"]],
      [f.time("create_time", "!=", T0 + 60), except("omega", "zeta")],
      [f.time("create_time", "<", T0 + 10), ["a1", "a2"]],
      [f.time("create_time", "<=", T0 + 10), ["a1", "a2", "beta"]],
      [f.time("create_time", ">", T0 + 60), ["delta"]],
      [f.time("create_time", ">=", T0 + 60), ["omega", "zeta", "delta"]],
      [f.time("create_time", "=", T0 + 1), ["a2"]],
      [f.time("create_time", "<", T0 + 1), ["a1"]],
      [f.time("update_time", ">", T0 + 100), ["resnet", "zeta"]],
      [f.time("update_time", ">=", T0 + 100), ["a1", "resnet", "zeta"]],
      [f.time("update_time", "=", T0 + 50), ["a2", "eclair"]],
      [f.time("update_time", "!=", T0 + 50), except("a2", "eclair")],
      [f.time("update_time", "<=", T0 + 30), ["beta", "resx"]],
      [f.time("update_time", "<", T0 + 10), []],
    ],
  );
}

/** Comparisons of metadata values, and tag and metadata key matches. */
function defineMetadataAndTagFilterTests(test: TestFn): void {
  filterTest(test, "metadata comparisons: an absent key never matches, NOT of it does", [
    [f.meta("team", "=", "cv"), ["a1", "a2", "resnet", "delta"]],
    [f.meta("team", "!=", "cv"), ["beta", "omega", "zeta"]],
    [f.not(f.meta("team", "=", "cv")), ["beta", "resx", "gamma", "eclair", "omega", "zeta"]],
    [f.not(f.meta("team", "!=", "cv")), ["a1", "a2", "resnet", "delta", "resx", "gamma", "eclair"]],
    [f.meta("team", ">", "nlp"), ["omega"]],
    [f.meta("team", "<", "nlp"), ["a1", "a2", "resnet", "delta"]],
    [f.meta("team", ">=", "nlp"), ["beta", "zeta", "omega"]],
    [f.meta("team", "<=", "cv"), ["a1", "a2", "resnet", "delta"]],
    [f.meta("stage", "=", ""), ["beta"]],
    [f.meta("stage", "!=", "prod"), ["beta", "resx", "delta"]],
    [f.meta("stage", "<", "prod"), ["beta", "delta"]],
    [f.meta("stage", ">", "prod"), ["resx"]],
    [f.meta("stage", ">=", "prod"), ["a1", "resx", "zeta"]],
    [f.metaPrefix("team", "=", "n"), ["beta", "zeta"]],
    [f.metaPrefix("team", "!=", "n"), ["a1", "a2", "resnet", "omega", "delta"]],
    [f.not(f.metaPrefix("team", "=", "n")), except("beta", "zeta")],
    [f.meta("owner.email", "=", "zoë@example.com"), ["resnet"]],
    [f.metaPrefix("owner.email", "=", "zo"), ["resnet"]],
    [f.meta("owner", "=", "z"), ["zeta"]],
    [f.meta("note", "=", "😀 ok"), ["gamma"]],
    [f.metaPrefix("note", "=", "😀"), ["gamma"]],
    [f.meta("team", "=", "😀"), ["omega"]],
    [f.meta("missing", "=", ""), []],
    [f.meta("missing", "!=", "x"), []],
    [f.meta("missing", "<", "zzz"), []],
    [f.not(f.meta("missing", "=", "x")), ALL],
  ]);

  filterTest(test, "hasTag matches a whole tag, exactly", [
    [f.tag("prod"), ["a1", "beta", "omega", "zeta"]],
    [f.tag("vision"), ["a1", "a2", "zeta", "delta"]],
    [f.tag("cv/backbone"), ["resnet"]],
    [f.tag("Prod"), []],
    [f.tag("pro"), []],
    [f.tag("prod "), []],
    [f.tag("%"), []],
    [f.not(f.tag("prod")), except("a1", "beta", "omega", "zeta")],
  ]);

  filterTest(test, "hasMetadataKey matches a whole key, exactly (dots are not paths)", [
    [f.hasKey("team"), except("resx", "gamma", "eclair")],
    [f.hasKey("stage"), ["a1", "beta", "resx", "zeta", "delta"]],
    [f.hasKey("owner.email"), ["resnet"]],
    [f.hasKey("owner"), ["zeta"]],
    [f.hasKey("tea"), []],
    [f.hasKey("Team"), []],
    [f.not(f.hasKey("team")), ["resx", "gamma", "eclair"]],
  ]);
}

/** `and`, `or` and `not`, nested. */
function defineBooleanFilterTests(test: TestFn): void {
  filterTest(test, "and, or and not, nested", [
    [f.and(f.tag("prod"), f.str("framework", "=", "pytorch")), ["a1", "zeta"]],
    [f.or(f.str("name", "=", "beta"), f.tag("experimental")), ["beta", "gamma"]],
    [f.not(f.or(f.tag("prod"), f.tag("vision"))), ["resnet", "resx", "gamma", "eclair"]],
    [
      f.and(f.or(f.str("framework", "=", "jax"), f.str("framework", "=", "onnx")), f.not(f.hasKey("team"))),
      ["resx", "eclair"],
    ],
    [
      f.or(
        f.and(f.prefix("name", "=", "al"), f.str("version", "=", "2.0.0")),
        f.and(f.time("create_time", ">=", T0 + 60), f.not(f.tag("prod"))),
      ),
      ["a2", "delta"],
    ],
    [f.not(f.not(f.tag("vision"))), ["a1", "a2", "zeta", "delta"]],
    [f.and(f.tag("staging")), ["resx", "zeta"]],
    [f.or(f.tag("staging")), ["resx", "zeta"]],
    [
      f.or(f.meta("team", "=", "cv"), f.meta("stage", "=", "staging")),
      ["a1", "a2", "resnet", "delta", "resx"],
    ],
    [f.not(f.and(f.tag("prod"), f.not(f.meta("team", "=", "nlp")))), except("a1", "omega")],
    [
      f.and(
        f.or(f.tag("prod"), f.tag("staging")),
        f.or(f.meta("stage", "=", "prod"), f.time("update_time", "<", T0 + 50)),
      ),
      ["a1", "beta", "resx", "zeta"],
    ],
    [f.and(f.tag("prod"), f.tag("vision"), f.tag("staging")), ["zeta"]],
    [f.or(f.tag("nope"), f.hasKey("nope"), f.str("name", "=", "nope")), []],
  ]);
}

/** String matches are case-sensitive, unpadded and by code point. */
function defineExactStringFilterTests(test: TestFn): void {
  const caseRows: FixtureRows = [
    ["lower", { name: "alpha", tags: ["prod"], metadata: { team: "x", Team: "X" } }],
    ["title", { name: "Alpha", tags: ["Prod"], metadata: { team: "X" } }],
    ["upper", { name: "ALPHA", tags: ["PROD"], metadata: { team: "x " } }],
  ];
  test("string matching is case-sensitive and exact (no case folding, no space padding)", async (adapter) => {
    const fixture = await insertFixture(adapter, caseRows);
    await checkFilterCases(adapter, fixture, [
      [f.str("name", "=", "alpha"), ["lower"]],
      [f.str("name", "=", "ALPHA"), ["upper"]],
      [f.str("name", "!=", "alpha"), ["title", "upper"]],
      [f.str("name", "<", "a"), ["title", "upper"]],
      [f.str("name", ">", "Alpha"), ["lower"]],
      [f.prefix("name", "=", "al"), ["lower"]],
      [f.prefix("name", "=", "AL"), ["upper"]],
      [f.prefix("name", "!=", "Al"), ["lower", "upper"]],
      [f.tag("prod"), ["lower"]],
      [f.tag("Prod"), ["title"]],
      [f.hasKey("Team"), ["lower"]],
      [f.meta("team", "=", "x"), ["lower"]],
      [f.meta("team", "=", "X"), ["title"]],
      [f.meta("team", "=", "x "), ["upper"]],
      [f.metaPrefix("team", "=", "x"), ["lower", "upper"]],
      [f.meta("Team", "=", "x"), []],
    ]);
  });

  test("string comparisons go by code point, as UTF-8 bytes do (rule 5)", async (adapter) => {
    // Code point order puts U+FB01 before U+1F600; JavaScript's UTF-16 `<` would put the surrogate 0xD83D first.
    const fixture = await insertFixture(adapter, [
      ["ascii", { metadata: { k: "z" } }],
      ["latin", { metadata: { k: "é" } }],
      ["emoji", { metadata: { k: "😀" } }],
      ["ligature", { metadata: { k: "\uFB01" } }],
      ["fullwidth", { metadata: { k: "\uFF21" } }],
    ]);
    await checkFilterCases(adapter, fixture, [
      [f.meta("k", "<", "\uFB01"), ["ascii", "latin"]],
      [f.meta("k", ">=", "😀"), ["emoji"]],
      [f.meta("k", ">", "\uE000"), ["emoji", "ligature", "fullwidth"]],
      [f.meta("k", "<=", "😀"), ["ascii", "latin", "emoji", "ligature", "fullwidth"]],
    ]);
  });
}

/** Registers a test of `cases` against the {@link MAIN_ROWS} fixture. */
function filterTest(test: TestFn, name: string, cases: readonly FilterCase[]): void {
  test(name, async (adapter) => {
    const fixture = await insertFixture(adapter, MAIN_ROWS);
    await checkFilterCases(adapter, fixture, cases);
  });
}
