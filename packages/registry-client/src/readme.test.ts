import { resolve } from "node:path";
import { expect, it } from "vitest";
import { runToEnd, spawnReadmeExample } from "../../../test-support/readme-examples";
import { startTestRegistry } from "../../../test-support/registry";

const readme = resolve(import.meta.dirname, "../README.md");

/**
 * Starts a registry with `options`, hands `body` a function that runs one of
 * the README's examples against it to its end, and shuts the registry down.
 */
async function withRegistry(
  options: Parameters<typeof startTestRegistry>[0],
  body: (run: (example: string) => ReturnType<typeof runToEnd>) => Promise<void>,
): Promise<void> {
  const { server, port } = await startTestRegistry(options);
  try {
    await body((example) =>
      runToEnd(spawnReadmeExample(readme, example, { REGISTRY_ADDRESS: `127.0.0.1:${port}` })),
    );
  } finally {
    await server.shutdown({ graceMs: 100 });
  }
}

it("runs the README's script example against a real registry", async () => {
  await withRegistry({}, async (run) => {
    const first = await run("script");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^registered [0-9a-f-]{36} "1"$/m);
    expect(first.stdout).toContain("bert 1.0.0 production");
    // Run again: the same (name, version) now exists, which the example handles.
    const second = await run("script");
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("already registered");
  });
}, 60_000);

it("runs the README's streams example against a real registry", async () => {
  await withRegistry({}, async (run) => {
    const { code, stdout, stderr } = await run("streams");
    expect(code, stderr).toBe(0);
    expect(stdout).toContain("sent 3");
    expect(stdout).toContain("created 3 existing 0 failed 0");
    expect(stdout.match(/^\d+ CREATED resnet \d\.\d\.\d$/gm), stdout).toEqual([
      "1 CREATED resnet 1.0.0",
      "2 CREATED resnet 1.1.0",
      "3 CREATED resnet 2.0.0",
    ]);
  });
}, 60_000);

it("runs the README's aliases example against a real registry with a promotion policy", async () => {
  const aliasPolicy = { protectedAliases: { production: { metadata: { "eval.passed": "true" } } } };
  await withRegistry({ aliasPolicy }, async (run) => {
    const { code, stdout, stderr } = await run("aliases");
    expect(code, stderr).toBe(0);
    expect(stdout).toContain("champion -> 1.1.0 by anonymous");
    expect(stdout).toMatch(/^lost the compare-and-set: .*1\.1\.0/m);
    expect(stdout).toContain("serving bert 1.1.0");
    expect(stdout).toMatch(/^missing .*eval\.passed/m);
    expect(stdout.match(/^ALIAS_SET .*$/gm)).toEqual([
      "ALIAS_SET anonymous 1.0.0 -> 1.1.0",
      "ALIAS_SET anonymous (new) -> 1.0.0",
    ]);
    expect(stdout).toContain("rolled back to 1.0.0");
  });
}, 60_000);
