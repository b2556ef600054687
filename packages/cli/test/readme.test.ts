// The root README's "Command line" transcript is real output: every `$ modelreg ...` step of its
// console blocks runs, in order, through the real bin in a shell against a fresh registry, and prints
// what the README shows (ids and times aside).
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { normalizeOutput, readTranscript, runShell } from "../../../test-support/transcripts";
import { startSqliteRegistry, tempDir } from "./cli-support";

const repoRoot = resolve(import.meta.dirname, "../../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const bin = join(repoRoot, "packages/cli/src/bin.ts");
const temp = tempDir("modelreg-readme-");
afterAll(() => temp.remove());

it("the README's modelreg transcript prints what it shows, exit codes included", async () => {
  const steps = readTranscript(join(repoRoot, "README.md")).filter((s) => s.command.startsWith("modelreg "));
  expect(steps.length).toBeGreaterThanOrEqual(6);
  const registry = await startSqliteRegistry(temp.dir);
  try {
    // `modelreg` as a user's shell has it: the bin (from the sources here), talking to this registry.
    const prelude = `modelreg() { "${process.execPath}" --import "${tsx}" "${bin}" "$@"; }; export MODELREG_REGISTRY=${registry.address};`;
    for (const step of steps) {
      const result = await runShell(`${prelude} ${step.command}`);
      expect(normalizeOutput(result.stdout), `${step.command}\n${result.stderr}`).toBe(
        normalizeOutput(step.output),
      );
    }
  } finally {
    await registry.stop();
  }
}, 120_000);
