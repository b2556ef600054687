// The config file (--config / MODELREG_CONFIG): flag > env > file > default, YAML or JSON,
// camelCase or kebab-case keys, and clear usage errors naming the file, section and key.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyConfigFile } from "../src/config";
import { capturedIo, closedAddress, modelreg, startSqliteRegistry, tempDir } from "./cli-support";

const tmp = tempDir("modelreg-cli-config-");
let registry: Awaited<ReturnType<typeof startSqliteRegistry>>;
/** An address where nothing listens (a registry started and stopped). */
let down: string;

beforeAll(async () => {
  down = await closedAddress();
  registry = await startSqliteRegistry(tmp.dir);
  for (const name of ["a", "b", "c"]) {
    await modelreg(["models", "create", name, "1.0.0"], { MODELREG_REGISTRY: registry.address });
  }
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  tmp.remove();
});

function configFile(name: string, text: string): string {
  writeFileSync(join(tmp.dir, name), text);
  return name;
}

describe("config file", () => {
  it("supplies the client options (YAML, relative to the working directory, or MODELREG_CONFIG)", async () => {
    const file = configFile("client.yaml", `client:\n  registry: ${registry.address}\n  timeout: 5000\n`);
    const run = await modelreg(["--config", file, "models", "list", "--json"], {}, tmp.dir);
    expect(run.stderr).toBe("");
    expect((JSON.parse(run.stdout).models as unknown[]).length).toBe(3);
    const after = await modelreg(["models", "list", "--config", file, "--json"], {}, tmp.dir);
    expect(after.stdout).toBe(run.stdout);
    const viaEnv = await modelreg(["models", "list", "--json"], { MODELREG_CONFIG: join(tmp.dir, file) });
    expect(viaEnv.code).toBe(0);
  });

  it("loses to the environment, which loses to a flag", async () => {
    const file = configFile("precedence.yaml", `client:\n  registry: ${registry.address}\n`);
    const envWins = await modelreg(
      ["models", "list", "--config", file],
      { MODELREG_REGISTRY: down },
      tmp.dir,
    );
    expect(envWins.code).toBe(4);
    expect(envWins.stderr).toContain(down);
    const flagWins = await modelreg(
      ["models", "list", "--config", file, "--registry", registry.address],
      { MODELREG_REGISTRY: down },
      tmp.dir,
    );
    expect(flagWins.code).toBe(0);
  });

  it("takes a command's own section (JSON, kebab-case keys, numbers), after the client section", async () => {
    const file = configFile(
      "list.json",
      JSON.stringify({
        client: { registry: down },
        "models list": { registry: registry.address, "order-by": "name desc", limit: 2 },
      }),
    );
    const run = await modelreg(["models", "list", "--config", file], {}, tmp.dir);
    expect(run.code).toBe(0);
    const names = run.stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/)[1]);
    expect(names).toEqual(["c", "b"]);
    expect(run.stderr).toMatch(/first 2 models shown/);
  });

  it("refuses an unknown key, an unknown section, a bad value, a file it cannot read or parse: exit 1", async () => {
    const cases: [string, string, RegExp][] = [
      ["key.yaml", "client:\n  registy: x\n", /config file key\.yaml: section client: unknown key registy/],
      ["own-key.yaml", "models list:\n  bogus: 1\n", /section models list: unknown key bogus/],
      ["section.yaml", "srve:\n  port: 1\n", /config file section\.yaml: unknown section srve/],
      ["value.yaml", "client:\n  timeout: soon\n", /section client\.timeout: expected an integer/],
      ["flag.yaml", "client:\n  tls: yes please\n", /section client\.tls: expected true or false/],
      ["broken.yaml", "client: [\n", /config file broken\.yaml: cannot parse it/],
      ["list.yaml", "- a\n- b\n", /expected a mapping of sections/],
    ];
    for (const [name, text, message] of cases) {
      configFile(name, text);
      const run = await modelreg(["models", "list", "--config", name], {}, tmp.dir);
      expect(run.code, name).toBe(1);
      expect(run.stderr, name).toMatch(message);
    }
    const missing = await modelreg(["models", "list", "--config", "nope.yaml"], {}, tmp.dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/config file nope\.yaml: cannot read it \(ENOENT\)/);
  });
});

describe("config file and output", () => {
  it("json: true in the client section makes errors JSON too", async () => {
    const file = configFile("json.yaml", `client:\n  registry: ${registry.address}\n  json: true\n`);
    const run = await modelreg(["models", "get", "nope", "--config", file], {}, tmp.dir);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stderr)).toMatchObject({ error: { status: "NOT_FOUND" } });
  });
});

describe("config file: negated flags", () => {
  it("`migrate: false` and `no-migrate: true` both turn a --no-migrate option off; `migrate: true` keeps it on", async () => {
    const migrateOf = async (text: string) => {
      const file = configFile("negated.yaml", text);
      const { io } = capturedIo({}, tmp.dir);
      const program = new Command("modelreg").option("--config <file>").exitOverride();
      const serve = program
        .command("serve")
        .option("--no-migrate", "do not migrate")
        .action(() => {});
      program.hook("preAction", (_hooked, action) => applyConfigFile(program, action, io));
      await program.parseAsync(["--config", file, "serve"], { from: "user" });
      return serve.opts().migrate;
    };
    expect(await migrateOf("serve:\n  migrate: false\n")).toBe(false);
    expect(await migrateOf("serve:\n  no-migrate: true\n")).toBe(false);
    expect(await migrateOf("serve:\n  migrate: true\n")).toBe(true);
    expect(await migrateOf("serve: {}\n")).toBe(true);
  });
});
