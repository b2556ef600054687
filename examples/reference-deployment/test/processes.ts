// The reference deployment's two entry points as real OS processes, for the
// end-to-end tests: started with tsx on free ports, their JSON log lines
// collected, killed at the end of the file that started them.
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import pg from "pg";
import { afterAll } from "vitest";
import { describeUrl, requireService } from "../../../test-support/services";
import { postgresUrl } from "../../../test-support/sql-servers";

/** The PostgreSQL the tests use (MODELREG_TEST_POSTGRES_URL overrides it); test-support's, as the storage tests use. */
export { postgresUrl };

const repoRoot = resolve(import.meta.dirname, "../../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
});

/** One JSON log line of a process (pino). */
export type LogLine = Record<string, unknown> & { msg: string };

/** A started entry point. */
export interface StartedProcess {
  readonly child: ChildProcess;
  /** Every log line so far. */
  readonly logs: LogLine[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Resolves with the first log line that `ready` accepted; rejects if the process exits first. */
  readonly ready: Promise<LogLine>;
}

/** Starts an entry point as its own process; `ready` resolves once a log line matches. */
export function start(
  entry: "registry" | "gateway",
  env: Record<string, string>,
  ready: (line: LogLine) => boolean,
): StartedProcess {
  const child = spawn(process.execPath, ["--import", tsx, join(import.meta.dirname, `../src/${entry}.ts`)], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  running.add(child);
  const logs: LogLine[] = [];
  const exited = new Promise<number | null>((resolveExit) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolveExit(code);
    }),
  );
  const readyLine = new Promise<LogLine>((resolveReady, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
      const line = JSON.parse(text) as LogLine;
      logs.push(line);
      if (ready(line)) resolveReady(line);
    });
    void exited.then((code) =>
      reject(new Error(`${entry} exited (${code}) before it was ready: ${JSON.stringify(logs)}`)),
    );
  });
  return { child, logs, exited, ready: readyLine };
}

/** The registry on a free port of 127.0.0.1 with this DATABASE_URL (and any other settings). */
export const startRegistry = (databaseUrl: string, env: Record<string, string> = {}) =>
  start(
    "registry",
    { REGISTRY_PORT: "0", REGISTRY_HOST: "127.0.0.1", DATABASE_URL: databaseUrl, ...env },
    (l) => l.msg === "gRPC server listening",
  );

/** The gateway on a free port of 127.0.0.1, in front of `registryAddress` (one or a comma-separated list). */
export const startGateway = (registryAddress: string, env: Record<string, string> = {}) =>
  start(
    "gateway",
    {
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      REGISTRY_ADDRESS: registryAddress,
      REGISTRY_TIMEOUT_MS: "5000",
      ...env,
    },
    (l) => l.msg === "API gateway listening",
  );

/** Waits for a log line with this message. */
export async function waitForLog(logs: LogLine[], msg: string, timeoutMs = 15_000): Promise<LogLine> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    const line = logs.find((l) => l.msg === msg);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no "${msg}" log line within ${timeoutMs} ms: ${JSON.stringify(logs.map((l) => l.msg))}`);
}

/** One HTTP request with an optional JSON body; the answer's status, headers and parsed JSON. */
export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: JSON.parse(text) as Record<string, unknown>,
  };
}

/**
 * A connected admin client for {@link postgresUrl}, or `undefined` when it is
 * unreachable outside CI (the reason printed). Under CI=true an unreachable
 * server fails the file: those tests must run there.
 */
export async function connectPostgres(file: string): Promise<pg.Client | undefined> {
  const admin = new pg.Client({ connectionString: postgresUrl });
  admin.on("error", () => {});
  const available = await requireService({
    service: "PostgreSQL",
    file,
    where: describeUrl(postgresUrl),
    envVar: "MODELREG_TEST_POSTGRES_URL",
    howToStart: "Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    probe: async () => {
      await admin.connect();
    },
  });
  return available ? admin : undefined;
}
