import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Any, Code, PreconditionFailure, RegistryError } from "@modelreg/proto";
import { expect } from "vitest";
import { hashToken } from "../auth/auth-file";
import { createTokenAuth } from "../auth/token-auth";
import type { Logger } from "../logger";
import { createRegistryServer, type RegistryServerOptions } from "../server";
import type { StorageAdapter } from "../storage/adapter";
import { createMemoryStorage } from "../storage/memory";
import { createTestClient } from "./grpc-client";

/** A logger that drops everything: the tests read what callers get. */
export const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The tokens of the three built-in roles, and the subjects they authenticate as. */
export const tokens = {
  reader: "reader-token-0123456789",
  writer: "writer-token-0123456789",
  admin: "admin-token-0123456789",
};
export const subjects = { reader: "dashboard", writer: "ci-bot", admin: "ops" } as const;
export const as = (role: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[role]}` });

/** Storage adapters the server-level tests run over: memory, and SQLite on a file. */
export function storageFactories(): { adapters: [string, () => Promise<StorageAdapter>][]; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-aliases-"));
  let n = 0;
  return {
    adapters: [
      ["memory", async () => createMemoryStorage()],
      [
        "sqlite",
        async () => (await import("../storage/sqlite")).createSqliteStorage({ path: join(dir, `${++n}.db`) }),
      ],
    ],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A registry on a real socket over `storage`, with the built-in token
 * authorizer (reader, writer and admin tokens) when `auth` is set.
 */
export async function startRegistry(
  storage: StorageAdapter,
  { auth = false, ...options }: Partial<RegistryServerOptions> & { auth?: boolean } = {},
) {
  const cleanups: (() => unknown)[] = [];
  let authorize: RegistryServerOptions["authorize"];
  if (auth) {
    const dir = mkdtempSync(join(tmpdir(), "modelreg-auth-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "auth.json");
    const entry = (role: keyof typeof tokens) => ({
      sha256: hashToken(tokens[role]),
      subject: subjects[role],
      roles: [role],
    });
    writeFileSync(file, JSON.stringify({ tokens: [entry("reader"), entry("writer"), entry("admin")] }));
    const tokenAuth = await createTokenAuth({ file, logger: quietLogger });
    cleanups.push(() => tokenAuth.close());
    authorize = tokenAuth.authorize;
  }
  const server = createRegistryServer({
    storage,
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: quietLogger,
    authorize,
    streams: { progressIntervalMs: 60_000 },
    ...options,
  });
  const { port } = await server.listen();
  const client = createTestClient(`127.0.0.1:${port}`);
  return {
    client,
    async close() {
      client.close();
      await server.shutdown({ graceMs: 1000 });
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

/** Asserts that `promise` fails with `code` (and `reason`, when given); returns the error. */
export async function expectError(
  promise: Promise<unknown>,
  code: Code,
  reason?: string,
): Promise<RegistryError> {
  const error = await promise.then(
    () => new Error(`expected ${Code[code]}, but the call succeeded`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  const registryError = error as RegistryError;
  expect(Code[registryError.code], registryError.message).toBe(Code[code]);
  if (reason !== undefined) expect(registryError.reason).toBe(reason);
  return registryError;
}

/** The `google.rpc.PreconditionFailure` violations of an error's details. */
export function preconditionViolations(details: readonly Any[]) {
  return details
    .filter((d) => Any.contains(d, PreconditionFailure))
    .flatMap((d) => Any.unpack(d, PreconditionFailure).violations);
}
