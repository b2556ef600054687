/**
 * Vitest's `globalSetup` (root vitest.config.ts): before any test worker starts, builds the page of
 * `@modelreg/registry-ui` (`app/` -> `dist/ui`) when `dist/ui/index.html` is missing or older than a file
 * of `app/`, `vite.config.ts` or `package.json`, so `npm install && npm test` needs no build (the CLI's
 * gateway and the package's tests serve the built page). The build runs `vite build` in a child process
 * with `NODE_ENV=production`: inside vitest (`NODE_ENV=test`) Vite would compile a development bundle
 * (`jsxDEV` calls carrying the build machine's file paths), not the page that ships.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

const repoDir = fileURLToPath(new URL("../", import.meta.url));
/** The registry-ui package's folder. */
export const uiPackageDir = join(repoDir, "packages", "registry-ui");
/** The built page's entry: what the middleware serves. */
export const builtIndex = join(uiPackageDir, "dist", "ui", "index.html");

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Why the page needs building (`dist/ui` missing or older than its sources), or undefined when it is current. */
export function uiBuildReason(): string | undefined {
  if (!existsSync(builtIndex)) return "dist/ui is missing";
  const sources = ["app", "vite.config.ts", "package.json"].map((name) => join(uiPackageDir, name));
  const newest = Math.max(...sources.map(newestMtime));
  return statSync(builtIndex).mtimeMs < newest ? "dist/ui is older than app/" : undefined;
}

/** Vite's command-line script, resolved from the registry-ui package (its devDependency). */
function viteBin(): string {
  const require = createRequire(join(uiPackageDir, "package.json"));
  const manifestPath = require.resolve("vite/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin: { vite: string } };
  return join(manifestPath, "..", manifest.bin.vite);
}

/** Runs `vite build` (the package's vite.config.ts, production) in a child process; rejects with its output. */
function viteBuild(): Promise<void> {
  const child = spawn(process.execPath, [viteBin(), "build", "--logLevel", "warn"], {
    cwd: uiPackageDir,
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0 && existsSync(builtIndex)) return resolve();
      const how =
        code === 0 ? `wrote no ${relative(repoDir, builtIndex)}` : `failed (${signal ?? `exit ${code}`})`;
      reject(
        new Error(
          `The page of @modelreg/registry-ui could not be built: \`vite build\` ${how}; ` +
            `run \`npm run build -w @modelreg/registry-ui\` to see why.\n${output}`,
        ),
      );
    });
  });
}

/** Builds the page when it is missing or stale, printing one line when it does. */
export async function buildUiIfStale(): Promise<void> {
  const reason = uiBuildReason();
  if (reason === undefined) return;
  const started = Date.now();
  await viteBuild();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `registry-ui: built the page into packages/registry-ui/dist/ui (${reason}) in ${seconds} s\n`,
  );
}

/** The global setup: builds before the run, and again before a watch-mode rerun when `app/` changed. */
export default async function setup(project: TestProject): Promise<void> {
  project.onTestsRerun(buildUiIfStale);
  await buildUiIfStale();
}
