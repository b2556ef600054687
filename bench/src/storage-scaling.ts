/**
 * Storage scaling: GetModel by id and one filtered keyset ListModels page,
 * called on the adapter directly (no gRPC in the way, so a constant
 * transport cost cannot hide growth), at growing table sizes. Rows are
 * bulk-seeded with SQL into the tables the adapter's own migrations made.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FilterExpression, ListQuery, StorageAdapter } from "@modelreg/registry-server";
import { createPostgresStorage } from "@modelreg/registry-server/storage/postgres";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import Database from "better-sqlite3";
import pg from "pg";
import { quantile } from "./load/stats";

export type StoreName = "sqlite" | "postgres";

export interface ScalingResult {
  store: StoreName;
  rows: number;
  op: "get" | "list";
  calls: number;
  medianUs: number;
  p99Us: number;
  seedSeconds: number;
}

const BASE_MICROS = 1_700_000_000_000_000;
const FRAMEWORKS = ["pytorch", "tensorflow", "onnx", "jax"];
/** Seeded row i: ids and create times grow with i, a quarter of the rows are pytorch. */
const idOf = (i: number) => `00000000-0000-7000-8000-${i.toString(16).padStart(12, "0")}`;
const createTimeOf = (i: number) => BASE_MICROS + i * 1000;

/** The page a ListModels call with `filter: framework = "pytorch"` and the default order asks storage for. */
const frameworkFilter: FilterExpression = {
  kind: "string",
  field: "framework",
  op: "=",
  value: "pytorch",
  prefix: false,
};
const listQueryAt = (i: number): ListQuery => ({
  filter: frameworkFilter,
  orderBy: [{ field: "create_time", descending: true }],
  after: { values: [createTimeOf(i)], id: idOf(i) },
  limit: 51,
});

interface Store {
  readonly adapter: StorageAdapter;
  /** Adds rows [from, to). */
  seed(from: number, to: number): Promise<void>;
  dispose(): Promise<void>;
}

async function openSqlite(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-scaling-"));
  const path = join(dir, "registry.db");
  const adapter = await createSqliteStorage({ path });
  const db = new Database(path);
  const seed = db.transaction((from: number, to: number) => {
    db.prepare(
      `with recursive seq(i) as (select ? union all select i + 1 from seq where i + 1 < ?)
       insert into models (id, name, version, framework, description, artifact_uri, revision, create_time, update_time)
       select printf('00000000-0000-7000-8000-%012x', i), 'model-' || i, '1.0.0',
              case i % 4 when 0 then 'pytorch' when 1 then 'tensorflow' when 2 then 'onnx' else 'jax' end,
              'A seeded model.', 's3://models/model-' || i || '/model.pt', 1, ? + i * 1000, ? + i * 1000
       from seq`,
    ).run(from, to, BASE_MICROS, BASE_MICROS);
    db.prepare(
      `insert into model_tags (model_id, tag)
       select id, 'bench' from models where create_time >= ? and create_time < ?
       union all select id, 'shard-' || ((create_time - ?) / 1000 % 16) from models where create_time >= ? and create_time < ?`,
    ).run(createTimeOf(from), createTimeOf(to), BASE_MICROS, createTimeOf(from), createTimeOf(to));
    db.prepare(
      `insert into model_metadata (model_id, key, value)
       select id, 'owner', 'team-' || ((create_time - ?) / 1000 % 32) from models where create_time >= ? and create_time < ?`,
    ).run(BASE_MICROS, createTimeOf(from), createTimeOf(to));
  });
  return {
    adapter,
    async seed(from, to) {
      seed(from, to);
      db.exec("analyze");
    },
    async dispose() {
      db.close();
      await adapter.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(connectionString: string): Promise<Store> {
  const schema = `bench_${process.pid}_${Date.now()}`;
  const adapter = await createPostgresStorage({ connectionString, schema });
  const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
  await client.connect();
  return {
    adapter,
    async seed(from, to) {
      await client.query(
        `insert into models (id, name, version, framework, description, artifact_uri, revision, create_time, update_time)
         select '00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), 'model-' || i, '1.0.0',
                ($3::text[])[i % 4 + 1], 'A seeded model.', 's3://models/model-' || i || '/model.pt', 1,
                $4::bigint + i * 1000, $4::bigint + i * 1000
         from generate_series($1::bigint, $2::bigint - 1) as i`,
        [from, to, FRAMEWORKS, BASE_MICROS],
      );
      await client.query(
        `insert into model_tags (model_id, tag)
         select '00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), t
         from generate_series($1::bigint, $2::bigint - 1) as i,
              lateral (values ('bench'), ('shard-' || (i % 16))) as tags(t)`,
        [from, to],
      );
      await client.query(
        `insert into model_metadata (model_id, key, value)
         select '00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), 'owner', 'team-' || (i % 32)
         from generate_series($1::bigint, $2::bigint - 1) as i`,
        [from, to],
      );
      await client.query("analyze");
    },
    async dispose() {
      await adapter.close();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  };
}

/**
 * Times up to `calls` sequential calls of `op(i)` for random rows i, after
 * `calls / 5` warm-up calls, stopping early after BUDGET_MS (a slow call at
 * 1M rows would otherwise take minutes to show what 100 calls show).
 */
const BUDGET_MS = 15_000;
async function time(rows: number, calls: number, op: (i: number) => Promise<unknown>) {
  const random = () => Math.floor(Math.random() * rows);
  const warmUntil = performance.now() + BUDGET_MS / 5;
  for (let n = 0; n < Math.ceil(calls / 5) && performance.now() < warmUntil; n++) await op(random());
  const micros: number[] = [];
  const until = performance.now() + BUDGET_MS;
  for (let n = 0; n < calls && (n < 50 || performance.now() < until); n++) {
    const i = random();
    const start = performance.now();
    await op(i);
    micros.push((performance.now() - start) * 1000);
  }
  micros.sort((a, b) => a - b);
  return { medianUs: quantile(micros, 0.5), p99Us: quantile(micros, 0.99), calls: micros.length };
}

/** Whether PostgreSQL answers; the reason when it does not. */
export async function postgresReachable(connectionString: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function runStorageScaling(options: {
  stores: readonly StoreName[];
  rowCounts: readonly number[];
  calls: number;
  postgresUrl: string;
  log: (line: string) => void;
}): Promise<ScalingResult[]> {
  const results: ScalingResult[] = [];
  const sizes = [...options.rowCounts].sort((a, b) => a - b);
  for (const storeName of options.stores) {
    const store = storeName === "sqlite" ? await openSqlite() : await openPostgres(options.postgresUrl);
    try {
      let seeded = 0;
      for (const rows of sizes) {
        const started = performance.now();
        await store.seed(seeded, rows);
        seeded = rows;
        const seedSeconds = (performance.now() - started) / 1000;
        const get = await time(rows, options.calls, async (i) => {
          const record = await store.adapter.get(idOf(i));
          if (record?.id !== idOf(i)) throw new Error(`get(${idOf(i)}) returned ${record?.id}`);
        });
        const list = await time(rows, Math.ceil(options.calls / 4), async (i) => {
          const page = await store.adapter.list(listQueryAt(i));
          if (page.some((r) => r.framework !== "pytorch" || r.createTime >= createTimeOf(i))) {
            throw new Error("list returned a row outside the filter or the keyset");
          }
        });
        results.push({ store: storeName, rows, op: "get", seedSeconds, ...get });
        results.push({
          store: storeName,
          rows,
          op: "list",
          seedSeconds,
          ...list,
        });
        options.log(
          `  ${storeName} ${rows} rows (seeded in ${seedSeconds.toFixed(1)} s): get ${get.medianUs.toFixed(0)} us, list page ${list.medianUs.toFixed(0)} us (medians)`,
        );
      }
    } finally {
      await store.dispose();
    }
  }
  return results;
}
