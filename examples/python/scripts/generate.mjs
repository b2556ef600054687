#!/usr/bin/env node
// Regenerates examples/python/modelreg/_gen/: the Python stubs of the
// modelregistry.v1 contract (messages, .pyi type stubs, the gRPC client
// stub), and of the google.api / google.rpc files they import or that
// errors carry (google.rpc.Status and its details), because Debian has no
// googleapis-common-protos package. google/ gets no __init__.py: `google` is
// a PEP 420 namespace package, so these directories merge with the
// protobuf runtime's google.protobuf.
//
// Uses the system's `protoc` and `grpc_python_plugin` (Debian:
// protobuf-compiler, protobuf-compiler-grpc), found on PATH without its
// node_modules/.bin entries (npm puts @protobuf-ts's `protoc` wrapper there,
// which downloads a protoc of its own). The output depends on protoc's
// version, so only the pinned one regenerates; with another, or without the
// tools, it says why and skips (fails under CI: any CI other than "", "false"
// or "0"), so `npm run generate` still works for TypeScript-only
// contributors. A skip is also appended to the file MODELREG_GENERATE_REPORT
// names, when set (scripts/check-generated.mjs reports it). The stubs are
// generated into a temporary folder and swapped in only when every protoc
// run succeeded: a failed run keeps the committed ones. CI runs it through
// scripts/check-generated.mjs, which fails on any drift.
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The protoc that generated the committed files (Debian bookworm's protobuf-compiler). */
const pinnedProtoc = "libprotoc 3.21.12";

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(exampleDir, "../..");
const outDir = join(exampleDir, "modelreg", "_gen");
const contractDir = join(repoRoot, "packages", "proto", "proto");
const googleDir = join(repoRoot, "node_modules", "google-proto-files");
const contract = ["modelregistry/v1/model.proto", "modelregistry/v1/model_service.proto"];
const google = [
  "google/api/annotations.proto",
  "google/api/field_behavior.proto",
  "google/api/http.proto",
  "google/rpc/code.proto",
  "google/rpc/error_details.proto",
  "google/rpc/status.proto",
];
const installHint =
  "install protoc and the gRPC Python plugin (Debian/Ubuntu: apt-get install protobuf-compiler protobuf-compiler-grpc)";

/** Whether this runs under CI: `CI` set to anything but "", "false" or "0" (GitHub: "true", others: "1"). */
const ci = !["", "false", "0"].includes((process.env.CI ?? "").trim().toLowerCase());

function skip(reason) {
  if (ci) {
    console.error(`examples/python: cannot regenerate the Python stubs: ${reason}`);
    process.exit(1);
  }
  console.warn(`examples/python: skipped regenerating the Python stubs (committed ones kept): ${reason}`);
  const report = process.env.MODELREG_GENERATE_REPORT;
  if (report) appendFileSync(report, `the Python stubs were not regenerated: ${reason}\n`);
  process.exit(0);
}

/** `command` on PATH, skipping node_modules/.bin folders (npm's, and any package's wrappers). */
function which(command) {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "" || /(?:^|[\\/])node_modules[\\/]\.bin[\\/]?$/.test(dir)) continue;
    if (existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

const protoc = which("protoc");
const plugin = process.env.GRPC_PYTHON_PLUGIN ?? which("grpc_python_plugin");
if (protoc === undefined || plugin === undefined) {
  skip(`${protoc === undefined ? "protoc" : "grpc_python_plugin"} is not on PATH; ${installHint}`);
}
let version;
try {
  version = execFileSync(protoc, ["--version"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
} catch (error) {
  skip(`\`${protoc} --version\` failed (${error.message.split("\n")[0]}); ${installHint}`);
}
if (version !== pinnedProtoc) {
  skip(`protoc is "${version}", the committed stubs come from "${pinnedProtoc}" (Debian bookworm)`);
}
if (!existsSync(join(googleDir, "google", "rpc", "status.proto"))) {
  skip("node_modules/google-proto-files is missing; run `npm ci` first");
}

function run(into, files, grpc) {
  const args = [`-I${contractDir}`, `-I${googleDir}`, `--python_out=${into}`, `--pyi_out=${into}`];
  if (grpc) args.push(`--grpc_python_out=${into}`, `--plugin=protoc-gen-grpc_python=${plugin}`);
  execFileSync(protoc, [...args, ...files], { cwd: repoRoot, stdio: "inherit" });
}

// Next to the output (one file system, so the swap is a rename), removed whatever happens.
const tmpDir = join(exampleDir, "modelreg", `._gen.tmp-${process.pid}`);
rmSync(tmpDir, { recursive: true, force: true });
mkdirSync(tmpDir, { recursive: true });
try {
  run(tmpDir, ["modelregistry/v1/model.proto"], false);
  run(tmpDir, ["modelregistry/v1/model_service.proto"], true);
  run(tmpDir, google, false);
} catch (error) {
  rmSync(tmpDir, { recursive: true, force: true });
  console.error(
    `examples/python: protoc failed (${error.message.split("\n")[0]}); the committed stubs are kept`,
  );
  process.exit(1);
}
rmSync(outDir, { recursive: true, force: true });
renameSync(tmpDir, outDir);
console.log(`examples/python: regenerated ${contract.length + google.length} files' stubs in modelreg/_gen`);
