/**
 * The page's browser tests run on the built page (`dist/ui`). The root vitest config's global setup
 * (test-support/build-ui.ts) builds it before any test file starts; this only checks that it is there.
 */
import { existsSync } from "node:fs";
import { builtIndex } from "../../../../test-support/build-ui";

/** Throws with what to do when `dist/ui` is missing (a run with a config other than the repository's). */
export function requireBuiltPage(): void {
  if (existsSync(builtIndex)) return;
  throw new Error(
    `The page's tests need the built page, but ${builtIndex} is missing: run them with the repository's ` +
      "vitest.config.ts (its global setup builds the page), or `npm run build -w @modelreg/registry-ui`.",
  );
}
