import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

/** The repository root. */
export const repoRoot = resolve(import.meta.dirname, "..");

/** The ```ts block that follows `<!-- readme-example: NAME -->` in a README. */
export function readmeExample(readmePath: string, name: string): string {
  const readme = readFileSync(readmePath, "utf8");
  const match = new RegExp(`<!-- readme-example: ${name} -->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match?.[1]) throw new Error(`${readmePath} has no example named ${name}`);
  return match[1];
}

/**
 * Runs a README example as its own Node process with tsx, from the repo root
 * so `@modelreg/*` resolve through tsconfig paths to the sources, the way an
 * installed package resolves for a user. Returns the child process.
 */
export function spawnReadmeExample(readmePath: string, name: string, env: Record<string, string> = {}) {
  const file = join(repoRoot, `.readme-example-${name}-${process.pid}.ts`);
  writeFileSync(file, readmeExample(readmePath, name));
  const tsx = createRequire(import.meta.url).resolve("tsx");
  const child = spawn(process.execPath, ["--import", tsx, file], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.once("exit", () => rmSync(file, { force: true }));
  return child;
}

/** Collects a child's output and waits for it to exit. */
export async function runToEnd(child: ReturnType<typeof spawn>) {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  return { code, stdout, stderr };
}
