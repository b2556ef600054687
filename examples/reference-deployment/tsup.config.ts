import { defineConfig } from "tsup";

// Entry points only; every @modelreg/* package stays external, so the
// deployment runs on the packages' published builds.
export default defineConfig({
  entry: { registry: "src/registry.ts", gateway: "src/gateway.ts" },
  // Listed as dependencies too; explicit so a missing entry there cannot bundle a package in.
  external: [/^@modelreg\//],
  format: ["esm"],
  target: "node20",
  platform: "node",
  clean: true,
  sourcemap: true,
});
