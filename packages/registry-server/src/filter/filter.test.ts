import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptyLineage, type ModelRecord } from "../storage/adapter";
import { lineageHash } from "../storage/sql/lineage-hash";
import type { RegistryDatabase } from "../storage/sql/schema";
import type { ComparisonOperator, FilterExpression } from "./ast";
import { evaluateFilter } from "./evaluate";
import { parseFilter } from "./parse";
import { compileFilter } from "./sql";

/** 2024-01-01T00:00:00Z in microseconds. */
const T = Date.UTC(2024, 0, 1) * 1000;
const DAY = 86_400_000_000;

type Row = Pick<ModelRecord, "id" | "name" | "version" | "framework" | "tags" | "metadata" | "createTime"> &
  Partial<ModelRecord>;

const rows: readonly Row[] = [
  {
    id: "m01",
    name: "alpha",
    version: "1.0.0",
    framework: "pytorch",
    tags: ["prod", "vision"],
    metadata: { team: "cv", stage: "prod", "mlflow.run_id": "abc123" },
    createTime: T,
    updateTime: T + 100,
  },
  {
    id: "m02",
    name: "alpha",
    version: "2.0.0",
    framework: "pytorch",
    tags: ["vision"],
    metadata: { team: "cv" },
    createTime: T + 1,
    updateTime: T + 50,
  },
  {
    id: "m03",
    name: "beta",
    version: "0.1.0",
    framework: "sklearn",
    tags: ["prod"],
    metadata: { team: "nlp", stage: "" },
    createTime: T + 10,
  },
  {
    id: "m04",
    name: "bert-base",
    version: "1.0.0",
    framework: "pytorch",
    tags: ["prod", "team:nlp"],
    metadata: { team: "nlp", "owner/email": "zoë@example.com" },
    createTime: T + DAY,
    artifactDigest: "sha256:abababababababababababababababababababababababababababababababab",
    lineage: {
      runUri: "mlflow://runs/1",
      codeRevision: "v1.0",
      datasetUris: ["s3://b/eval", "s3://b/train"],
      parentModelIds: ["m01"],
    },
  },
  {
    id: "m05",
    name: "bert-large",
    version: "1.1.0",
    framework: "tensorflow",
    tags: ["staging"],
    metadata: { stage: "staging", note: "😀 ok" },
    createTime: T + 2 * DAY,
    artifactDigest: "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
    lineage: {
      runUri: "https://wandb.ai/t/p/runs/a",
      codeRevision: "abc123",
      datasetUris: ["s3://b/train", "s3://b/😀"],
      parentModelIds: ["m01", "m04"],
    },
  },
  {
    id: "m06",
    name: "res_net",
    version: "1.0.0+build.5",
    framework: "onnx",
    tags: [],
    metadata: {},
    createTime: T + 3 * DAY,
    updateTime: T + 3 * DAY + 1,
  },
  {
    id: "m07",
    name: "resXnet",
    version: "10.0.0",
    framework: "",
    tags: ["experimental"],
    metadata: { epochs: "90", note: "Ünïcödé" },
    createTime: T + 3 * DAY,
  },
  {
    id: "m08",
    name: "models/eclair",
    version: "1.0.0",
    framework: "jax",
    tags: ["cv/backbone"],
    metadata: { team: "😀", "x' OR 1=1 --": "y" },
    createTime: -1_000_000,
  },
  {
    id: "m09",
    name: "omega",
    version: "1.0.0",
    framework: "jax",
    tags: ["prod", "staging", "vision"],
    metadata: { team: "nlp", stage: "prod", owner: "z" },
    createTime: T + 4 * DAY,
    updateTime: T + 10 * DAY,
  },
  {
    id: "m10",
    name: "zeta",
    version: "2.0.0",
    framework: "tensorflow",
    tags: ["vision"],
    metadata: { team: "cv", stage: "dev", "a.b": "x*y" },
    createTime: T + 5 * DAY,
  },
  {
    id: "m11",
    name: "ALPHA",
    version: "1.0.0",
    framework: "PyTorch",
    tags: ["Prod"],
    metadata: { Team: "CV", edge: "a\uE000" },
    createTime: T + 6 * DAY,
  },
  {
    id: "m12",
    name: "delta",
    version: "3.0.0",
    framework: "jax",
    tags: ["prod"],
    metadata: { edge: "a\uD7FF", note: "a😀" },
    createTime: T + 7 * DAY,
  },
  {
    id: "m13",
    name: "50%_off",
    version: "1",
    framework: "x",
    tags: ["%"],
    metadata: { "%": "_" },
    createTime: T + 8 * DAY,
  },
];

const records: readonly ModelRecord[] = rows.map((row) => ({
  description: "",
  artifactUri: "s3://bucket/model",
  artifactDigest: "",
  lineage: emptyLineage,
  revision: 1,
  updateTime: row.createTime,
  ...row,
}));
const allIds = records.map((r) => r.id);

let db: Kysely<RegistryDatabase>;

beforeAll(async () => {
  const database = new Database(":memory:");
  database.exec(`
    CREATE TABLE models (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, framework TEXT NOT NULL,
      description TEXT NOT NULL, artifact_uri TEXT NOT NULL, revision INTEGER NOT NULL,
      create_time INTEGER NOT NULL, update_time INTEGER NOT NULL, request_id TEXT,
      artifact_digest TEXT NOT NULL, lineage_run_uri TEXT NOT NULL, lineage_code_revision TEXT NOT NULL
    );
    CREATE TABLE model_lineage (model_id TEXT NOT NULL, kind TEXT NOT NULL, value_hash TEXT NOT NULL, value TEXT NOT NULL);
    CREATE TABLE model_tags (model_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (model_id, tag));
    CREATE TABLE model_metadata (model_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (model_id, key));
  `);
  db = new Kysely<RegistryDatabase>({ dialect: new SqliteDialect({ database }) });
  for (const r of records) {
    await db
      .insertInto("models")
      .values({
        id: r.id,
        name: r.name,
        version: r.version,
        framework: r.framework,
        description: r.description,
        artifact_uri: r.artifactUri,
        revision: r.revision,
        create_time: r.createTime,
        update_time: r.updateTime,
        request_id: null,
        artifact_digest: r.artifactDigest,
        lineage_run_uri: r.lineage.runUri,
        lineage_code_revision: r.lineage.codeRevision,
      })
      .execute();
    const lists = [
      ...r.lineage.datasetUris.map((value) => ({ kind: "dataset" as const, value })),
      ...r.lineage.parentModelIds.map((value) => ({ kind: "parent" as const, value })),
    ];
    for (const { kind, value } of lists) {
      await db
        .insertInto("model_lineage")
        .values({ model_id: r.id, kind, value, value_hash: lineageHash(value) })
        .execute();
    }
    for (const tag of r.tags) await db.insertInto("model_tags").values({ model_id: r.id, tag }).execute();
    for (const [key, value] of Object.entries(r.metadata)) {
      await db.insertInto("model_metadata").values({ model_id: r.id, key, value }).execute();
    }
  }
});

afterAll(() => db.destroy());

async function sqlIds(filter: FilterExpression): Promise<string[]> {
  const rows = await db.selectFrom("models").select("id").where(compileFilter(filter)).execute();
  return rows.map((r) => r.id).sort();
}

function memoryIds(filter: FilterExpression): string[] {
  return records
    .filter((r) => evaluateFilter(filter, r))
    .map((r) => r.id)
    .sort();
}

function parsed(text: string): FilterExpression {
  const filter = parseFilter(text);
  if (filter === undefined) throw new Error(`${JSON.stringify(text)} parsed to nothing`);
  return filter;
}

const except = (...ids: string[]) => allIds.filter((id) => !ids.includes(id));

/** Filters with the ids they must select; `undefined` only checks that SQL and memory agree. */
const cases: [filter: string, expected?: readonly string[]][] = [
  ["name = alpha", ["m01", "m02"]],
  ["name != alpha", except("m01", "m02")],
  ["name < beta", ["m01", "m02", "m04", "m05", "m11", "m13"]],
  ["name <= beta"],
  ["name > res_net", ["m10"]],
  ['name >= "res_net"'],
  ['name = "bert-*"', ["m04", "m05"]],
  ["name != bert*"],
  ["name = al*", ["m01", "m02"]],
  ["name:AL*", ["m11"]],
  ['name = "50%_*"', ["m13"]],
  ['name = "5%*"', []],
  ['name = "_*"', []],
  ['name = "*"', allIds],
  ['name != "*"', []],
  ['name = "x\' OR 1=1 --"', []],
  ["version = 1.0.0", ["m01", "m04", "m08", "m09", "m11"]],
  ["version > 2"],
  ['version = "1.0.0+*"', ["m06"]],
  ['version = "1.*" AND -version = "1.0.*"'],
  ['framework = ""', ["m07"]],
  ['framework > ""'],
  ["framework:py*", ["m01", "m02", "m04"]],
  ["tags:prod", ["m01", "m03", "m04", "m09", "m12"]],
  ['tags:"team:nlp"', ["m04"]],
  ['tags:"cv/backbone" OR tags:"%"', ["m08", "m13"]],
  ["-tags:prod"],
  ["NOT tags:Prod"],
  ["metadata:team", ["m01", "m02", "m03", "m04", "m08", "m09", "m10"]],
  ['metadata:"mlflow.run_id"'],
  ['metadata."mlflow.run_id" = abc123', ["m01"]],
  ["metadata.team = cv", ["m01", "m02", "m10"]],
  ["metadata.team != cv", ["m03", "m04", "m08", "m09"]],
  ["NOT metadata.team = cv", except("m01", "m02", "m10")],
  ["NOT metadata.team != cv"],
  ["metadata.team > nlp", ["m08"]],
  ['metadata.team < "😀"'],
  ['metadata.stage = ""', ["m03"]],
  ["metadata.stage <= prod"],
  ["metadata.team = n*"],
  ['metadata.team != "n*"'],
  ['metadata.team = "*"'],
  ['metadata.team != "*"', []],
  ['metadata.note = "😀*"', ["m05"]],
  ['metadata.note >= "Ü"'],
  ['metadata.note = "a*"', ["m12"]],
  // U+D7FF is the last code point before the surrogates; its successor for the range is U+E000.
  ['metadata.edge = "a\uD7FF*"', ["m12"]],
  ['metadata.edge != "a\uD7FF*"', ["m11"]],
  ['artifact_digest = "sha256:abababababababababababababababababababababababababababababababab"', ["m04"]],
  ['artifact_digest != ""', ["m04", "m05"]],
  ['artifact_digest = "sha256:*"', ["m04", "m05"]],
  ['artifact_digest > "sha256:b"', ["m05"]],
  ['lineage.run_uri = "mlflow://*"', ["m04"]],
  ['lineage.run_uri = ""', except("m04", "m05")],
  ["lineage.code_revision >= abc", ["m05", "m04"].sort()],
  ['lineage.dataset_uris:"s3://b/train"', ["m04", "m05"]],
  ['lineage.dataset_uris:"s3://b/😀"', ["m05"]],
  ['lineage.dataset_uris:"s3://b/tr"', []],
  ["lineage.parent_model_ids:m04", ["m05"]],
  ["-lineage.parent_model_ids:m01"],
  ['lineage.parent_model_ids:m01 AND lineage.dataset_uris:"s3://b/eval"', ["m04"]],
  ['metadata.edge = "a\uE000*"', ["m11"]],
  // Code point order, as SQLite's BINARY: U+E000 < U+1F600 < U+10FFFF (JavaScript's `<` puts the emoji first).
  ['metadata.edge < "a😀"', ["m11", "m12"]],
  ['metadata.edge > "a😀"', []],
  ['metadata.edge > "a\uFFFF"', []],
  ['metadata.note > "a\uE000"', ["m05", "m07", "m12"]],
  ['metadata.note < "a\uFFFF"', []],
  ['metadata."owner/email" = "zo*"', ["m04"]],
  ['metadata."x\' OR 1=1 --" = y', ["m08"]],
  ['metadata."a.b" = "x\\**"', ["m10"]],
  ['metadata."a.b" = "x*"'],
  ['metadata."%" = "_"', ["m13"]],
  ['create_time < "1970-01-01T00:00:00Z"', ["m08"]],
  ['create_time <= "2024-01-01T00:00:00.000001Z"', ["m01", "m02", "m08"]],
  ['create_time >= "2024-01-04T00:00:00Z"'],
  ['create_time = "2024-01-04T00:00:00Z"', ["m06", "m07"]],
  ['create_time = "2024-01-01T00:00:00.0000005Z"', []],
  ['create_time != "2024-01-01T00:00:00.0000005Z"', allIds],
  ['create_time < "2024-01-01T00:00:00.0000005Z"', ["m01", "m08"]],
  [
    'update_time > "2024-01-01T00:00:00.0000499Z"',
    ["m01", "m02", "m04", "m05", "m06", "m07", "m09", "m10", "m11", "m12", "m13"],
  ],
  ['update_time != "2024-01-04T00:00:00.000001+00:00"'],
  ['update_time > "2024-01-10T12:00:00+12:00"'],
  ["framework = pytorch AND tags:prod OR tags:staging", ["m01", "m04"]],
  ["(framework = pytorch AND tags:prod) OR tags:staging", ["m01", "m04", "m05", "m09"]],
  ["(tags:prod OR tags:vision) -metadata:team", ["m12"]],
  ['NOT (name = alpha AND version = "2.0.0")', except("m02")],
  ["tags:vision metadata.stage != prod", ["m10"]],
  ["NOT NOT tags:vision"],
  ["tags:nope OR metadata:nope OR name = nope", []],
];

describe("evaluateFilter and compileFilter agree on a real SQLite database", () => {
  it.each(cases)("%s", async (text, expected) => {
    const filter = parsed(text);
    const viaSql = await sqlIds(filter);
    const inMemory = memoryIds(filter);
    expect(viaSql).toEqual(inMemory);
    if (expected !== undefined) expect(viaSql).toEqual([...expected].sort());
  });

  it("has cases that select neither nothing nor everything, so agreement means something", () => {
    const interesting = cases.filter(([text]) => {
      const n = memoryIds(parsed(text)).length;
      return n > 0 && n < records.length;
    });
    expect(interesting.length).toBeGreaterThan(50);
  });

  it("agrees on 500 random filter trees", async () => {
    const random = seededRandom(160);
    const failures: string[] = [];
    for (let i = 0; i < 500; i++) {
      const filter = randomFilter(random, 3);
      const viaSql = await sqlIds(filter);
      const inMemory = memoryIds(filter);
      if (viaSql.join() !== inMemory.join()) {
        failures.push(`${JSON.stringify(filter)}\n  sql    ${viaSql}\n  memory ${inMemory}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("compileFilter emits parameters, never inlined values", () => {
  it("binds an injection-looking value, which then matches nothing", async () => {
    const filter = parsed('name = "x\' OR 1=1 --"');
    const compiled = db.selectFrom("models").select("id").where(compileFilter(filter)).compile();
    expect(compiled.sql).not.toContain("1=1");
    expect(compiled.parameters).toEqual(["x' OR 1=1 --"]);
    expect(await sqlIds(filter)).toEqual([]);
  });

  it.each(cases)("%s has no string literal in its SQL", (text) => {
    const compiled = db
      .selectFrom("models")
      .select("id")
      .where(compileFilter(parsed(text)))
      .compile();
    expect(compiled.sql).not.toContain("'");
    expect(compiled.sql).not.toMatch(/ like /i);
  });

  it("compiles tags and metadata to correlated EXISTS subqueries and prefixes to ranges", () => {
    const compiled = db
      .selectFrom("models")
      .select("id")
      .where(compileFilter(parsed('tags:prod metadata.team = "n*" name != bert*')))
      .compile();
    expect(compiled.sql).toBe(
      'select "id" from "models" where (' +
        'exists (select 1 as "one" from "model_tags" where "model_tags"."model_id" = "models"."id" and "model_tags"."tag" = ?)' +
        ' and exists (select 1 as "one" from "model_metadata" where "model_metadata"."model_id" = "models"."id"' +
        ' and "model_metadata"."key" = ? and ("model_metadata"."value" >= ? and "model_metadata"."value" < ?))' +
        ' and ("models"."name" < ? or "models"."name" >= ?))',
    );
    expect(compiled.parameters).toEqual(["prod", "team", "n", "o", "bert", "beru"]);
  });

  it.each<[prefix: string, upper: string | undefined]>([
    ["", undefined],
    ["a", "b"],
    ["a\uD7FF", "a\uE000"],
    ["a\uFFFF", "a\u{10000}"],
    ["a😀", "a😁"],
    ["a\u{103FF}", "a\u{10400}"],
    ["a\u{10FFFF}", "b"],
    ["\u{10FFFF}\u{10FFFF}", undefined],
  ])("bounds the prefix %j above by %j", (prefix, upper) => {
    const filter: FilterExpression = { kind: "string", field: "name", op: "=", value: prefix, prefix: true };
    const compiled = db.selectFrom("models").select("id").where(compileFilter(filter)).compile();
    expect(compiled.parameters).toEqual(upper === undefined ? [prefix] : [prefix, upper]);
  });

  it("rejects a prefix match with an ordering operator, in both evaluators", () => {
    const filter: FilterExpression = { kind: "string", field: "name", op: "<", value: "a", prefix: true };
    expect(() => db.selectFrom("models").where(compileFilter(filter)).compile()).toThrow(TypeError);
    expect(() => evaluateFilter(filter, records[0] as ModelRecord)).toThrow(TypeError);
  });
});

describe("evaluateFilter", () => {
  it("does not see metadata keys on the prototype chain", () => {
    const record = records[0] as ModelRecord;
    expect(evaluateFilter({ kind: "hasMetadataKey", key: "constructor" }, record)).toBe(false);
    expect(evaluateFilter({ kind: "hasMetadataKey", key: "__proto__" }, record)).toBe(false);
    expect(
      evaluateFilter({ kind: "metadata", key: "toString", op: "!=", value: "x", prefix: false }, record),
    ).toBe(false);
  });

  it("treats empty and/or as true/false, like Kysely does", async () => {
    const none: FilterExpression = { kind: "or", operands: [] };
    const all: FilterExpression = { kind: "and", operands: [] };
    expect(memoryIds(none)).toEqual([]);
    expect(await sqlIds(none)).toEqual([]);
    expect(memoryIds(all)).toEqual([...allIds].sort());
    expect(await sqlIds(all)).toEqual([...allIds].sort());
  });
});

// Random trees. The values include U+E000..U+FFFF and characters above
// U+FFFF, where code point order and JavaScript's UTF-16 `<` disagree.

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const OPS: readonly ComparisonOperator[] = ["=", "!=", "<", "<=", ">", ">="];
const STRING_VALUES: Record<"name" | "version" | "framework", readonly string[]> = {
  name: [
    "alpha",
    "ALPHA",
    "al",
    "bert",
    "bert-base",
    "b",
    "res",
    "res_net",
    "zeta",
    "z",
    "",
    "50%",
    "models/",
  ],
  version: ["1.0.0", "1", "1.0.0+build.5", "10.0.0", "2", "2.0.0", "", "0"],
  framework: ["pytorch", "py", "PyTorch", "jax", "tensorflow", "", "t", "x"],
};
const META_KEYS = ["team", "stage", "note", "owner", "epochs", "a.b", "Team", "edge", "missing"];
const META_VALUES = [
  "cv",
  "nlp",
  "n",
  "prod",
  "",
  "😀",
  "😀 ok",
  "Ü",
  "Ünïcödé",
  "a",
  "a😀",
  "x",
  "x*",
  "z",
  "90",
  "9",
  "a\uE000",
  "a\uD7FF",
  "\uFB01",
  "a\uFFFF",
  "a\u{10FFFF}",
];
const TAGS = ["prod", "Prod", "vision", "staging", "team:nlp", "%", "cv/backbone", "pro", "nope"];
const TIMES = [
  -1_000_000,
  0,
  T - 1,
  T,
  T + 1,
  T + 10,
  T + 50,
  T + 100,
  T + DAY,
  T + 3 * DAY,
  T + 3 * DAY + 1,
  T + 20 * DAY,
];

function randomFilter(random: () => number, depth: number): FilterExpression {
  const pick = <V>(values: readonly V[]): V => values[Math.floor(random() * values.length)] as V;
  const roll = random();
  if (depth > 0 && roll < 0.3) {
    const operands = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
      randomFilter(random, depth - 1),
    );
    return { kind: random() < 0.5 ? "and" : "or", operands };
  }
  if (depth > 0 && roll < 0.4) return { kind: "not", operand: randomFilter(random, depth - 1) };
  const leaf = random();
  const prefix = random() < 0.25;
  const op = prefix ? pick<ComparisonOperator>(["=", "!="]) : pick(OPS);
  if (leaf < 0.3) {
    const field = pick(["name", "version", "framework"] as const);
    return { kind: "string", field, op, value: pick(STRING_VALUES[field]), prefix };
  }
  if (leaf < 0.5) {
    return {
      kind: "time",
      field: pick(["create_time", "update_time"] as const),
      op: pick(OPS),
      value: pick(TIMES),
    };
  }
  if (leaf < 0.75) return { kind: "metadata", key: pick(META_KEYS), op, value: pick(META_VALUES), prefix };
  if (leaf < 0.8) return { kind: "hasTag", tag: pick(TAGS) };
  if (leaf < 0.85) return { kind: "hasMetadataKey", key: pick(META_KEYS) };
  if (leaf < 0.92) {
    const field = pick(["artifact_digest", "lineage.run_uri", "lineage.code_revision"] as const);
    return { kind: "string", field, op, value: pick(LINEAGE_STRINGS), prefix };
  }
  const field = pick(["dataset_uris", "parent_model_ids"] as const);
  return { kind: "hasLineage", field, value: pick(LINEAGE_VALUES) };
}

const LINEAGE_STRINGS = [
  "",
  "sha256:",
  "sha256:cd",
  "mlflow://",
  "https://wandb.ai/t/p/runs/a",
  "abc",
  "v1.0",
  "v",
];
const LINEAGE_VALUES = ["s3://b/train", "s3://b/eval", "s3://b/😀", "s3://b", "m01", "m04", "m05"];
