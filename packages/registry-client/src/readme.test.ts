import { resolve } from "node:path";
import { createMemoryStorage, createRegistryServer } from "@modelreg/registry-server";
import { expect, it } from "vitest";
import { runToEnd, spawnReadmeExample } from "../../../test-support/readme-examples";

it("runs the README's script example against a real registry", async () => {
  const server = createRegistryServer({
    storage: createMemoryStorage(),
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  const { port } = await server.listen();
  try {
    const readme = resolve(import.meta.dirname, "../README.md");
    const run = () =>
      runToEnd(spawnReadmeExample(readme, "script", { REGISTRY_ADDRESS: `127.0.0.1:${port}` }));
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^registered [0-9a-f-]{36} "1"$/m);
    expect(first.stdout).toContain("bert 1.0.0 production");
    // Run again: the same (name, version) now exists, which the example handles.
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("already registered");
  } finally {
    await server.shutdown({ graceMs: 100 });
  }
}, 60_000);
