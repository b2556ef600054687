/**
 * A SQLite registry file of `count` models for the page's benchmark, made
 * fast: the registry's own adapter creates the schema (its migrations), then
 * one SQL statement per table fills it, as storage-scaling.ts does for 1M
 * rows. Models only (no change history): the list reads the models table.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import Database from "better-sqlite3";

const BASE_MICROS = 1_700_000_000_000_000;

/** A seeded registry file. */
export interface SeededFile {
  readonly dir: string;
  readonly path: string;
  readonly seedSeconds: number;
}

/**
 * Creates `count` models: 1000 names of `count / 1000` versions, a quarter
 * each pytorch/tensorflow/onnx/jax, two tags and two metadata entries each,
 * create times 1 ms apart (the newest is model `count - 1`).
 */
export async function seedRegistryFile(count: number): Promise<SeededFile> {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-bench-ui-"));
  const path = join(dir, "registry.db");
  const adapter = await createSqliteStorage({ path });
  await adapter.close();
  const started = performance.now();
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.transaction(() => {
    db.prepare(
      `with recursive seq(i) as (select 0 union all select i + 1 from seq where i + 1 < ?)
       insert into models (id, name, version, framework, description, artifact_uri, revision, create_time, update_time)
       select printf('00000000-0000-7000-8000-%012x', i), 'model-' || (i % 1000), '1.' || (i / 1000) || '.0',
              case i % 4 when 0 then 'pytorch' when 1 then 'tensorflow' when 2 then 'onnx' else 'jax' end,
              'A seeded model for the page benchmark.', 's3://models/model-' || i || '/model.pt', 1,
              ? + i * 1000, ? + i * 1000
       from seq`,
    ).run(count, BASE_MICROS, BASE_MICROS);
    db.prepare(
      `insert into model_tags (model_id, tag)
       select id, 'bench' from models
       union all select id, 'shard-' || cast((create_time - ?) / 1000 % 16 as integer) from models`,
    ).run(BASE_MICROS);
    db.prepare(
      `insert into model_metadata (model_id, key, value)
       select id, 'owner', 'team-' || cast((create_time - ?) / 1000 % 32 as integer) from models
       union all select id, 'eval.auc', '0.9' || cast((create_time - ?) / 1000 % 10 as integer) from models`,
    ).run(BASE_MICROS, BASE_MICROS);
  })();
  db.exec("analyze");
  db.close();
  return { dir, path, seedSeconds: (performance.now() - started) / 1000 };
}
