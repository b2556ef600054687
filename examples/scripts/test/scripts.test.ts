import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runToEnd } from "../../../test-support/readme-examples";
import { startTestRegistry } from "../../../test-support/registry";

const tsx = createRequire(import.meta.url).resolve("tsx");
let registry: Awaited<ReturnType<typeof startTestRegistry>>;
let address = "";
beforeAll(async () => {
  registry = await startTestRegistry();
  address = registry.address;
});
afterAll(() => registry.server.shutdown({ graceMs: 100 }));

const run = (script: string, ...args: string[]) =>
  runToEnd(
    spawn(process.execPath, ["--import", tsx, join(import.meta.dirname, "..", script), ...args], {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, REGISTRY_ADDRESS: address },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );

it("registers, tags, annotates and lists models the way the scripts document", async () => {
  const registered = await run("register-model.ts", "bert", "1.0.0", "pytorch", "s3://models/bert/1.0.0");
  expect(registered.code, registered.stderr).toBe(0);
  expect(registered.stdout).toMatch(/^registered bert@1\.0\.0 as [0-9a-f-]{36} \(etag "1"\)$/m);
  expect((await run("register-model.ts", "bert", "1.0.0")).stdout).toContain("already registered");
  const invalid = await run("register-model.ts", "bad name", "1");
  expect(invalid.code).toBe(2);
  expect(invalid.stdout).toContain("invalid model.name");

  const tagged = await run("tag-and-annotate.ts", "bert", "1.0.0", "production", "owner=ana");
  expect(tagged.code, tagged.stderr).toBe(0);
  expect(tagged.stdout).toContain('bert@1.0.0 tags=[production] metadata={"owner":"ana"}');

  await run("register-model.ts", "gpt", "2");
  const listed = await run("list-models.ts", "tags:production");
  expect(listed.code, listed.stderr).toBe(0);
  expect(listed.stdout).toContain("bert@1.0.0  pytorch");
  expect(listed.stdout).not.toContain("gpt@2");
  expect(listed.stdout).toContain("1 model matching tags:production");
}, 60_000);

it("promotes with a compare-and-set and rolls an alias back to where it pointed at a past time", async () => {
  for (const version of ["1.0.0", "1.1.0"]) await run("register-model.ts", "vit", version);
  const first = await run("promote.ts", "vit", "champion", "1.0.0");
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toContain("vit@champion: (none) -> 1.0.0 by anonymous");
  const between = new Date();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = await run("promote.ts", "vit", "champion", "1.1.0");
  expect(second.stdout).toContain("vit@champion: 1.0.0 -> 1.1.0");
  const missing = await run("promote.ts", "vit", "champion", "9.9.9");
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("not promoted:");

  const rolledBack = await run("rollback.ts", "vit", "champion", between.toISOString());
  expect(rolledBack.code, rolledBack.stderr).toBe(0);
  expect(rolledBack.stdout).toContain(`vit@champion: 1.1.0 -> 1.0.0 (as at ${between.toISOString()})`);
  // Newest first: the rollback, the promotion, the first set.
  expect(rolledBack.stdout).toMatch(
    /anonymous: 1\.1\.0 -> 1\.0\.0\n.*anonymous: 1\.0\.0 -> 1\.1\.0\n.*anonymous: \(none\) -> 1\.0\.0/,
  );
  expect((await run("rollback.ts", "vit", "champion", "yesterday")).code).toBe(2);
}, 60_000);
