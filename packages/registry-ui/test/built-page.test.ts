/**
 * The built page (`dist/ui`, which the tests' global setup builds like `npm run build` does) is the
 * production bundle that ships: no development JSX runtime, no file paths of the machine that built it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { requireBuiltPage } from "./support/build";

const repoDir = fileURLToPath(new URL("../../../", import.meta.url));
const assetsDir = fileURLToPath(new URL("../dist/ui/assets/", import.meta.url));

describe("the built page", () => {
  it("is a production bundle that carries no file paths of the build machine", () => {
    requireBuiltPage();
    const scripts = readdirSync(assetsDir).filter((name) => name.endsWith(".js"));
    expect(scripts.length).toBeGreaterThan(0);
    for (const name of scripts) {
      const code = readFileSync(join(assetsDir, name), "utf8");
      // A development build calls jsxDEV(..., { fileName: "/abs/path/app/src/X.tsx", lineNumber, ... }).
      const leaks = [
        ...code.matchAll(/jsxDEV|[\w./-]*app\/src\/[\w/.-]+\.tsx?/g),
        ...code.matchAll(new RegExp(repoDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g")),
      ].map((match) => match[0]);
      expect([...new Set(leaks)], name).toEqual([]);
    }
  });
});
