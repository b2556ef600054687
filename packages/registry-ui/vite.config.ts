import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The page's build: `app/` (Preact, TypeScript) into `dist/ui/`, with
 * relative asset URLs so the page works wherever an app mounts it.
 */
export default defineConfig({
  root: fileURLToPath(new URL("./app", import.meta.url)),
  base: "./",
  // The JSX of app/ is Preact's (app/tsconfig.json says the same to the type checker).
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("./dist/ui", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // One script and one stylesheet, content-hashed: served as immutable.
    assetsDir: "assets",
    modulePreload: false,
    sourcemap: false,
    reportCompressedSize: true,
  },
});
