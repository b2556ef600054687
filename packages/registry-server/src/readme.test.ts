import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Model } from "@modelreg/proto";
import { afterAll, expect, it } from "vitest";
import { createTestClient } from "./test-support/grpc-client";

const packageDir = resolve(import.meta.dirname, "..");
const repoRoot = resolve(packageDir, "../..");
const tmp = mkdtempSync(join(tmpdir(), "modelreg-readme-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The code block that follows `<!-- readme-example: NAME -->` in the README. */
function readmeExample(name: string): string {
  const readme = readFileSync(join(packageDir, "README.md"), "utf8");
  const match = new RegExp(`<!-- readme-example: ${name} -->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match?.[1]) throw new Error(`README.md has no example named ${name}`);
  return match[1];
}

it("runs the README's embedding example: it serves, answers a call, and stops on SIGTERM", async () => {
  // Inside the repo so tsx resolves @modelreg/* through tsconfig paths, like an install would.
  const file = join(repoRoot, `.readme-example-${process.pid}.ts`);
  writeFileSync(file, readmeExample("embed"));
  try {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = spawn(process.execPath, ["--import", tsx, file], {
      cwd: repoRoot,
      env: { ...process.env, PORT: "0", DATABASE_PATH: join(tmp, "readme.db") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    const logs: Record<string, unknown>[] = [];
    const port = await new Promise<number>((resolvePort, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "gRPC server listening") resolvePort(Number(entry.port));
      });
      child.once("exit", (code) => reject(new Error(`example exited early (${code})`)));
    });
    expect(logs[0]).toMatchObject({ msg: "gRPC server starting", port: 0 });

    const client = createTestClient(`127.0.0.1:${port}`);
    const { model } = await client.call<{ model: Model }>("CreateModel", {
      model: { name: "test-model", version: "1.0.0", framework: "pytorch" },
    });
    expect(model.name).toBe("test-model");
    client.close();

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(logs.map((l) => l.msg)).toContain("gRPC server stopped");
  } finally {
    rmSync(file, { force: true });
  }
}, 30_000);
