// The client verbs over TLS: --tls-ca-file, mutual TLS with --tls-cert-file/--tls-key-file (or
// their MODELREG_TLS_* variables), and the failures a user meets (plaintext, no client cert, a
// missing file).
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCertificates } from "../../../test-support/certs";
import { modelreg, startSqliteRegistry, tempDir } from "./cli-support";

const tmp = tempDir("modelreg-cli-tls-");
let registry: Awaited<ReturnType<typeof startSqliteRegistry>>;

beforeAll(async () => {
  const certs = makeTestCertificates();
  for (const [name, pem] of Object.entries({
    "ca.pem": certs.ca,
    "client.pem": certs.clientCert,
    "client.key": certs.clientKey,
  })) {
    writeFileSync(join(tmp.dir, name), pem);
  }
  registry = await startSqliteRegistry(tmp.dir, {
    insecure: false,
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
  });
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  tmp.remove();
});

describe("TLS", () => {
  it("works with the CA and a client certificate, from flags or MODELREG_TLS_* variables", async () => {
    const flags = [
      "--tls-ca-file",
      "ca.pem",
      "--tls-cert-file",
      "client.pem",
      "--tls-key-file",
      "client.key",
    ];
    const created = await modelreg(
      ["models", "create", "bert", "1.0.0", "--registry", registry.address, ...flags, "--json"],
      {},
      tmp.dir,
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const env = {
      MODELREG_REGISTRY: registry.address,
      MODELREG_TLS_CA_FILE: join(tmp.dir, "ca.pem"),
      MODELREG_TLS_CERT_FILE: join(tmp.dir, "client.pem"),
      MODELREG_TLS_KEY_FILE: join(tmp.dir, "client.key"),
    };
    const listed = await modelreg(["models", "list", "--json"], env);
    expect(JSON.parse(listed.stdout).models).toHaveLength(1);
  });

  it("through the bin to an IP address, --json stderr stays one JSON document (no DEP0123 warning)", async () => {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const bin = resolve(import.meta.dirname, "../src/bin.ts");
    // registry.address is 127.0.0.1:<port>: Node warns about an IP as TLS server name unless the bin drops it.
    // (Asynchronous: the registry answers from this process's event loop.)
    const args = ["--import", tsx, bin, "models", "get", "nope", "--registry", registry.address, "--json"];
    const env = {
      ...process.env,
      MODELREG_TLS_CA_FILE: "ca.pem",
      MODELREG_TLS_CERT_FILE: "client.pem",
      MODELREG_TLS_KEY_FILE: "client.key",
    };
    const run = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = execFile(
        process.execPath,
        args,
        { cwd: tmp.dir, env, timeout: 60_000 },
        (_e, _out, stderr) => done({ code: child.exitCode, stderr }),
      );
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).not.toContain("DEP0123");
    expect(JSON.parse(run.stderr).error.status).toBe("NOT_FOUND");
  }, 60_000);

  it("fails with exit 4 over plaintext or without a client certificate, 1 for a missing file", async () => {
    const plain = await modelreg(["models", "list", "--registry", registry.address]);
    expect(plain.code).toBe(4);
    const noCert = await modelreg(
      ["models", "list", "--registry", registry.address, "--tls-ca-file", "ca.pem"],
      {},
      tmp.dir,
    );
    expect(noCert.code).toBe(4);
    expect(noCert.stderr).toContain(`cannot reach the registry at ${registry.address}`);
    const half = await modelreg(["models", "list", "--tls-cert-file", "client.pem"], {}, tmp.dir);
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/--tls-cert-file and --tls-key-file go together/);
    const missing = await modelreg(["models", "list", "--tls-ca-file", "nope.pem"], {}, tmp.dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--tls-ca-file nope\.pem: cannot read it \(ENOENT\)/);
  });
});
