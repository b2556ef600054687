/** A node:http request's body as the core reads it: whole with a size limit, or as it arrives. */
import type { IncomingMessage } from "node:http";
import { Code, RegistryError } from "@modelreg/proto";
import type { GatewayRequestBody } from "../core/types";

/** A body that could not be read (the client sent a broken stream): still a JSON 400, never an HTML page. */
const unreadable = (cause: unknown) =>
  new RegistryError(Code.INVALID_ARGUMENT, "The request body could not be read.", { cause });

/** Reads the whole body, keeping at most `limit + 1` bytes (so that the core can answer 413). */
function readAll(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      // Past the limit the rest is read and dropped: the 413 must reach a client still sending.
      if (size > limit) return;
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", (error) => reject(unreadable(error)));
    req.on("close", () => {
      if (!req.readableEnded) reject(unreadable(new Error("the request closed before its body ended")));
    });
  });
}

/**
 * The body as it arrives. If the reader stops early (a bad NDJSON line),
 * the rest is drained rather than the socket destroyed, so the answer
 * still reaches the client.
 */
async function* chunksOf(req: IncomingMessage): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
  } catch (error) {
    throw unreadable(error);
  } finally {
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
  return { bytes: (maxBytes) => readAll(req, maxBytes), stream: () => chunksOf(req) };
}
