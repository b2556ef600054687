// examples/python/scripts/generate.mjs, run as `npm run generate` runs it, in a copy of the repository's
// layout (its own modelreg/_gen, the real .proto files linked in), with fake tools on PATH: it never
// runs npm's node_modules/.bin/protoc wrapper, treats CI=1 as CI, keeps the committed stubs when protoc
// fails, and reports a skipped step to scripts/check-generated.mjs.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(exampleDir, "../..");
const pinnedProtoc = "libprotoc 3.21.12";

const tmp = mkdtempSync(join(tmpdir(), "modelreg-py-generate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every file under `dir`, by relative path, with its bytes (hex). */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files[relative(dir, path)] = readFileSync(path).toString("hex");
    }
  };
  walk(dir);
  return files;
}

function script(path: string, body: string): void {
  // Its own PATH: the one generate.mjs is given holds only the test's tools.
  writeFileSync(path, `#!/bin/sh\nPATH=/usr/bin:/bin\n${body}\n`);
  chmodSync(path, 0o755);
}

/**
 * A copy of the layout generate.mjs works in, with node_modules/.bin/protoc a fake npm wrapper that
 * leaves a marker file when run, and an empty `bin` folder for the test's own tools.
 */
function layout() {
  const root = mkdtempSync(join(tmp, "repo-"));
  const scripts = join(root, "examples/python/scripts");
  mkdirSync(scripts, { recursive: true });
  cpSync(join(exampleDir, "scripts/generate.mjs"), join(scripts, "generate.mjs"));
  const gen = join(root, "examples/python/modelreg/_gen");
  cpSync(join(exampleDir, "modelreg/_gen"), gen, { recursive: true });
  mkdirSync(join(root, "packages/proto"), { recursive: true });
  symlinkSync(join(repoRoot, "packages/proto/proto"), join(root, "packages/proto/proto"));
  mkdirSync(join(root, "node_modules/.bin"), { recursive: true });
  symlinkSync(
    join(repoRoot, "node_modules/google-proto-files"),
    join(root, "node_modules/google-proto-files"),
  );
  const marker = join(root, "npm-wrapper-ran");
  script(join(root, "node_modules/.bin/protoc"), `touch '${marker}'\nexit 1`);
  const bin = join(root, "bin");
  mkdirSync(bin);
  script(join(bin, "grpc_python_plugin"), "exit 1");
  const committed = snapshot(gen);
  const report = join(root, "report");
  const run = (path: string, env: Record<string, string> = {}) => {
    const result = spawnSync(process.execPath, [join(scripts, "generate.mjs")], {
      cwd: root,
      encoding: "utf8",
      env: { PATH: path, MODELREG_GENERATE_REPORT: report, ...env },
      timeout: 60_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  return {
    root,
    bin,
    gen,
    run,
    /** What an `npm run` PATH looks like: node_modules/.bin first. */
    npmPath: (...dirs: string[]) => [join(root, "node_modules/.bin"), ...dirs].join(":"),
    wrapperRan: () => existsSync(marker),
    stubsKept: () => snapshot(gen),
    committed,
    reported: () => (existsSync(report) ? readFileSync(report, "utf8") : ""),
    leftovers: () => readdirSync(join(root, "examples/python/modelreg")).filter((name) => name !== "_gen"),
  };
}

describe("examples/python/scripts/generate.mjs", () => {
  it("never runs npm's node_modules/.bin/protoc: without a system protoc it skips, says so and reports it", () => {
    const repo = layout();
    const { code, stderr } = repo.run(repo.npmPath(repo.bin), { CI: "false" });
    expect(code).toBe(0);
    expect(stderr).toMatch(
      /skipped regenerating the Python stubs \(committed ones kept\): protoc is not on PATH/,
    );
    expect(repo.wrapperRan()).toBe(false);
    expect(repo.reported()).toMatch(/^the Python stubs were not regenerated: protoc is not on PATH/);
    expect(repo.stubsKept()).toEqual(repo.committed);
  });

  it("treats any CI other than empty, false or 0 as CI: a missing tool fails there", () => {
    const repo = layout();
    for (const ci of ["1", "true", "yes"]) {
      const { code, stderr } = repo.run(repo.npmPath(repo.bin), { CI: ci });
      expect({ ci, code }).toEqual({ ci, code: 1 });
      expect(stderr).toMatch(/cannot regenerate the Python stubs: protoc is not on PATH/);
    }
    for (const ci of ["", "0", "false"]) expect(repo.run(repo.npmPath(repo.bin), { CI: ci }).code).toBe(0);
    expect(repo.wrapperRan()).toBe(false);
  });

  it("keeps the committed stubs when protoc fails part-way, and leaves no temporary folder", () => {
    const repo = layout();
    // The pinned version, but the second run (the gRPC stubs) fails after the first wrote its files.
    const state = join(repo.root, "runs");
    script(
      join(repo.bin, "protoc"),
      `[ "$1" = "--version" ] && { echo '${pinnedProtoc}'; exit 0; }
echo x >> '${state}'
[ "$(wc -l < '${state}')" -ge 2 ] && { echo 'protoc: boom' >&2; exit 1; }
for a in "$@"; do case "$a" in --python_out=*) mkdir -p "\${a#--python_out=}/x" && echo partial > "\${a#--python_out=}/x/y.py";; esac; done
exit 0`,
    );
    const { code, stderr } = repo.run(repo.npmPath(repo.bin), { CI: "" });
    expect(code).toBe(1);
    expect(stderr).toMatch(/protoc failed .*the committed stubs are kept/);
    expect(repo.stubsKept()).toEqual(repo.committed);
    expect(repo.leftovers()).toEqual([]);
  });

  const systemProtoc = spawnSync("/usr/bin/protoc", ["--version"], { encoding: "utf8" }).stdout?.trim();
  const haveTools = systemProtoc === pinnedProtoc && existsSync("/usr/bin/grpc_python_plugin");
  if (!haveTools) {
    const message = `regenerating needs ${pinnedProtoc} and grpc_python_plugin in /usr/bin (apt-get install protobuf-compiler protobuf-compiler-grpc)`;
    // As every test that needs a tool: loud under CI (.ci/run installs them), skipped with the reason elsewhere.
    if (process.env.CI === "true")
      throw new Error(`generate.test.ts: ${message}. Under CI (CI=true) this test must run.`);
    process.stderr.write(`\n[skipped] generate.test.ts: ${message}\n\n`);
  }
  it.skipIf(!haveTools)("with the system's pinned protoc, regenerates exactly the committed stubs", () => {
    const repo = layout();
    rmSync(join(repo.bin, "grpc_python_plugin"));
    const { code, stdout, stderr } = repo.run(repo.npmPath("/usr/bin", "/bin"), { CI: "true" });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(/regenerated 8 files' stubs in modelreg\/_gen/);
    expect(repo.wrapperRan()).toBe(false);
    expect(repo.stubsKept()).toEqual(repo.committed);
    expect(repo.leftovers()).toEqual([]);
    expect(repo.reported()).toBe("");
  });
});
