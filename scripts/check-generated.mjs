#!/usr/bin/env node
// Regenerates every generated file and fails if that changed anything, so
// committed generated code can never drift from the .proto files or the
// generator versions in package-lock.json.
import { execFileSync } from "node:child_process";

const generatedPaths = ["packages/proto", "examples/python/modelreg/_gen"];
const git = (...args) => execFileSync("git", args, { encoding: "utf8" });

execFileSync("npm", ["run", "generate"], { stdio: "inherit" });
const changes = git("status", "--porcelain", "--untracked-files=all", "--", ...generatedPaths).trim();
if (changes !== "") {
  console.error(`Generated code is out of date. Run \`npm run generate\` and commit the result:\n${changes}`);
  console.error(git("diff", "--stat", "--", ...generatedPaths));
  process.exit(1);
}
console.log("Generated code is up to date.");
