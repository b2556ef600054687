/**
 * `npm run bench:import`: registering N models through one ImportModels
 * stream against N unary CreateModel calls (64 in flight), through the typed
 * client, on the same registry process (memory and SQLite stores), rounds
 * interleaved. Issue 8 asks for the ratio; nothing here is a pass/fail test.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createRegistryClient } from "@modelreg/registry-client";
import { detectPinning, startServer } from "./proc";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "10000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "64" },
    stores: { type: "string", default: "memory,sqlite" },
    "base-port": { type: "string", default: "47300" },
    "no-pin": { type: "boolean", default: false },
    out: { type: "string", default: join(benchDir, "results", "import-vs-unary.md") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(
    `npm run bench:import -- [--count 10000] [--rounds 3] [--concurrency 64] [--stores memory,sqlite] [--no-pin] [--out FILE]`,
  );
  process.exit(0);
}
const count = Number(args.count);
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);
const stores = (args.stores ?? "").split(",").filter(Boolean) as ("memory" | "sqlite")[];
for (const [name, value] of [
  ["--count", count],
  ["--rounds", rounds],
  ["--concurrency", concurrency],
] as const) {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a whole number of at least 1`);
}
if (stores.some((s) => s !== "memory" && s !== "sqlite"))
  throw new Error("--stores takes memory and/or sqlite");

const pinning = detectPinning(2, !args["no-pin"]);
// The client (this process) on the load core, the registry on the server core.
if (pinning.enabled)
  spawnSync("taskset", ["-a", "-p", "-c", pinning.load, String(process.pid)], { stdio: "ignore" });
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

interface Row {
  store: string;
  unaryMs: number[];
  importMs: number[];
  ratios: number[];
}
const rows: Row[] = [];
let port = Number(args["base-port"]);

for (const store of stores) {
  const row: Row = { store, unaryMs: [], importMs: [], ratios: [] };
  // A fresh registry per store; names carry the round and kind so nothing clashes.
  const server = await startServer(
    pinning,
    store === "memory" ? "registry-memory" : "registry-sqlite",
    port++,
  );
  const client = createRegistryClient({ target: `127.0.0.1:${server.port}`, insecure: true, poolSize: 2 });
  try {
    await client.connect();
    for (let round = 0; round < rounds; round++) {
      const model = (kind: string, i: number) => ({
        name: `${kind}-r${round}-${i}`,
        version: "1",
        framework: "pytorch",
      });
      // Alternate which goes first, so neither always meets the warmer (or fuller) store.
      const order = round % 2 ? (["import", "unary"] as const) : (["unary", "import"] as const);
      let unary = 0;
      let streamed = 0;
      for (const kind of order) {
        const started = performance.now();
        if (kind === "unary") {
          let next = 0;
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              for (let i = next++; i < count; i = next++)
                await client.createModel({ model: model("unary", i) });
            }),
          );
          unary = performance.now() - started;
        } else {
          const summary = await client.importModels(
            (function* () {
              for (let i = 0; i < count; i++) yield { model: model("import", i) };
            })(),
          );
          if (summary.createdCount !== count)
            throw new Error(`import created ${summary.createdCount} of ${count}`);
          streamed = performance.now() - started;
        }
      }
      row.unaryMs.push(unary);
      row.importMs.push(streamed);
      row.ratios.push(unary / streamed);
      console.log(
        `${store} round ${round + 1}: ${count} unary creates ${Math.round(unary)} ms, one import ${Math.round(streamed)} ms: ${(unary / streamed).toFixed(1)}x`,
      );
    }
  } finally {
    client.close();
    await server.stop();
  }
  rows.push(row);
}

const lines = [
  "# ImportModels vs unary CreateModel",
  "",
  `${new Date().toISOString()}; ${count} models per run, ${rounds} rounds, unary calls ${concurrency} in flight over a pool of 2 connections, the import as one stream (server batches of 100, one transaction each); the typed client in this process, the registry in its own process${pinning.enabled ? ` (${pinning.reason})` : ` (not pinned: ${pinning.reason})`}. SQLite with its defaults (WAL, synchronous FULL).`,
  "",
  "| store | unary creates (median) | one import stream (median) | import speed-up (median, range) |",
  "|---|--:|--:|--:|",
  ...rows.map(
    (r) =>
      `| ${r.store} | ${Math.round(median(r.unaryMs))} ms | ${Math.round(median(r.importMs))} ms | ${median(r.ratios).toFixed(1)}x (${Math.min(...r.ratios).toFixed(1)}-${Math.max(...r.ratios).toFixed(1)}) |`,
  ),
  "",
];
writeFileSync(args.out ?? "", lines.join("\n"));
console.log(`\n${lines.join("\n")}\nwritten to ${args.out}`);
