// `modelreg serve`, `gateway` and `up`: real servers on free ports over a temp SQLite file, in process
// (serveRegistry / serveGateway, runCli for option errors) and as child processes of the bin (signals,
// exit codes, `up`'s two children).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serveGateway } from "../src/servers/gateway";
import { serveRegistry } from "../src/servers/registry";
import { binPath, binProcesses, freePort, repoRoot } from "./bin-process";
import { capturedIo, modelreg, tempDir } from "./cli-support";

const temp = tempDir("modelreg-servers-");
const { spawnBin, killAll } = binProcesses();
afterAll(() => {
  killAll();
  temp.remove();
});

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after its last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
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

  it("reads a relative --auth-tokens-file from its io's working directory, as the TLS files", async () => {
    writeFileSync(join(temp.dir, "auth.json"), '{"tokens":[]}');
    const io = capturedIo({}, temp.dir);
    const registry = await serveRegistry(
      { port: 0, databaseUrl: "memory:", authTokensFile: "auth.json", logLevel: "info" },
      io.io,
    );
    await registry.stop();
    expect(io.stdout()).toContain(`"file":"${join(temp.dir, "auth.json")}"`);
    expect(io.stdout()).toContain('"msg":"tokens and roles on"');
  });

  it("ends open REST watch streams on stop, so the gateway stops at once", async () => {
    const registry = await serveRegistry({ port: 0, databaseUrl: "memory:" }, capturedIo().io);
    const gatewayIo = capturedIo();
    const gateway = await serveGateway({ port: 0, registry: registry.address }, gatewayIo.io);
    try {
      const watch = await fetch(`${gateway.url}/api/v1/models:watch`, {
        headers: { accept: "text/event-stream" },
      });
      expect(watch.status).toBe(200);
      const reader = (watch.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // the stream is established
      const started = Date.now();
      await gateway.stop();
      // The default grace period is 10 s: ending the watch does not wait for it.
      expect(Date.now() - started).toBeLessThan(5000);
      // The watcher sees its stream end (and reconnects elsewhere, as after a registry's stop).
      await expect(
        (async () => {
          for (;;) if ((await reader.read()).done) return "ended";
        })(),
      ).rejects.toThrow();
      expect(gatewayIo.stdout()).toContain('"watches":1,"msg":"ending open watch streams"');
    } finally {
      await gateway.stop();
      await registry.stop();
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
      [
        ["serve"],
        { REGISTRY_PORT: "0x1F90" },
        'REGISTRY_PORT must be an integer from 0 to 65535 (got "0x1F90")',
      ],
      [["gateway", "--pool-size", "1e1"], {}, '--pool-size must be an integer from 1 to 64 (got "1e1")'],
      // up checks what it passes on before it starts anything: one line, exit 1.
      [["up", "--log-level", "loud"], {}, "--log-level must be one of fatal, error"],
      [
        ["up", "--database-url", "oracle://u:hunter2@db/x"],
        {},
        "--database-url must be sqlite:PATH, memory:",
      ],
      [["up"], { DATABASE_URL: "oracle://u:hunter2@db/x" }, "DATABASE_URL must be sqlite:PATH, memory:"],
      [["up", "--cache-url", "http://u:hunter2@h/"], {}, "--cache-url must be memory:, off, or redis://"],
      [["up", "--ui-title", "x".repeat(201)], {}, "--ui-title must be at most 200 characters (got 201)"],
      // Driver options the drivers would fail on later, said up front naming the option.
      [
        ["serve", "--database-url", "mysql://u:hunter2@h/db?ssl=true"],
        {},
        "--database-url: the ssl parameter must be a JSON object of TLS options",
      ],
      [
        ["serve"],
        { DATABASE_URL: `postgres://u:hunter2@h/db?sslrootcert=${join(temp.dir, "none.crt")}` },
        "DATABASE_URL: sslrootcert: cannot read",
      ],
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

  it("up keeps passwords off its children's command lines, passes SIGHUP on, and its children stop when it is killed", async () => {
    const [registryPort, gatewayPort] = [await freePort(), await freePort()];
    // Passwords in the config file (mode 600 in real life): they reach the children by their environment.
    const file = join(temp.dir, "secret.yaml");
    const cache = "redis://:hunter2@127.0.0.1:1/0";
    writeFileSync(
      file,
      `up:\n  databaseUrl: "sqlite:${join(temp.dir, "hunter2.db")}"\n  cacheUrl: "${cache}"\n`,
    );
    const up = spawnBin([
      "--config",
      file,
      "up",
      "--registry-port",
      String(registryPort),
      "--gateway-port",
      String(gatewayPort),
    ]);
    await until(
      async () => (await listening(registryPort)) && (await listening(gatewayPort)),
      "the registry and the gateway to listen",
    );
    // (tsx may run an esbuild process too: only the bin's two.)
    const children = childrenOf(up.child.pid as number).filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(binPath),
    );
    expect(children).toHaveLength(2);
    for (const pid of children) {
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain("hunter2");
      expect(readFileSync(`/proc/${pid}/environ`, "utf8")).toMatch(
        /(?:DATABASE_URL|CACHE_URL)=[^\0]*hunter2/,
      );
    }
    expect(up.stdout()).toContain(`"path":"${join(temp.dir, "hunter2.db")}","msg":"using SQLite storage"`);

    // SIGHUP (the auth file's reload signal) reaches the registry; nothing stops.
    up.child.kill("SIGHUP");
    await until(() => up.stdout().includes('"msg":"no auth file to read again"'), "the registry's SIGHUP");
    expect(up.child.exitCode).toBe(null);
    expect((await fetch(`http://127.0.0.1:${gatewayPort}/healthz`)).status).toBe(200);

    // up dies without a word: its children notice (their IPC channel closes) and stop.
    up.child.kill("SIGKILL");
    await until(
      async () => !(await listening(registryPort)) && !(await listening(gatewayPort)),
      "both ports to close after up was killed",
      15_000,
    );
    await until(() => children.every((pid) => !existsSync(`/proc/${pid}`)), "both children to exit", 15_000);
    expect(up.stdout()).toContain('"reason":"the modelreg up process is gone","msg":"stopping"');
  }, 120_000);

  it("up from a launcher script (runCli) runs the modelreg bin, and points the gateway at serve:'s port", async () => {
    const [registryPort, gatewayPort] = [await freePort(), await freePort()];
    const file = join(temp.dir, "serve-port.yaml");
    writeFileSync(file, `serve:\n  port: ${registryPort}\n  databaseUrl: "memory:"\n`);
    // Like the reference deployment's wrappers; a re-run of it by up says so and exits 0.
    const launcher = join(temp.dir, "launcher.mts");
    writeFileSync(
      launcher,
      `import { processIo, runCli } from ${JSON.stringify(join(repoRoot, "packages/cli/src/main.ts"))};\n` +
        "if (process.env.LAUNCHER_RUN) {\n" +
        '  process.stdout.write("launcher re-run with " + JSON.stringify(process.argv.slice(2)) + "\\n");\n' +
        "  process.exit(0);\n}\n" +
        'process.env.LAUNCHER_RUN = "1";\n' +
        "process.exit(await runCli(process.argv.slice(2), processIo()));\n",
    );
    const up = spawnBin(["--config", file, "up", "--gateway-port", String(gatewayPort)], {}, [launcher]);
    await until(
      () =>
        up.stdout().includes('"msg":"Connected to Model Registry gRPC service"') ||
        up.child.exitCode !== null,
      "the gateway to reach the registry",
    );
    expect(up.stdout()).not.toContain("launcher re-run");
    expect(up.stdout()).toContain(
      `"address":"localhost:${registryPort}","msg":"Connecting to Model Registry`,
    );
    const created = await postModel(`http://127.0.0.1:${gatewayPort}`, { name: "launched", version: "1" });
    expect(created.status).toBe(200);
    up.child.kill("SIGTERM");
    expect(await up.exited).toBe(0);
  }, 120_000);

  it("up with REGISTRY_PORT=0, as serve takes it: the gateway is pointed at the port the registry got", async () => {
    const gatewayPort = await freePort();
    const up = spawnBin(["up", "--gateway-port", String(gatewayPort), "--database-url", "memory:"], {
      REGISTRY_PORT: "0",
    });
    await until(
      () =>
        up.stdout().includes('"msg":"Connected to Model Registry gRPC service"') ||
        up.child.exitCode !== null,
      "the gateway to reach the registry",
    );
    const port = /"port":(\d+),"msg":"gRPC server listening"/.exec(up.stdout())?.[1];
    expect(Number(port)).toBeGreaterThan(0);
    expect(up.stdout()).toContain(`"address":"localhost:${port}","msg":"Connecting to Model Registry`);
    const created = await postModel(`http://127.0.0.1:${gatewayPort}`, { name: "any-port", version: "1" });
    expect(created.status).toBe(200);
    up.child.kill("SIGTERM");
    expect(await up.exited).toBe(0);
  }, 120_000);

  it("gateway: a request in flight is cut off after --shutdown-grace-ms; a second signal exits 130 at once", async () => {
    /** A gateway with a POST whose body never arrives (in flight until it is cut off). */
    const start = async (extra: string[]) => {
      const port = await freePort();
      const gateway = spawnBin(["gateway", "--port", String(port), "--registry", "127.0.0.1:1", ...extra]);
      await until(() => gateway.stdout().includes('"msg":"API gateway listening"'), "the gateway to listen");
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      socket.write(
        "POST /api/v1/models HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
      );
      await new Promise((r) => setTimeout(r, 500));
      return { gateway, socket };
    };
    const graced = await start(["--shutdown-grace-ms", "1000"]);
    const before = Date.now();
    graced.gateway.child.kill("SIGTERM");
    expect(await graced.gateway.exited).toBe(0);
    expect(Date.now() - before).toBeLessThan(8000);
    expect(graced.gateway.stdout()).toContain("requests still in flight after the grace period: closed");
    graced.socket.destroy();

    const forced = await start([]);
    forced.gateway.child.kill("SIGTERM");
    await until(() => forced.gateway.stdout().includes('"msg":"stopping"'), "the gateway to start stopping");
    await new Promise((r) => setTimeout(r, 300));
    expect(forced.gateway.child.exitCode).toBe(null); // waiting for the request (10 s by default)
    const second = Date.now();
    forced.gateway.child.kill("SIGINT");
    expect(await forced.gateway.exited).toBe(130);
    expect(Date.now() - second).toBeLessThan(5000);
    expect(forced.gateway.stderr()).toContain("modelreg: stopped at once");
    forced.socket.destroy();
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
