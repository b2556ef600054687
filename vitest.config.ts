import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const packagesDir = fileURLToPath(new URL("./packages/", import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against each package's source, so `npm test` needs no build.
    // Published code resolves the same names through each package's exports.
    alias: [
      { find: /^@modelreg\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
      { find: /^@modelreg\/([a-z-]+)\/([a-z/-]+)$/, replacement: `${packagesDir}$1/src/$2.ts` },
    ],
  },
  test: {
    // Builds the page of @modelreg/registry-ui when dist/ui is missing or stale (the gateway serves it).
    globalSetup: ["./test-support/build-ui.ts"],
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    // Fail a run that accidentally selects no tests.
    passWithNoTests: false,
  },
});
