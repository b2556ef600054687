import type { Options } from "tsup";

/**
 * The build every publishable package shares: ESM + CJS + type declarations
 * for Node 20, one bundle per entry point, source maps for stack traces.
 */
export function libraryBuild(entry: Record<string, string>): Options {
  return {
    entry,
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    platform: "node",
    splitting: false,
    treeshake: true,
  };
}
