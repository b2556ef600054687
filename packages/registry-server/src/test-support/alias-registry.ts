import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Any, Code, PreconditionFailure, RegistryError } from "@modelreg/proto";
import { afterAll, beforeAll, expect } from "vitest";
import { silentLogger, startTestRegistry } from "../../../../test-support/registry";
import { hashToken } from "../auth/auth-file";
import { createTokenAuth } from "../auth/token-auth";
import type { RegistryServerOptions } from "../server";
import type { StorageAdapter } from "../storage/adapter";
import { createMemoryStorage } from "../storage/memory";
import { createTestClient } from "./grpc-client";

/** The tokens of the three built-in roles, and the subjects they authenticate as. */
export const tokens = {
  reader: "reader-token-0123456789",
  writer: "writer-token-0123456789",
  admin: "admin-token-0123456789",
};
export const subjects = { reader: "dashboard", writer: "ci-bot", admin: "ops" } as const;
export const as = (role: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[role]}` });

/** Writes a token file (auth.json) giving each of `roles` its token from {@link tokens} and subject. */
export function writeAuthFile(file: string, roles: readonly (keyof typeof tokens)[]): void {
  const entry = (role: keyof typeof tokens) => ({
    sha256: hashToken(tokens[role]),
    subject: subjects[role],
    roles: [role],
  });
  writeFileSync(file, JSON.stringify({ tokens: roles.map(entry) }));
}

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
    writeAuthFile(file, ["reader", "writer", "admin"]);
    const tokenAuth = await createTokenAuth({ file, logger: silentLogger });
    cleanups.push(() => tokenAuth.close());
    authorize = tokenAuth.authorize;
  }
  const { server, address } = await startTestRegistry({
    storage,
    authorize,
    streams: { progressIntervalMs: 60_000 },
    ...options,
  });
  const client = createTestClient(address);
  return {
    client,
    /** `host:port` the registry listens on, for clients other than `client` (buf curl). */
    address,
    async close() {
      client.close();
      await server.shutdown({ graceMs: 1000 });
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

/** A registry started by {@link startRegistry}. */
export type Registry = Awaited<ReturnType<typeof startRegistry>>;

/**
 * Starts a registry (see {@link startRegistry}) over `createStorage()` before
 * the enclosing suite's tests, and closes both after them. `registry` is set
 * once the suite's first `beforeAll` has run; `call` may be taken at once.
 */
export function useRegistry(
  createStorage: () => Promise<StorageAdapter>,
  options?: Parameters<typeof startRegistry>[1],
) {
  const suite = {} as { storage: StorageAdapter; registry: Registry };
  beforeAll(async () => {
    suite.storage = await createStorage();
    suite.registry = await startRegistry(suite.storage, options);
  });
  afterAll(async () => {
    await suite.registry.close();
    await suite.storage.close();
  });
  return {
    get registry() {
      return suite.registry;
    },
    /** The registry client's `call`. */
    call: <T = Record<string, unknown>>(...args: Parameters<Registry["client"]["call"]>) =>
      suite.registry.client.call<T>(...args),
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
