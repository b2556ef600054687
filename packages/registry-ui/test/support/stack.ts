/**
 * The page's test stack, real end to end: a registry server on a SQLite file
 * (over a socket), the REST gateway and the page on one Express app, and a
 * second registry client for changes made "by someone else" over gRPC. And
 * the browser: Debian's Chromium driven by playwright-core.
 */
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGatewayMiddleware } from "@modelreg/gateway-express";
import { createRegistryClient, type RegistryClient } from "@modelreg/registry-client";
import { createTokenAuth, hashToken, type RegistryServerOptions } from "@modelreg/registry-server";
import { createSqliteStorage } from "@modelreg/registry-server/storage/sqlite";
import express from "express";
import { type Browser, chromium, type Page } from "playwright-core";
import { startTestRegistry } from "../../../../test-support/registry";
import { requireService } from "../../../../test-support/services";
import { createRegistryUi, type RegistryUiOptions } from "../../src/index";
import { createAll, listModels } from "./seed";

/** A running stack; `close()` stops all of it and removes the database. */
export interface UiStack {
  /** The page's URL (the app's root), e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  /** A client of the registry itself (gRPC), as another user's program would be. */
  readonly client: RegistryClient;
  /** The registry's gRPC address. */
  readonly address: string;
  close(): Promise<void>;
}

/** What {@link startUiStack} varies. */
export interface UiStackOptions {
  /** Registry options (an `aliasPolicy`, `authenticate`, ...). */
  readonly registry?: Partial<RegistryServerOptions>;
  /** Options of the page's middleware. */
  readonly ui?: RegistryUiOptions;
  /** An existing SQLite file to serve (kept on close), instead of a fresh one. */
  readonly databasePath?: string;
}

/** Starts registry (SQLite file) + gateway + page on 127.0.0.1, on free ports. */
export async function startUiStack(options: UiStackOptions = {}): Promise<UiStack> {
  const folder = options.databasePath === undefined ? mkdtempSync(join(tmpdir(), "modelreg-ui-")) : undefined;
  const path = options.databasePath ?? join(folder ?? "", "registry.db");
  const storage = await createSqliteStorage({ path });
  const { server, address } = await startTestRegistry({ ...options.registry, storage });
  const gatewayClient = createRegistryClient({ target: address, insecure: true });
  const client = createRegistryClient({ target: address, insecure: true });
  await Promise.all([gatewayClient.connect({ timeoutMs: 5000 }), client.connect({ timeoutMs: 5000 })]);
  const app = express();
  app.use(createGatewayMiddleware({ client: gatewayClient }));
  app.use(createRegistryUi(options.ui));
  const http: Server = app.listen(0, "127.0.0.1");
  await once(http, "listening");
  const port = (http.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    client,
    address,
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      client.close();
      gatewayClient.close();
      await server.shutdown({ graceMs: 50 });
      if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium (`apt-get install chromium`), or MODELREG_TEST_CHROMIUM. */
export const chromiumPath = process.env.MODELREG_TEST_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Whether the browser is there: under CI=true a missing one fails the file;
 * elsewhere the file's tests are skipped with the reason printed.
 */
export function requireChromium(file: string): Promise<boolean> {
  return requireService({
    service: "Chromium",
    file,
    where: chromiumPath,
    envVar: "MODELREG_TEST_CHROMIUM",
    envVarHolds: "the path of a Chromium executable",
    remedy: "Install it",
    howToStart: "Debian: apt-get install chromium",
    probe: async () => {
      if (!existsSync(chromiumPath)) throw new Error("no such file");
    },
  });
}

/** Launches headless Chromium with the flags this machine needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A new page in a fresh context (no shared storage), phone- or desktop-sized. */
export async function newPage(browser: Browser, viewport: "desktop" | "phone" = "desktop"): Promise<Page> {
  const context = await browser.newContext(
    viewport === "phone"
      ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
      : { viewport: { width: 1280, height: 800 } },
  );
  return context.newPage();
}

/**
 * A stack whose registry requires a token: `token` (subject "ana", role admin) is the only one it
 * accepts, and three models of the seed are registered with it. `close()` also removes the token file.
 */
export async function startSecuredStack(token: string): Promise<UiStack> {
  const dir = mkdtempSync(join(tmpdir(), "modelreg-ui-auth-"));
  const file = join(dir, "auth.json");
  writeFileSync(
    file,
    JSON.stringify({ tokens: [{ sha256: hashToken(token), subject: "ana", roles: ["admin"] }] }),
  );
  const auth = await createTokenAuth({ file, watch: false });
  const stack = await startUiStack({ registry: { authorize: auth.authorize } });
  await createAll(stack.client, listModels().slice(0, 3), {
    metadata: { authorization: `Bearer ${token}` },
  });
  return {
    ...stack,
    async close() {
      await stack.close();
      auth.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A page's live feed held back: see {@link holdFeed}. */
export interface HeldFeed {
  /** Resolves once the page has asked for its feed. */
  readonly asked: Promise<void>;
  /** Lets the feed's requests through (the registry registers the watch only then). */
  release(): void;
  /** How many reads of `/api/v1/models` (the list, a name's versions) the page has sent so far. */
  reads(): number;
}

/**
 * Holds `page`'s live-feed requests until `release()`, and counts its reads of `/api/v1/models`, for
 * the tests of what the page reads before its feed is open.
 */
export async function holdFeed(page: Page): Promise<HeldFeed> {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let feedAsked = () => {};
  const asked = new Promise<void>((resolve) => {
    feedAsked = resolve;
  });
  await page.route("**/api/v1/models:watch*", async (route) => {
    feedAsked();
    await released;
    await route.continue();
  });
  let reads = 0;
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.endsWith("/api/v1/models")) reads++;
  });
  return { asked, release, reads: () => reads };
}
