// Test support for the CLI's tests: run `modelreg` in process with captured
// streams, and a real registry on a socket over a SQLite file.
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createRegistryServer, type RegistryServerOptions } from "@modelreg/registry-server";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import { silentLogger } from "../../../test-support/registry";
import type { CliIo } from "../src/context";
import { runCli } from "../src/main";

/** What a `modelreg` run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A CliIo with captured stdout/stderr (not terminals), `env` as given, stdin empty unless `stdin`. */
export function capturedIo(env: Record<string, string> = {}, cwd = tmpdir(), stdin = "") {
  let stdout = "";
  let stderr = "";
  const out = new PassThrough();
  const err = new PassThrough();
  out.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  err.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const input = new PassThrough();
  input.end(stdin);
  const io: CliIo = { stdin: input, stdout: out, stderr: err, env, cwd };
  return { io, stdout: () => stdout, stderr: () => stderr };
}

/** Runs `modelreg argv` in process; env holds only what is given (not the test process's). */
export async function modelreg(argv: readonly string[], env: Record<string, string> = {}, cwd?: string) {
  const captured = capturedIo(env, cwd);
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() } satisfies CliRun;
}

/** A temporary folder, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real registry on 127.0.0.1 over a SQLite file in `dir`. */
export async function startSqliteRegistry(dir: string, options: Partial<RegistryServerOptions> = {}) {
  const storage = await createSqliteStorage({ path: join(dir, "registry.db") });
  const server = createRegistryServer({
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    ...options,
    storage,
  });
  const { port } = await server.listen();
  return {
    address: `127.0.0.1:${port}`,
    port,
    stop: async () => {
      await server.shutdown({ graceMs: 100 });
      await storage.close?.();
    },
  };
}

/**
 * `127.0.0.1:1` when it refuses connections (it does unless root runs a tcpmux
 * there): a privileged port no test server can be given, unlike a free
 * ephemeral port, which a server started meanwhile by a test running in
 * parallel may take. Checked: anything else listening there is an error.
 */
export async function closedAddress(): Promise<string> {
  const address = "127.0.0.1:1";
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect(1, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
  if (!refused) throw new Error(`closedAddress: something listens on ${address}; the tests need it closed`);
  return address;
}
