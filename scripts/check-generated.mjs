#!/usr/bin/env node
// Regenerates every generated file and fails if that changed anything, so
// committed generated code can never drift from the .proto files or the
// generator versions in package-lock.json.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const generatedPaths = ["packages/proto", "examples/python/modelreg/_gen"];
const git = (...args) => execFileSync("git", args, { encoding: "utf8" });

// A generator that skipped a step (a missing tool, outside CI) says so in this file.
const reportDir = mkdtempSync(join(tmpdir(), "modelreg-generate-"));
const reportFile = join(reportDir, "skipped");
let skipped = "";
try {
  execFileSync("npm", ["run", "generate"], {
    stdio: "inherit",
    env: { ...process.env, MODELREG_GENERATE_REPORT: reportFile },
  });
  try {
    skipped = readFileSync(reportFile, "utf8").trim();
  } catch {
    // Nothing skipped.
  }
} finally {
  rmSync(reportDir, { recursive: true, force: true });
}
const changes = git("status", "--porcelain", "--untracked-files=all", "--", ...generatedPaths).trim();
if (changes !== "") {
  console.error(`Generated code is out of date. Run \`npm run generate\` and commit the result:\n${changes}`);
  console.error(git("diff", "--stat", "--", ...generatedPaths));
  process.exit(1);
}
if (skipped !== "") {
  console.log(`Generated code is up to date, except what was not checked: ${skipped.replaceAll("\n", "; ")}`);
} else {
  console.log("Generated code is up to date.");
}
