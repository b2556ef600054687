/**
 * The page's browser tests run on the built page (`dist/ui`); this builds it
 * once per run when it is missing or older than any source file of `app/`.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("../../", import.meta.url));
const appDir = join(packageDir, "app");
const builtIndex = join(packageDir, "dist", "ui", "index.html");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest;
}

let building: Promise<void> | undefined;

/** The lock that keeps test files in other workers from building at the same time. */
const lockDir = join(packageDir, "dist", ".ui-build.lock");
const lockStaleMs = 120_000;

/** Waits for and takes the cross-process build lock; returns its release. */
async function takeLock(): Promise<() => void> {
  mkdirSync(join(packageDir, "dist"), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A lock left by a killed run is taken over.
      const since = statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > lockStaleMs) {
        rmSync(lockDir, { recursive: true, force: true });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Whether `dist/ui` is missing or older than a file under `app/`. */
export function isStale(): boolean {
  if (!existsSync(builtIndex)) return true;
  return statSync(builtIndex).mtimeMs < newestMtime(appDir);
}

/**
 * Builds the page with the package's `vite.config.ts` unless `dist/ui` is up to
 * date; throws with a clear message when the build fails.
 */
export function ensureBuilt(): Promise<void> {
  if (!isStale()) return Promise.resolve();
  building ??= (async () => {
    const release = await takeLock();
    try {
      // Another worker may have built it while this one waited.
      if (!isStale()) return;
      const { build } = await import("vite");
      try {
        // Old content-hashed assets stay: a page already served keeps loading them.
        await build({
          configFile: join(packageDir, "vite.config.ts"),
          logLevel: "warn",
          build: { emptyOutDir: false },
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `The page could not be built into ${join(packageDir, "dist", "ui")} (${reason}); ` +
            "run `npx vite build` in packages/registry-ui to see why.",
        );
      }
      if (!existsSync(builtIndex)) {
        throw new Error(`The build wrote no ${builtIndex}; run \`npx vite build\` in packages/registry-ui.`);
      }
    } finally {
      release();
    }
  })();
  return building;
}
