import { defineConfig } from "tsup";
import { libraryBuild } from "../../tsup.base";

export default defineConfig({
  ...libraryBuild({ index: "src/index.ts" }),
  // dist/ui is the page (vite build): cleaning the library's files must not remove it.
  clean: ["!ui/**"],
});
