// `modelreg serve`, `gateway` and `up`: real servers on free ports over a temp SQLite file, in process
// (serveRegistry / serveGateway, runCli for option errors) and as child processes of the bin (signals,
// exit codes, `up`'s two children).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serveGateway } from "../src/servers/gateway";
import { serveRegistry } from "../src/servers/registry";
import { capturedIo, modelreg, tempDir } from "./cli-support";

const repoRoot = resolve(import.meta.dirname, "../../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const bin = join(repoRoot, "packages/cli/src/bin.ts");
const temp = tempDir("modelreg-servers-");
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
  temp.remove();
});

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** `modelreg <args>` as a child process of the bin (from sources, through tsx), its output collected. */
function spawnBin(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", tsx, bin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((done) =>
    child.once("exit", (code) => {
      running.delete(child);
      done(code);
    }),
  );
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Waits until `check` holds (polling), or fails with `what`. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const postModel = (base: string, body: unknown) =>
  fetch(`${base}/api/v1/models`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("serveRegistry and serveGateway", () => {
  it("answer the README's walkthrough over a SQLite file, and keep the data across a restart", async () => {
    const databaseUrl = `sqlite:${join(temp.dir, "walkthrough.db")}`;
    const registryIo = capturedIo();
    const registry = await serveRegistry({ port: 0, databaseUrl }, registryIo.io);
    const gatewayIo = capturedIo();
    const gateway = await serveGateway({ port: 0, registry: registry.address }, gatewayIo.io);
    try {
      const created = await postModel(gateway.url, {
        name: "test-model",
        version: "1.0.0",
        framework: "pytorch",
      });
      expect(created.status).toBe(200);
      const model = (await created.json()) as { id: string; name: string; etag: string };
      expect(model).toMatchObject({
        name: "test-model",
        version: "1.0.0",
        framework: "pytorch",
        etag: '"1"',
      });
      const listed = (await (await fetch(`${gateway.url}/api/v1/models`)).json()) as { models: unknown[] };
      expect(listed.models).toEqual([model]);
      const missing = await fetch(`${gateway.url}/api/v1/models/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
      const health = await fetch(`${gateway.url}/healthz`);
      expect(await health.json()).toEqual({ status: "ok" });
      expect(registryIo.stdout()).toContain('"msg":"gRPC server listening"');
      expect(gatewayIo.stdout()).toContain('"msg":"API gateway listening"');
    } finally {
      await gateway.stop();
      await registry.stop();
    }
    // Stopped means closed: the port refuses, and the file holds the model for the next start.
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
    const again = await serveRegistry({ port: 0, databaseUrl }, capturedIo().io);
    const gatewayAgain = await serveGateway({ port: 0, registry: again.address }, capturedIo().io);
    try {
      const body = (await (await fetch(`${gatewayAgain.url}/api/v1/models`)).json()) as {
        models: { name: string }[];
      };
      expect(body.models.map((m) => m.name)).toEqual(["test-model"]);
    } finally {
      await gatewayAgain.stop();
      await again.stop();
    }
  }, 60_000);

  it("refuses a bad setting before listening, naming the option, and logs it as an error line", async () => {
    const io = capturedIo();
    await expect(serveRegistry({ port: 70_000 }, io.io)).rejects.toThrow(
      '--port must be an integer from 0 to 65535 (got "70000")',
    );
    expect(io.stdout()).toContain('"level":50');
    expect(io.stdout()).not.toContain("listening");
  });
});

describe("option sources and errors (runCli)", () => {
  const config = join(temp.dir, "modelreg.yaml");
  writeFileSync(config, "serve:\n  retainHistory: 0\ngateway:\n  pool-size: 99\n");

  it("a flag beats the environment, which beats the config file: the message names where the bad value came from", async () => {
    const fromFlag = await modelreg(["--config", config, "serve", "--retain-history", "0"], {
      RETAIN_HISTORY: "5",
    });
    expect(fromFlag.code).toBe(1);
    expect(fromFlag.stderr).toBe(
      `modelreg: --retain-history must be an integer from 1 to ${Number.MAX_SAFE_INTEGER} (got "0")\n`,
    );
    const fromEnv = await modelreg(["--config", config, "serve"], { RETAIN_HISTORY: "-3" });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain("modelreg: RETAIN_HISTORY must be an integer");
    const fromFile = await modelreg(["--config", config, "serve"]);
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toContain("modelreg: retainHistory (config file) must be an integer");
    const gateway = await modelreg(["--config", config, "gateway"]);
    expect(gateway.stderr).toBe(
      'modelreg: poolSize (config file) must be an integer from 1 to 64 (got "99")\n',
    );
    expect(gateway.code).toBe(1);
  });

  it("bad values exit 1 with one line naming the flag or variable, never a password", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [
        ["gateway", "--max-queued-requests", "-1"],
        {},
        "--max-queued-requests must be an integer from 0 to 1000000",
      ],
      [
        ["gateway"],
        { CACHE_URL: "redis://u:hunter2@h:6379/0/x" },
        "CACHE_URL must be memory:, off, or redis://",
      ],
      [
        ["serve", "--database-url", "oracle://u:hunter2@db/x"],
        {},
        "--database-url must be sqlite:PATH, memory:",
      ],
      [["serve", "--tls-cert-file", join(temp.dir, "none.pem")], {}, "--tls-cert-file: cannot read"],
      [["serve", "--log-level", "loud"], {}, "--log-level must be one of fatal, error"],
      [["serve"], { MIGRATE: "perhaps" }, 'MIGRATE must be true or false (got "perhaps")'],
      [["up", "--gateway-port", "http"], {}, "--gateway-port must be an integer from 1 to 65535"],
    ];
    for (const [argv, env, message] of cases) {
      const run = await modelreg(argv, env, temp.dir);
      expect({ argv, code: run.code }).toEqual({ argv, code: 1 });
      expect(run.stderr).toContain(`modelreg: ${message}`);
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr + run.stdout).not.toContain("hunter2");
    }
  });

  it("serve --no-migrate refuses a database that needs migrations, creating nothing", async () => {
    const run = await modelreg(
      ["serve", "--no-migrate", "--port", "0", "--database-url", "sqlite:fresh.db"],
      {},
      temp.dir,
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^modelreg: the database schema is not current: \d+ pending migration.*modelreg migrate/,
    );
    expect(run.stdout).toContain('"level":50');
    expect(run.stdout).not.toContain("gRPC server listening");
    expect(existsSync(join(temp.dir, "fresh.db"))).toBe(false);
  }, 30_000);
});

describe("the bin: serve, gateway and up as processes", () => {
  it("serve listens on the flag's port over the variable's and the config file's, and exits 0 on SIGTERM", async () => {
    const [flagPort, envPort, filePort] = [await freePort(), await freePort(), await freePort()];
    const file = join(temp.dir, "ports.json");
    writeFileSync(file, JSON.stringify({ serve: { port: filePort, databaseUrl: "memory:" } }));
    const serve = spawnBin(["--config", file, "serve", "--port", String(flagPort)], {
      REGISTRY_PORT: String(envPort),
    });
    await until(() => serve.stdout().includes('"msg":"gRPC server listening"'), "the registry to listen");
    expect(serve.stdout()).toContain(`"port":${flagPort},"msg":"gRPC server listening"`);
    serve.child.kill("SIGTERM");
    expect(await serve.exited).toBe(0);
    expect(serve.stdout()).toContain('"signal":"SIGTERM","msg":"stopping"');

    const fromEnv = spawnBin(["--config", file, "serve"], { REGISTRY_PORT: String(envPort) });
    await until(() => fromEnv.stdout().includes('"msg":"gRPC server listening"'), "the registry to listen");
    expect(fromEnv.stdout()).toContain(`"port":${envPort},"msg":"gRPC server listening"`);
    fromEnv.child.kill("SIGINT");
    expect(await fromEnv.exited).toBe(0);
  }, 90_000);

  it("up runs both, serves the walkthrough, and stops both on SIGTERM with exit 0", async () => {
    const [registryPort, gatewayPort] = [await freePort(), await freePort()];
    const databaseUrl = `sqlite:${join(temp.dir, "up.db")}`;
    // up's own section and the children's: the gateway reads its gateway: section through --config.
    const file = join(temp.dir, "up.yaml");
    writeFileSync(file, `up:\n  database-url: ${databaseUrl}\ngateway:\n  cacheUrl: "off"\n`);
    const up = spawnBin([
      "--config",
      file,
      "up",
      "--registry-port",
      String(registryPort),
      "--gateway-port",
      String(gatewayPort),
    ]);
    const base = `http://127.0.0.1:${gatewayPort}`;
    await until(
      () => up.stdout().includes('"msg":"Connected to Model Registry gRPC service"'),
      "the gateway to reach the registry",
    );
    const created = await postModel(base, { name: "up-model", version: "1" });
    expect(created.status).toBe(200);
    const listed = (await (await fetch(`${base}/api/v1/models`)).json()) as { models: { name: string }[] };
    expect(listed.models.map((m) => m.name)).toEqual(["up-model"]);
    expect(up.stdout()).toContain('"service":"registry"');
    expect(up.stdout()).toContain('"service":"gateway"');
    expect(up.stdout()).toContain('"msg":"read cache off"');
    expect(up.stdout()).toContain(`"path":"${join(temp.dir, "up.db")}","msg":"using SQLite storage"`);
    up.child.kill("SIGTERM");
    expect(await up.exited).toBe(0);
    expect(up.stdout()).toContain('"msg":"gateway stopped"');
    expect(up.stdout()).toContain('"msg":"gRPC server stopped"');
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  }, 120_000);

  it("up stops the registry and exits 7 when the gateway dies (its port is taken)", async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, "127.0.0.1", done));
    const gatewayPort = (taken.address() as { port: number }).port;
    const registryPort = await freePort();
    try {
      const up = spawnBin([
        "up",
        "--registry-port",
        String(registryPort),
        "--gateway-port",
        String(gatewayPort),
        "--database-url",
        "memory:",
      ]);
      expect(await up.exited).toBe(7);
      expect(up.stderr()).toMatch(/modelreg: the gateway exited \(7\); stopped the other process/);
      expect(up.stderr()).toContain(`the gateway cannot listen on 127.0.0.1:${gatewayPort}`);
      // The registry is gone too (stopped cleanly, or before it had started): nothing listens on its port.
      const refused = await new Promise<boolean>((done) => {
        const socket = connect(registryPort, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          done(false);
        });
        socket.once("error", () => done(true));
      });
      expect(refused).toBe(true);
    } finally {
      taken.close();
    }
  }, 120_000);
});
