import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { copyLineage, emptyLineage, type ModelRecord, type StorageAdapter } from "../storage/adapter";
import { key } from "./assertions";

let lastMicros = 0;

/** The current time in microseconds, strictly increasing from call to call. */
function nowMicros(): number {
  lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
  return lastMicros;
}

/**
 * A valid new {@link ModelRecord} as the service would insert it: a fresh
 * UUID, a unique name, revision 1, times in microseconds since the epoch
 * (`updateTime` defaults to `createTime`), no artifact digest (`""`) and an
 * empty lineage. Fields in `overrides` win; pass `tags` and the lineage's
 * arrays unique and sorted, as storage expects them. Arrays and objects are
 * copied, so the result never aliases `overrides`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMemoryStorage } from "@modelreg/registry-server";
 * import { makeModelRecord } from "@modelreg/registry-server/testing";
 *
 * const adapter = createMemoryStorage();
 * const record = makeModelRecord({ name: "resnet", version: "1.0.0", tags: ["prod", "vision"] });
 * assert.equal((await adapter.insert(record)).status, "created");
 * ```
 */
export function makeModelRecord(overrides: Partial<ModelRecord> = {}): ModelRecord {
  const createTime = overrides.createTime ?? nowMicros();
  return {
    id: overrides.id ?? randomUUID(),
    name: overrides.name ?? `model-${randomUUID()}`,
    version: overrides.version ?? "1.0.0",
    framework: overrides.framework ?? "pytorch",
    description: overrides.description ?? "",
    tags: [...(overrides.tags ?? [])],
    metadata: { ...(overrides.metadata ?? {}) },
    artifactUri: overrides.artifactUri ?? "s3://models/model.onnx",
    artifactDigest: overrides.artifactDigest ?? "",
    lineage: copyLineage(overrides.lineage ?? emptyLineage),
    revision: overrides.revision ?? 1,
    createTime,
    updateTime: overrides.updateTime ?? createTime,
  };
}

/** A fixed time (November 2023) in microseconds, for records whose times the tests compare. */
export const T0 = 1_700_000_000_000_000;

/** Rows of a fixture: a label the tests name the record by, and its fields. */
export type FixtureRows = readonly (readonly [label: string, overrides: Partial<ModelRecord>])[];

/** Inserts every record, asserting each is `created`. */
export async function insertAll(adapter: StorageAdapter, records: Iterable<ModelRecord>): Promise<void> {
  for (const record of records) {
    const result = await adapter.insert(record);
    assert.equal(result.status, "created", `insert of ${key(record)}: ${JSON.stringify(result)}`);
  }
}

/** Makes a record of every row, inserts them, and returns them by label. */
export async function insertFixture(
  adapter: StorageAdapter,
  rows: FixtureRows,
): Promise<Map<string, ModelRecord>> {
  const fixture = new Map(
    rows.map(([label, overrides]) => [
      label,
      makeModelRecord({
        description: `fixture ${label}`,
        artifactUri: `s3://fixture/${label}`,
        ...overrides,
      }),
    ]),
  );
  await insertAll(adapter, fixture.values());
  return fixture;
}

/**
 * Ten varied models for filters, ordering and paging. Names, versions,
 * frameworks, tags and metadata keys use the characters the service allows
 * (ASCII); metadata values are free text. Ties: two `alpha`s; four `pytorch`;
 * create_time +60 twice; update_time +50 twice.
 */
export const MAIN_ROWS: FixtureRows = [
  [
    "a1",
    {
      name: "alpha",
      version: "1.0.0",
      framework: "pytorch",
      createTime: T0,
      updateTime: T0 + 100,
      tags: ["prod", "vision"],
      metadata: { team: "cv", stage: "prod" },
    },
  ],
  [
    "a2",
    {
      name: "alpha",
      version: "2.0.0",
      framework: "pytorch",
      createTime: T0 + 1,
      updateTime: T0 + 50,
      tags: ["vision"],
      metadata: { team: "cv" },
    },
  ],
  [
    "beta",
    {
      name: "beta",
      version: "0.1.0",
      framework: "sklearn",
      createTime: T0 + 10,
      updateTime: T0 + 10,
      tags: ["prod"],
      metadata: { team: "nlp", stage: "" },
    },
  ],
  [
    "resnet",
    {
      name: "res_net",
      version: "1.0.0",
      framework: "pytorch",
      createTime: T0 + 20,
      updateTime: T0 + 200,
      tags: ["cv/backbone"],
      metadata: { team: "cv", "owner.email": "zoë@example.com" },
    },
  ],
  [
    "resx",
    {
      name: "resXnet",
      version: "1.0.0",
      framework: "onnx",
      createTime: T0 + 30,
      updateTime: T0 + 30,
      tags: ["staging"],
      metadata: { stage: "staging" },
    },
  ],
  [
    "gamma",
    {
      name: "gamma",
      version: "10.0.0",
      framework: "",
      createTime: T0 + 40,
      updateTime: T0 + 40,
      tags: ["experimental"],
      metadata: { note: "😀 ok" },
    },
  ],
  [
    "eclair",
    {
      name: "models/eclair",
      version: "1.0.0+build.5",
      framework: "jax",
      createTime: T0 + 50,
      updateTime: T0 + 50,
      tags: [],
      metadata: {},
    },
  ],
  [
    "omega",
    {
      name: "omega",
      version: "1.0.0",
      framework: "jax",
      createTime: T0 + 60,
      updateTime: T0 + 60,
      tags: ["prod"],
      metadata: { team: "😀" },
    },
  ],
  [
    "zeta",
    {
      name: "zeta",
      version: "1.0.0",
      framework: "pytorch",
      createTime: T0 + 60,
      updateTime: T0 + 300,
      tags: ["prod", "staging", "vision"],
      metadata: { team: "nlp", stage: "prod", owner: "z" },
    },
  ],
  [
    "delta",
    {
      name: "delta",
      version: "2.0.0",
      framework: "tensorflow",
      createTime: T0 + 70,
      updateTime: T0 + 70,
      tags: ["vision"],
      metadata: { team: "cv", stage: "dev" },
    },
  ],
];

/** The labels of {@link MAIN_ROWS}. */
export const ALL: readonly string[] = MAIN_ROWS.map(([label]) => label);
/** The labels of {@link MAIN_ROWS} but these. */
export const except = (...labels: string[]): string[] => ALL.filter((l) => !labels.includes(l));
