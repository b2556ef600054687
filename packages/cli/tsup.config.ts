import { defineConfig } from "tsup";
import { libraryBuild } from "../../tsup.base";

// The library (ESM + CJS, for the reference deployment and users' own launchers) and the `modelreg`
// bin (ESM only; tsup keeps its #! line and makes it executable).
export default defineConfig([
  libraryBuild({ index: "src/index.ts" }),
  { ...libraryBuild({ bin: "src/bin.ts" }), format: ["esm"], dts: false, clean: false },
]);
