/**
 * Request bodies the gateway refuses early, in JSON: a declared or actual
 * size over the limit (413 without reading the rest, the connection
 * closed), compressed bodies (decoded within the same limit, or 415), JSON
 * that nests too deeply or does not parse (400 in the gateway's words).
 * Real Express apps in front of a real registry; raw sockets where fetch
 * would not send what a hostile client does.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import type { RegistryClient } from "@modelreg/registry-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { within } from "../../../test-support/waiting";
import { expectError, expressVersions, Resources, startGateway, startRegistry } from "./test-support/harness";

const maxBodyBytes = 64 * 1024;
const json = { "content-type": "application/json" };

/** What a raw HTTP/1.1 exchange came to: the bytes the server answered, and how much was sent. */
interface Exchange {
  readonly response: string;
  readonly sent: number;
  /** The server closed the connection (end or reset): the client never closes it. */
  readonly closedByServer: boolean;
}

/** Reads everything the server sends until it closes; `sent` counts what `write` managed to send meanwhile. */
function exchange(
  base: string,
  head: string,
  write: (socket: Socket, counter: { sent: number }) => Promise<void>,
): Promise<Exchange> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  const received: Buffer[] = [];
  const counter = { sent: 0 };
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  socket.on("error", () => {});
  return new Promise((resolve) => {
    socket.once("close", () => {
      resolve({
        response: Buffer.concat(received).toString("latin1"),
        sent: counter.sent,
        closedByServer: true,
      });
    });
    socket.once("connect", async () => {
      socket.write(head);
      await write(socket, counter).catch(() => {});
    });
  });
}

/** Writes `chunk` again and again, as fast as the socket takes it, up to `total` bytes or until the socket fails. */
async function flood(
  socket: Socket,
  counter: { sent: number },
  chunk: Buffer,
  total: number,
  frame: (c: Buffer) => Buffer,
): Promise<void> {
  while (counter.sent < total && !socket.destroyed && socket.writable) {
    const writable = socket.write(frame(chunk));
    counter.sent += chunk.length;
    if (!writable) {
      const drained = await Promise.race([
        once(socket, "drain").then(() => true),
        once(socket, "close").then(() => false),
      ]);
      if (!drained) break;
    }
  }
}

/** The status code and JSON body of a raw HTTP/1.1 response. */
function parseResponse(raw: string) {
  const [head = "", body = ""] = raw.split("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const headers = Object.fromEntries(
    head
      .split("\r\n")
      .slice(1)
      .map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
  );
  // Content-Length framing: the JSON error is sent whole.
  return { status, headers, json: JSON.parse(body) as { error: { code: number; message: string } } };
}

describe.each(expressVersions)("request bodies on $name", ({ express }) => {
  const resources = new Resources();
  let base: string;
  let client: RegistryClient;
  let host: string;

  beforeAll(async () => {
    const registry = await startRegistry(resources);
    client = registry.client;
    base = await startGateway(resources, express, { client, maxBodyBytes });
    host = new URL(base).host;
  });
  afterAll(() => resources.closeAll());

  it("a declared Content-Length over the limit is 413 before the body is sent, and the connection closes", async () => {
    const result = await within(
      exchange(
        base,
        `POST /api/v1/models HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${1024 ** 3}\r\n\r\n{"name":`,
        // Sends nothing more: the answer must come without the declared gigabyte.
        () => new Promise<void>(() => {}),
      ),
      5000,
      "the 413 and the close",
    );
    const response = parseResponse(result.response);
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe("close");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.json.error).toMatchObject({ code: 413, status: "INVALID_ARGUMENT" });
    expect(response.json.error.message).toBe(`The request body is larger than ${maxBodyBytes} bytes.`);
    expect(result.closedByServer).toBe(true);
  });

  it("a chunked body is cut off at the limit: 413, and the rest is not read", async () => {
    const total = 256 * 1024 * 1024;
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const result = await within(
      exchange(
        base,
        `POST /api/v1/models HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
        (socket, counter) =>
          flood(socket, counter, chunk, total, (c) =>
            Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from("\r\n")]),
          ),
      ),
      20_000,
      "the 413 and the close",
    );
    const response = parseResponse(result.response);
    expect(response.status).toBe(413);
    expect(response.json.error.message).toBe(`The request body is larger than ${maxBodyBytes} bytes.`);
    // The server stopped the upload: socket buffers took a few MiB at most, not the 256 MiB offered.
    expect(result.closedByServer).toBe(true);
    expect(result.sent).toBeGreaterThan(maxBodyBytes);
    expect(result.sent).toBeLessThan(total / 4);
  });

  it("a small body over the limit with Content-Length is 413 too", async () => {
    const response = await fetch(`${base}/api/v1/models`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ name: "x".repeat(maxBodyBytes), version: "1" }),
    });
    await expectError(response, 413, "INVALID_ARGUMENT");
  });

  it.each([
    ["gzip", gzipSync],
    ["x-gzip", gzipSync],
    ["deflate", deflateSync],
    ["br", brotliCompressSync],
  ] as const)("a body with Content-Encoding: %s is decoded", async (encoding, compress) => {
    const version = `enc-${encoding}`;
    const response = await fetch(`${base}/api/v1/models`, {
      method: "POST",
      headers: { ...json, "content-encoding": encoding },
      body: compress(Buffer.from(JSON.stringify({ name: "compressed", version }))),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toMatchObject({ name: "compressed", version });
  });

  it("a compressed bomb is 413 at the limit of decoded bytes", async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(maxBodyBytes);
    const response = await fetch(`${base}/api/v1/models`, {
      method: "POST",
      headers: { ...json, "content-encoding": "gzip" },
      body: bomb,
    });
    const error = await expectError(response, 413, "INVALID_ARGUMENT");
    expect(error.error.message).toBe(
      `The request body is larger than ${maxBodyBytes} bytes once decoded (Content-Encoding: gzip).`,
    );
  });

  it.each(["compress", "zstd", "gzip, br", "chunked"])(
    "Content-Encoding: %s is 415 naming the encodings accepted",
    async (encoding) => {
      const response = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: { ...json, "content-encoding": encoding },
        body: JSON.stringify({ name: "refused", version: "1" }),
      });
      const error = await expectError(response, 415, "INVALID_ARGUMENT");
      expect(error.error.message).toMatch(
        /not accepted; send the body uncompressed, or with one of gzip, deflate or br/,
      );
      expect(response.headers.get("accept-encoding")).toBe("gzip, deflate, br, identity");
    },
  );

  it("a body that is not what its Content-Encoding says is 400", async () => {
    const response = await fetch(`${base}/api/v1/models`, {
      method: "POST",
      headers: { ...json, "content-encoding": "gzip" },
      body: JSON.stringify({ name: "plain", version: "1" }),
    });
    const error = await expectError(response, 400, "INVALID_ARGUMENT");
    expect(error.error.message).toBe("The request body is not valid gzip data (Content-Encoding: gzip).");
  });

  it("a gzip NDJSON import is decoded as it arrives", async () => {
    const lines = [1, 2, 3].map((i) => JSON.stringify({ model: { name: "gz-import", version: String(i) } }));
    const response = await fetch(`${base}/api/v1/models:import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", "content-encoding": "gzip" },
      body: gzipSync(Buffer.from(lines.join("\n"))),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toMatchObject({ createdCount: 3 });
  });

  it("a JSON nesting bomb is 400 saying how deep a body may nest, never an engine message", async () => {
    for (const depth of [65, 100_000]) {
      const response = await fetch(`${base}/api/v1/models`, {
        method: "POST",
        headers: json,
        body: `{"metadata":${"[".repeat(depth)}${"]".repeat(depth)}}`.slice(0, maxBodyBytes),
      });
      const error = await expectError(response, 400, "INVALID_ARGUMENT");
      expect(error.error.message).toBe(
        "The request body nests objects and arrays more than 64 levels deep; send at most 64.",
      );
    }
    // 64 levels parse (and are then refused as the wrong shape, by the message's reader).
    const response = await fetch(`${base}/api/v1/models`, {
      method: "POST",
      headers: json,
      body: `{"name":${"[".repeat(63)}${"]".repeat(63)}}`,
    });
    const error = await expectError(response, 400, "INVALID_ARGUMENT");
    expect(error.error.message).not.toMatch(/nests/);
  });

  it.each([
    ['{"name": x}', 'The request body is not valid JSON: unexpected "x".'],
    ['{"name" "x"}', 'The request body is not valid JSON: unexpected "\\"" at line 1, column 9.'],
    ['{\n"name": "x"\n} trailing', 'The request body is not valid JSON: unexpected "t" at line 3, column 3.'],
    ['{"name": "x"', "The request body is not valid JSON: it ends before the JSON value is complete."],
  ])("malformed JSON %j is 400 in the gateway's words", async (body, message) => {
    const response = await fetch(`${base}/api/v1/models`, { method: "POST", headers: json, body });
    const error = await expectError(response, 400, "INVALID_ARGUMENT");
    expect(error.error.message).toBe(message);
    expect(error.error.message).not.toMatch(/position|JSON\.parse|SyntaxError|call stack/);
  });
});
