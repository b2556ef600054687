/**
 * A node:http request's body as the core reads it: whole within a size
 * limit, or as it arrives; decoded when it has a `Content-Encoding`.
 */
import type { IncomingMessage } from "node:http";
import type { Readable, Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Code, RegistryError } from "@modelreg/proto";
import { HttpError } from "../core/errors";
import type { GatewayRequestBody } from "../core/types";

/** The content codings a body may arrive in, besides `identity`. */
const decoders: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** What a 415 for another coding names, in `Accept-Encoding` (RFC 9110, section 12.5.3). */
export const acceptedEncodings = "gzip, deflate, br, identity";

/** Requests whose body the gateway stopped reading: their answer closes the connection. */
const abandoned = new WeakSet<IncomingMessage>();

/** A body that could not be read (the client sent a broken stream): still a JSON 400, never an HTML page. */
const unreadable = (cause: unknown) =>
  new RegistryError(Code.INVALID_ARGUMENT, "The request body could not be read.", { cause });

const undecodable = (encoding: string, cause: unknown) =>
  new RegistryError(
    Code.INVALID_ARGUMENT,
    `The request body is not valid ${encoding} data (Content-Encoding: ${encoding}).`,
    { cause, violations: [{ field: "Content-Encoding", description: `the body is not valid ${encoding}` }] },
  );

function tooLarge(limit: number, what: string): HttpError {
  return new HttpError(
    413,
    new RegistryError(Code.INVALID_ARGUMENT, `The request body is larger than ${limit} bytes${what}.`),
  );
}

/** The body's one content coding, lower-cased; undefined for none or `identity`. 415 for others. */
function encodingOf(req: IncomingMessage): string | undefined {
  const codings = (req.headers["content-encoding"] ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return undefined;
  const [coding] = codings;
  if (codings.length === 1 && coding !== undefined && Object.hasOwn(decoders, coding)) return coding;
  throw new HttpError(
    415,
    new RegistryError(
      Code.INVALID_ARGUMENT,
      `Content-Encoding "${String(req.headers["content-encoding"]).slice(0, 40)}" is not accepted; send the body uncompressed, or with one of gzip, deflate or br.`,
    ),
    { "accept-encoding": acceptedEncodings },
  );
}

/** Stops reading the request: the rest is neither read nor waited for, and the answer closes the connection. */
function abandon(req: IncomingMessage, decoder: Transform | undefined): void {
  abandoned.add(req);
  if (decoder) {
    req.unpipe(decoder);
    decoder.destroy();
  }
  req.pause();
}

/**
 * Reads the whole body, decoded, refusing with 413 as soon as it (or what
 * it declares in Content-Length) passes `limit` bytes, encoded or decoded.
 */
function readAll(req: IncomingMessage, limit: number, encoding: string | undefined): Promise<Uint8Array> {
  if (Number(req.headers["content-length"]) > limit) {
    abandon(req, undefined);
    return Promise.reject(tooLarge(limit, ""));
  }
  const decoder = encoding === undefined ? undefined : decoders[encoding]?.();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let received = 0;
    const fail = (error: unknown) => {
      abandon(req, decoder);
      reject(error);
    };
    const source: Readable = decoder ? req.pipe(decoder) : req;
    if (decoder) {
      req.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > limit) fail(tooLarge(limit, ""));
      });
      decoder.on("error", (error) => fail(undecodable(encoding ?? "", error)));
    }
    source.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit)
        return fail(tooLarge(limit, decoder ? ` once decoded (Content-Encoding: ${encoding})` : ""));
      chunks.push(chunk);
    });
    source.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", (error) => reject(unreadable(error)));
    req.on("close", () => {
      if (!req.readableEnded) reject(unreadable(new Error("the request closed before its body ended")));
    });
  });
}

/**
 * The body as it arrives, decoded. If the reader stops early (a bad NDJSON
 * line), the rest is drained rather than the socket destroyed, so the answer
 * still reaches the client.
 */
async function* chunksOf(req: IncomingMessage): AsyncGenerator<Uint8Array, void, undefined> {
  const encoding = encodingOf(req);
  const decoder = encoding === undefined ? undefined : decoders[encoding]?.();
  const source: Readable = decoder ? req.pipe(decoder) : req;
  let failure: unknown;
  req.once("error", (error) => {
    failure = error;
    decoder?.destroy(error);
  });
  try {
    for await (const chunk of source.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
  } catch (error) {
    throw decoder && failure === undefined
      ? undecodable(encoding ?? "", error)
      : unreadable(failure ?? error);
  } finally {
    if (decoder) req.unpipe(decoder);
    if (!req.readableEnded) req.resume();
  }
}

/**
 * A body that a parser mounted before us (`express.json()`, `express.text()`,
 * ...) already read, as bytes: the stream has ended and `req.body` holds
 * what it parsed. Undefined when nothing read the body.
 */
function parsedBody(req: IncomingMessage & { body?: unknown }): Uint8Array | undefined {
  if (!req.readableEnded || req.body === undefined) return undefined;
  if (req.body instanceof Uint8Array) return req.body;
  return Buffer.from(typeof req.body === "string" ? req.body : JSON.stringify(req.body));
}

/** A body already in memory. */
function bufferedBody(bytes: Uint8Array): GatewayRequestBody {
  return {
    bytes: async () => bytes,
    async *stream() {
      yield bytes;
    },
  };
}

/**
 * Whether the answer to `req` should close the connection: the gateway
 * stopped reading its body, or answers before a body that has not fully
 * arrived (a 404, a 429). Node would otherwise read the rest, however long,
 * to keep the connection for another request.
 */
export function leavesBodyUnread(req: IncomingMessage): boolean {
  if (abandoned.has(req)) return true;
  if (req.complete || req.readableEnded) return false;
  const declared = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (declared !== undefined && declared !== "0");
}

/** The body of a request for the core; undefined when the request has none. */
export function requestBodyOf(req: IncomingMessage): GatewayRequestBody | undefined {
  const parsed = parsedBody(req);
  if (parsed !== undefined) return bufferedBody(parsed);
  // A request has a body only with one of these (RFC 9112, section 6.3): most
  // are GETs without, and waiting for their `end` cost ~3% of a GET.
  if (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined) {
    return undefined;
  }
  // Something before us consumed the stream without leaving a body we know.
  if (req.readableEnded) return undefined;
  return {
    bytes: async (maxBytes) => readAll(req, maxBytes, encodingOf(req)),
    stream: () => chunksOf(req),
  };
}
