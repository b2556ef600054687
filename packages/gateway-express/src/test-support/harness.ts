/**
 * Test harness for the gateway: a real registry server (memory storage)
 * behind a real registry client, the gateway middleware on a plain Express
 * app (4 or 5) listening on 127.0.0.1, and helpers to check the error body.
 */
import { once } from "node:events";
import { request as httpRequest, type Server } from "node:http";
import { createRequire } from "node:module";
import { createServer as createNetServer } from "node:net";
import { createRegistryClient, type RegistryClient } from "@modelreg/registry-client";
import type { RegistryServer, RegistryServerOptions, StorageAdapter } from "@modelreg/registry-server";
import express5 from "express";
import { expect } from "vitest";
import { startTestRegistry } from "../../../../test-support/registry";
import { createGatewayMiddleware, type GatewayMiddlewareOptions } from "../index";

type ExpressFactory = typeof express5;

const requireCjs = createRequire(import.meta.url);

/** Both Express majors the middleware supports; `express4` is an npm alias of express@4. */
export const expressVersions: readonly { readonly name: string; readonly express: ExpressFactory }[] = [
  // express@4 has no types of its own here; its factory has the same call shape as express@5's.
  { name: "Express 4", express: requireCjs("express4") as ExpressFactory },
  { name: "Express 5", express: express5 },
];

/** Closes what a test started, in reverse order. */
export class Resources {
  readonly #closers: (() => Promise<void> | void)[] = [];

  add(close: () => Promise<void> | void): void {
    this.#closers.push(close);
  }

  async closeAll(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) await close();
  }
}

/** Starts a registry server on 127.0.0.1 (a free port) and a client for it. */
export async function startRegistry(
  resources: Resources,
  options: Partial<RegistryServerOptions> = {},
): Promise<{ server: RegistryServer; client: RegistryClient; port: number; storage: StorageAdapter }> {
  const { server, port, storage } = await startTestRegistry(options);
  resources.add(() => server.shutdown({ graceMs: 50 }));
  const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true });
  resources.add(() => client.close());
  await client.connect({ timeoutMs: 5000 });
  return { server, client, port, storage };
}

/** A TCP port on 127.0.0.1 where nothing listens (bound, then released). */
export async function unusedPort(): Promise<number> {
  const probe = createNetServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const address = probe.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Serves `createGatewayMiddleware(options)` on a new Express app; returns its base URL. */
export async function startGateway(
  resources: Resources,
  express: ExpressFactory,
  options: GatewayMiddlewareOptions,
): Promise<string> {
  const app = express();
  app.use(createGatewayMiddleware(options));
  // The app's own routes: paths outside /api/v1/ must reach them.
  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("app says ok");
  });
  const server: Server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  resources.add(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("the app has no TCP address");
  return `http://127.0.0.1:${address.port}`;
}

/** The AIP-193 error body the gateway sends. */
export interface ErrorJson {
  error: { code: number; message: string; status: string; details: Record<string, unknown>[] };
}

/**
 * Checks that `response` is a JSON error with exactly the gateway's shape
 * and the given HTTP status (and gRPC status name, if given); returns it.
 */
export async function expectError(
  response: Response,
  status: number,
  grpcStatus?: string,
): Promise<ErrorJson> {
  const text = await response.text();
  expect(response.headers.get("content-type"), text).toMatch(/^application\/json(;|$)/);
  expect(text).not.toMatch(/<html|<!DOCTYPE/i);
  const body = JSON.parse(text) as ErrorJson;
  expect(response.status, text).toBe(status);
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "details", "message", "status"]);
  expect(body.error.code).toBe(status);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.status).toMatch(/^[A-Z_]+$/);
  if (grpcStatus !== undefined) expect(body.error.status).toBe(grpcStatus);
  expect(Array.isArray(body.error.details)).toBe(true);
  for (const detail of body.error.details) expect(typeof detail["@type"]).toBe("string");
  return body;
}

/** The field violations of a google.rpc.BadRequest detail in an error body. */
export function fieldViolations(body: ErrorJson): { field: string; description: string }[] {
  const badRequest = body.error.details.find(
    (d) => d["@type"] === "type.googleapis.com/google.rpc.BadRequest",
  );
  return (badRequest?.fieldViolations as { field: string; description: string }[] | undefined) ?? [];
}

/** The model JSON the gateway returns. */
export interface ModelJson {
  id: string;
  name: string;
  version: string;
  framework: string;
  description: string;
  tags: string[];
  metadata: Record<string, string>;
  artifactUri: string;
  etag: string;
  createTime: string;
  updateTime: string;
  artifactDigest: string;
  /** Left out when the model has no lineage. */
  lineage?: { runUri: string; codeRevision: string; datasetUris: string[]; parentModelIds: string[] };
}

/**
 * A request over `node:http`, for what `fetch` refuses to send or rewrites
 * (a body on GET, raw header bytes, a path such as `//host/...` sent as is);
 * answers with a fetch `Response`.
 */
export function rawRequest(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Response> {
  const { hostname, port } = new URL(base);
  const headers = {
    ...options.headers,
    // Without it Node sends a GET body unframed.
    ...(options.body === undefined ? {} : { "content-length": String(Buffer.byteLength(options.body)) }),
  };
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { hostname, port, path, method: options.method ?? "GET", headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const received = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : [value ?? ""]) received.append(name, v);
          }
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: received }));
        });
      },
    );
    request.on("error", reject);
    request.end(options.body);
  });
}
