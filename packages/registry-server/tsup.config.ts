import { defineConfig } from "tsup";
import { libraryBuild } from "../../tsup.base";

export default defineConfig(
  libraryBuild({
    index: "src/index.ts",
    "storage/sqlite": "src/storage/sqlite.ts",
    "storage/postgres": "src/storage/postgres.ts",
    "storage/mysql": "src/storage/mysql.ts",
    testing: "src/testing.ts",
  }),
);
