// `modelreg gateway` serves the web page at `/` (after the API, /healthz and /metrics, before the JSON
// 404), titled by --ui-title; --no-ui, MODELREG_UI=false and the config file's `ui: false` turn it off.
// In process (serveGateway) and through the bin (the flag, the variable, the config key).
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveGateway } from "../src/servers/gateway";
import { serveRegistry } from "../src/servers/registry";
import { binProcesses, freePort, repoRoot } from "./bin-process";
import { capturedIo, closedAddress, modelreg, tempDir } from "./cli-support";

const temp = tempDir("modelreg-gateway-ui-");
const { spawnBin, killAll } = binProcesses();
afterAll(() => {
  killAll();
  temp.remove();
});

/** The JSON 404 the gateway answers for paths it has no route for. */
async function expectJson404(res: Response, method: string, path: string): Promise<void> {
  expect(res.status).toBe(404);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await res.json()).toMatchObject({
    error: { code: 404, status: "NOT_FOUND", message: `No route for ${method} ${path}.` },
  });
}

describe("serveGateway", () => {
  let registry: Awaited<ReturnType<typeof serveRegistry>>;
  beforeAll(async () => {
    registry = await serveRegistry({ port: 0, databaseUrl: "memory:" }, capturedIo().io);
  });
  afterAll(() => registry.stop());

  it("serves the page at / beside the API, /healthz and /metrics; other paths stay JSON 404s", async () => {
    const io = capturedIo();
    const gateway = await serveGateway(
      { port: 0, registry: registry.address, uiTitle: "Team models" },
      io.io,
    );
    try {
      const page = await fetch(`${gateway.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toContain("<title>Team models</title>");
      const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
      const asset = await fetch(`${gateway.url}/${script}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("cache-control")).toContain("immutable");
      expect(await (await fetch(`${gateway.url}/api/v1/models`)).json()).toEqual({
        models: [],
        nextPageToken: "",
      });
      expect(await (await fetch(`${gateway.url}/healthz`)).json()).toEqual({ status: "ok" });
      expect((await fetch(`${gateway.url}/metrics`)).status).toBe(200);
      await expectJson404(await fetch(`${gateway.url}/nope`), "GET", "/nope");
      await expectJson404(await fetch(`${gateway.url}/assets/gone.js`), "GET", "/assets/gone.js");
      await expectJson404(await fetch(`${gateway.url}/`, { method: "POST" }), "POST", "/");
      expect(io.stdout()).toContain('"path":"/","msg":"web page on"');
    } finally {
      await gateway.stop();
    }
  });

  it("with ui: false answers / with the JSON 404", async () => {
    const gateway = await serveGateway({ port: 0, registry: registry.address, ui: false }, capturedIo().io);
    try {
      await expectJson404(await fetch(`${gateway.url}/`), "GET", "/");
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });
});

/**
 * `modelreg <args>` as a process (its own process group); `url` resolves with the gateway's URL once it
 * listens, or rejects with the output if the process exits first. `stop()` resolves once it exited.
 */
function startBin(args: string[], env: Record<string, string> = {}) {
  const run = spawnBin(args, env);
  const url = new Promise<string>((done, fail) => {
    run.child.stdout?.on("data", () => {
      const port = /"port":(\d+),"msg":"API gateway listening"/.exec(run.stdout())?.[1];
      if (port) done(`http://127.0.0.1:${port}`);
    });
    run.exited.then((code) =>
      fail(
        new Error(
          `modelreg ${args.join(" ")} exited (${code}) before listening: ${run.stdout()}${run.stderr()}`,
        ),
      ),
    );
  });
  // Awaited by the test that uses it; a failed start seen only by stop() is no unhandled rejection.
  url.catch(() => {});
  const stop = () => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGTERM");
    return run.exited;
  };
  return { url, stop, exited: run.exited, output: () => run.stdout() + run.stderr() };
}

describe("the bin: modelreg gateway", () => {
  it("serves the page at / by default, titled by MODELREG_UI_TITLE; --no-ui, MODELREG_UI=false and config ui: false turn it off", async () => {
    const registry = await closedAddress();
    const config = join(temp.dir, "no-ui.yaml");
    writeFileSync(config, "gateway:\n  ui: false\n");
    const cases: { args: string[]; env: Record<string, string>; page: boolean }[] = [
      { args: ["gateway"], env: { MODELREG_UI_TITLE: "From the env" }, page: true },
      { args: ["gateway", "--no-ui"], env: {}, page: false },
      { args: ["gateway"], env: { MODELREG_UI: "false" }, page: false },
      { args: ["--config", config, "gateway"], env: {}, page: false },
      // The flag or config file beats the variable, as for every option.
      { args: ["gateway", "--no-ui"], env: { MODELREG_UI: "true" }, page: false },
    ];
    const runs = cases.map((run) => ({
      ...run,
      gateway: startBin([...run.args, "--port", "0", "--registry", registry], run.env),
    }));
    try {
      for (const run of runs) {
        const res = await fetch(`${await run.gateway.url}/`);
        const label = `${run.args.join(" ")} ${JSON.stringify(run.env)}`;
        if (run.page) {
          expect(res.status, label).toBe(200);
          expect(await res.text()).toContain("<title>From the env</title>");
        } else {
          await expectJson404(res, "GET", "/");
        }
      }
    } finally {
      await Promise.all(runs.map((run) => run.gateway.stop()));
    }
  }, 90_000);

  it("refuses a MODELREG_UI that is not a boolean and a --ui-title over 200 characters", async () => {
    const badSwitch = await modelreg(["gateway", "--port", "0"], { MODELREG_UI: "maybe" });
    expect(badSwitch.code).toBe(1);
    expect(badSwitch.stderr).toContain('MODELREG_UI must be true or false (got "maybe")');
    const longTitle = await modelreg(["gateway", "--port", "0", "--ui-title", "x".repeat(201)]);
    expect(longTitle.code).toBe(1);
    expect(longTitle.stderr).toContain("--ui-title must be at most 200 characters (got 201)");
  }, 30_000);
});

describe("the bin: modelreg up", () => {
  it("passes --no-ui and --ui-title (and the config file's up: ui: false) to its gateway", async () => {
    const config = join(temp.dir, "up-no-ui.yaml");
    writeFileSync(config, "up:\n  ui: false\n");
    const cases: { args: string[]; title?: string }[] = [
      { args: ["up", "--no-ui"] },
      { args: ["--config", config, "up"] },
      // A title that looks like a flag stays the title.
      { args: ["up", "--ui-title", "-Team models"], title: "-Team models" },
    ];
    const runs = [];
    let codes: (number | null)[] = [];
    for (const run of cases) {
      const args = [...run.args, "--registry-port", "0", "--gateway-port", String(await freePort())];
      runs.push({ ...run, up: startBin([...args, "--database-url", "memory:"]) });
    }
    try {
      for (const run of runs) {
        const res = await fetch(`${await run.up.url}/`);
        if (run.title === undefined) {
          await expectJson404(res, "GET", "/");
        } else {
          expect(res.status, run.args.join(" ")).toBe(200);
          expect(await res.text()).toContain(`<title>${run.title}</title>`);
        }
      }
    } finally {
      codes = await Promise.all(runs.map((run) => run.up.stop()));
    }
    // Each stopped cleanly, its gateway and registry too.
    expect(codes).toEqual(runs.map(() => 0));
  }, 120_000);
});

describe("the bin: a gateway without its prebuilt page", () => {
  it("exits 7 saying the page is missing (not that it cannot listen)", async () => {
    // The registry-ui package's sources without dist/ui beside them: tsx is pointed at them by a
    // tsconfig whose paths differ from the repository's in that one package.
    const copy = join(temp.dir, "registry-ui-unbuilt");
    mkdirSync(join(copy, "src"), { recursive: true });
    for (const file of ["index.ts", "middleware.ts"]) {
      copyFileSync(join(repoRoot, "packages/registry-ui/src", file), join(copy, "src", file));
    }
    symlinkSync(join(repoRoot, "node_modules"), join(copy, "node_modules"));
    const root = JSON.parse(readFileSync(join(repoRoot, "tsconfig.json"), "utf8")) as {
      compilerOptions: { paths: Record<string, string[]> };
    };
    const tsconfig = join(copy, "tsconfig.json");
    const paths = { ...root.compilerOptions.paths, "@modelreg/registry-ui": [join(copy, "src/index.ts")] };
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: join(repoRoot, "tsconfig.base.json"),
        compilerOptions: { noEmit: true, baseUrl: repoRoot, paths },
      }),
    );
    const gateway = startBin(["gateway", "--port", "0", "--registry", await closedAddress()], {
      TSX_TSCONFIG_PATH: tsconfig,
    });
    expect(await gateway.exited).toBe(7);
    expect(gateway.output()).toContain("modelreg: the gateway cannot start: @modelreg/registry-ui:");
    expect(gateway.output()).toContain("the prebuilt page is missing");
    expect(gateway.output()).not.toContain("cannot listen");
    // With --no-ui the page is not needed.
    const noUi = startBin(["gateway", "--no-ui", "--port", "0", "--registry", await closedAddress()], {
      TSX_TSCONFIG_PATH: tsconfig,
    });
    await expectJson404(await fetch(`${await noUi.url}/`), "GET", "/");
    expect(await noUi.stop()).toBe(0);
  }, 60_000);
});
