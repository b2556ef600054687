#!/usr/bin/env node
// The packed `modelreg` as a user gets it: packs @modelreg/cli and the five packages it depends on,
// installs the six tarballs with npm in an EMPTY folder outside the repository (so nothing resolves
// from the repo's node_modules; their other dependencies come from the npm registry), then runs
// `npx modelreg --help`, `npx modelreg up` on free ports and a temporary SQLite file, the web page at `/`
// (and its script), the README's walkthrough over HTTP (POST a model, GET it back, a 404), `npx modelreg models list --json` and
// `models export | models import` against the registry, then Ctrl-C: both servers stop; and the
// installed bin's `up` stopped by SIGTERM exits 0.
// Needs the packages built first (`npm run build`). Run by `npm run check:exports`. Interrupted (SIGINT,
// SIGTERM, SIGHUP) or failing, it kills the `up` process groups it started and removes its scratch folder.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const packages = ["proto", "registry-server", "registry-client", "gateway-express", "registry-ui", "cli"];
const scratch = mkdtempSync(join(tmpdir(), "modelreg-smoke-cli-"));
const app = join(scratch, "app");
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

/** Process groups of `up` still running: killed, and the scratch folder removed, however the script ends. */
const liveGroups = new Set();
function cleanUp() {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  liveGroups.clear();
  rmSync(scratch, { recursive: true, force: true });
}
// Ctrl-C, a CI timeout's SIGTERM, a closed terminal, or an uncaught error: no server or folder stays behind.
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
]) {
  process.on(signal, () => {
    console.error(`smoke-cli: ${signal}, stopping`);
    cleanUp();
    process.exit(code);
  });
}
process.on("exit", cleanUp);

let failures = 0;
const ok = (what) => console.log(`ok   ${what} (${elapsed()})`);
const fail = (what) => {
  console.error(`FAIL ${what}`);
  failures++;
};
const check = (condition, what, detail = "") =>
  condition ? ok(what) : fail(detail ? `${what}: ${detail}` : what);

/** A port nothing listens on now. */
async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

function run(command, args, options = {}) {
  try {
    const stdout = execFileSync(command, args, {
      cwd: app,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
      ...options,
    });
    return { code: 0, stdout, stderr: "" };
  } catch (error) {
    return { code: error.status ?? 1, stdout: error.stdout ?? "", stderr: error.stderr ?? String(error) };
  }
}

const npx = (args, options) => run("npx", ["--no-install", "modelreg", ...args], options);

async function untilAnswers(url, deadlineMs) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return true;
    } catch {}
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

function portClosed(port) {
  return new Promise((resolvePort) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolvePort(false);
    });
    socket.on("error", () => resolvePort(true));
  });
}

function packAll() {
  const tarballs = [];
  for (const name of packages) {
    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", scratch], {
        cwd: join(root, "packages", name),
        encoding: "utf8",
      }),
    );
    tarballs.push(join(scratch, packed.filename));
  }
  ok(`packed ${packages.length} packages`);
  return tarballs;
}

function install(tarballs) {
  mkdirSync(app);
  // better-sqlite3's install script fetches a prebuilt binary, or compiles it when it cannot (no
  // network to GitHub: about 2 minutes on 2 cores; JOBS=max lets node-gyp use every core).
  const manifest = { name: "smoke", private: true, type: "module", allowScripts: { "better-sqlite3": true } };
  writeFileSync(join(app, "package.json"), JSON.stringify(manifest));
  execFileSync(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...tarballs],
    {
      cwd: app,
      stdio: "inherit",
      timeout: 420_000,
      env: { ...process.env, JOBS: process.env.JOBS ?? "max" },
    },
  );
  ok(`npm install <${tarballs.length} tarballs> in an empty folder`);
}

function helpChecks() {
  const help = npx(["--help"]);
  check(help.code === 0, "npx modelreg --help exits 0", help.stderr);
  for (const command of ["serve", "gateway", "up", "migrate", "models", "aliases"]) {
    check(new RegExp(`^\\s+${command}\\b`, "m").test(help.stdout), `--help lists ${command}`);
  }
  for (const command of [["up"], ["models", "import"], ["models", "export"], ["models", "watch"]]) {
    const sub = npx([...command, "--help"]);
    check(sub.code === 0 && /Usage: modelreg/.test(sub.stdout), `npx modelreg ${command.join(" ")} --help`);
  }
}

/** The web page at `/` of the gateway, from the packed @modelreg/registry-ui's dist/ui, and its script. */
async function pageChecks(gatewayPort) {
  const page = await fetch(`http://127.0.0.1:${gatewayPort}/`);
  const html = await page.text();
  check(
    page.status === 200 && html.includes("<title>modelreg</title>"),
    "GET / serves the web page",
    `${page.status} ${html.slice(0, 200)}`,
  );
  const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
  const asset = script ? await fetch(`http://127.0.0.1:${gatewayPort}/${script}`) : undefined;
  check(
    asset?.status === 200,
    "GET /assets/<script> answers",
    String(asset?.status ?? "no script in the page"),
  );
}

/** The README's walkthrough against the gateway, and the client verbs against the registry. */
async function walkthrough(gatewayPort, registryPort) {
  await pageChecks(gatewayPort);
  const base = `http://127.0.0.1:${gatewayPort}/api/v1/models`;
  const body = JSON.stringify({ name: "test-model", version: "1.0.0", framework: "pytorch" });
  const post = await fetch(base, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  const created = await post.json();
  check(
    post.ok && created.name === "test-model" && created.id,
    "POST /api/v1/models",
    JSON.stringify(created),
  );
  const get = await fetch(`${base}/${created.id}`);
  const got = await get.json();
  check(get.ok && got.id === created.id && got.framework === "pytorch", "GET /api/v1/models/{id}");
  const missing = await fetch(`${base}/nope`);
  check(missing.status === 404, "GET /api/v1/models/nope is 404", String(missing.status));
  const registry = `127.0.0.1:${registryPort}`;
  const list = npx(["models", "list", "--registry", registry, "--json"]);
  check(
    list.code === 0 && list.stdout.includes('"test-model"'),
    "npx modelreg models list --json",
    list.stderr,
  );
  const exported = npx(["models", "export", "--registry", registry]);
  const lines = exported.stdout.trim().split("\n");
  check(
    exported.code === 0 && lines.length === 3 && lines[1].includes('"test-model"'),
    "npx modelreg models export",
    exported.stderr,
  );
  // Imported back into the same registry: nothing new (the model is already there).
  const imported = npx(["models", "import", "--registry", registry, "--json"], {
    input: exported.stdout,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const summary = imported.code === 0 ? JSON.parse(imported.stdout) : {};
  check(
    summary.models?.alreadyPresent === 1,
    "npx modelreg models import < export",
    imported.stderr || imported.stdout,
  );
}

/** Whether every process of group `pgid` has exited. */
function groupGone(pgid) {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch {
    return true;
  }
}

async function untilGroupGone(pgid, deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (!groupGone(pgid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  return groupGone(pgid);
}

/**
 * `modelreg up` on free ports and a temporary SQLite file, in its own process group: `npx modelreg up`
 * stopped by Ctrl-C (SIGINT to the whole group, as a terminal sends it), or the installed bin itself
 * (what npx runs) stopped by SIGTERM, which must exit 0. (npx runs the bin through a shell that does not
 * pass SIGTERM on, so a SIGTERM to npx alone would orphan the servers.)
 */
async function upChecks(how) {
  const [registryPort, gatewayPort] = [await freePort(), await freePort()];
  const args = ["up", "--registry-port", String(registryPort), "--gateway-port", String(gatewayPort)];
  args.push("--database-url", "sqlite:./data/registry.db");
  const [command, argv] =
    how === "npx"
      ? ["npx", ["--no-install", "modelreg", ...args]]
      : [join(app, "node_modules/.bin/modelreg"), args];
  const label = how === "npx" ? "npx modelreg up" : "node_modules/.bin/modelreg up";
  const up = spawn(command, argv, { cwd: app, stdio: ["ignore", "pipe", "pipe"], detached: true });
  liveGroups.add(up.pid);
  let output = "";
  up.stdout.on("data", (chunk) => {
    output += chunk;
  });
  up.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const exited = once(up, "exit");
  try {
    const ready = await untilAnswers(`http://127.0.0.1:${gatewayPort}/api/v1/models`, 60_000);
    check(ready, `${label}: the gateway answers`, output.slice(-2000));
    if (ready && how === "npx") await walkthrough(gatewayPort, registryPort);
  } finally {
    if (how === "npx") process.kill(-up.pid, "SIGINT");
    else up.kill("SIGTERM");
    const gone = await untilGroupGone(up.pid, 30_000);
    check(gone, `${label}: ${how === "npx" ? "Ctrl-C" : "SIGTERM"} stops every process`, output.slice(-2000));
    if (!gone) process.kill(-up.pid, "SIGKILL");
    const [code, signal] = await exited;
    liveGroups.delete(up.pid);
    if (how === "bin")
      check(code === 0, `${label}: exit code 0 after SIGTERM`, `code ${code} signal ${signal}`);
  }
  check((await portClosed(registryPort)) && (await portClosed(gatewayPort)), `${label}: both ports closed`);
}

try {
  const version = JSON.parse(readFileSync(join(root, "packages/cli/package.json"), "utf8")).version;
  console.log(`smoke: @modelreg/cli ${version} from its tarball, in ${app}`);
  install(packAll());
  helpChecks();
  await upChecks("npx");
  await upChecks("bin");
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
} finally {
  cleanUp();
}
console.log(`smoke-cli: ${failures === 0 ? "ok" : `${failures} failure(s)`} in ${elapsed()}`);
process.exit(failures === 0 ? 0 : 1);
