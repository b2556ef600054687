#!/usr/bin/env node
// Packs every publishable workspace package, installs the tarball where Node
// resolves it like a user's install would, then loads it with require() and
// import() and checks a named export. Catches exports maps that point at
// missing files, CJS/ESM mix-ups and files left out of "files".
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
// Inside the repo, so the packages' own dependencies resolve from the root node_modules.
const scratch = mkdtempSync(join(root, "node_modules", ".smoke-"));

// One export per entry point that proves the bundle really loaded.
const probes = {
  "@modelreg/proto": { ".": "ModelService" },
  "@modelreg/registry-server": {
    ".": "createRegistryServer",
    "./storage/sqlite": "createSqliteStorage",
    "./storage/postgres": "createPostgresStorage",
    "./storage/mysql": "createMysqlStorage",
    "./testing": "defineStorageConformanceSuite",
  },
  "@modelreg/registry-client": { ".": "createRegistryClient", "./redis": "createRedisCacheStore" },
  "@modelreg/gateway-express": { ".": "createGatewayMiddleware" },
  "@modelreg/registry-ui": { ".": "createRegistryUi" },
  "@modelreg/cli": { ".": "runCli" },
};
// Calls that prove more than an export: the page's middleware finds its prebuilt dist/ui in the tarball.
const calls = { "@modelreg/registry-ui": "m.createRegistryUi()" };

let failures = 0;
try {
  for (const dir of rootManifest.workspaces.filter((w) => w.startsWith("packages/"))) {
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    if (manifest.private) continue;
    const probe = probes[manifest.name];
    if (!probe) throw new Error(`${manifest.name}: add an export to check in scripts/smoke-packages.mjs`);

    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", scratch], {
        cwd: join(root, dir),
        encoding: "utf8",
      }),
    );
    // What a user of the registry page and of `npm view` expects in every tarball.
    const packedFiles = new Set(packed.files.map((f) => f.path));
    for (const file of ["LICENSE", "README.md", "package.json"]) {
      if (!packedFiles.has(file)) {
        console.error(`FAIL ${manifest.name}: the tarball has no ${file}`);
        failures++;
      }
    }
    for (const field of ["license", "repository", "homepage", "bugs", "description"]) {
      if (!manifest[field]) {
        console.error(`FAIL ${manifest.name}: package.json has no "${field}"`);
        failures++;
      }
    }
    const installDir = join(scratch, "node_modules", manifest.name);
    mkdirSync(installDir, { recursive: true });
    execFileSync("tar", ["-xzf", join(scratch, packed.filename), "-C", installDir, "--strip-components=1"]);

    for (const [subpath, name] of Object.entries(probe)) {
      const specifier = JSON.stringify(
        subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
      );
      const call = subpath === "." && calls[manifest.name] ? ` ${calls[manifest.name]};` : "";
      const checks = {
        require: `const m = require(${specifier}); if (!m[${JSON.stringify(name)}]) process.exit(1);${call}`,
        import: `const m = await import(${specifier}); if (!m[${JSON.stringify(name)}]) process.exit(1);${call}`,
      };
      for (const [kind, code] of Object.entries(checks)) {
        const args = kind === "import" ? ["--input-type=module", "-e", code] : ["-e", code];
        try {
          execFileSync(process.execPath, args, { cwd: scratch, stdio: "inherit" });
          console.log(`ok   ${specifier} via ${kind}() exports ${name}`);
        } catch {
          console.error(`FAIL ${specifier} via ${kind}()`);
          failures++;
        }
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
