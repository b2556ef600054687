/** Writing the core's response to a node:http response: whole, or streamed with backpressure. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayResponse } from "../core/types";
import { leavesBodyUnread } from "./body";

/**
 * Closes an HTTP/1.1 connection after the answer when the request's body
 * was left unread (refused as too large, or answered before it arrived):
 * node would otherwise read all of it, however long, to reuse the connection.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.httpVersionMajor === 1 && leavesBodyUnread(req)) res.setHeader("connection", "close");
}

/** Status and headers, added to those other middleware set (CORS, security headers). */
function writeHead(req: IncomingMessage, res: ServerResponse, response: GatewayResponse): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  closeIfBodyUnread(req, res);
}

/** Resolves when the socket can take more, or the response closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Sends a streamed response: headers at once, then each chunk flushed as it
 * comes, waiting for the socket to drain (a slow HTTP client slows the
 * stream, and through it the gRPC call). Stops when the client goes away.
 */
async function sendStream(
  req: IncomingMessage,
  res: ServerResponse,
  response: GatewayResponse,
  stream: AsyncIterable<string>,
  signal: { readonly aborted: boolean },
): Promise<void> {
  writeHead(req, res, response);
  res.flushHeaders();
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (signal.aborted) break;
      const writable = res.write(next.value);
      // A compression middleware buffers until told to flush.
      (res as { flush?: () => void }).flush?.();
      if (!writable && !signal.aborted) await drained(res);
    }
  } finally {
    await iterator.return?.();
    if (!res.writableEnded) res.end();
  }
}

/** Sends the core's response; a HEAD request gets the headers only. */
export async function sendResponse(
  req: IncomingMessage,
  res: ServerResponse,
  response: GatewayResponse,
  signal: { readonly aborted: boolean },
): Promise<void> {
  if (signal.aborted || res.headersSent) {
    // Nobody to send it to: end the gRPC stream behind it, if any.
    await response.stream?.[Symbol.asyncIterator]().return?.();
    return;
  }
  if (response.stream) return sendStream(req, res, response, response.stream, signal);
  writeHead(req, res, response);
  res.end(req.method === "HEAD" ? undefined : response.body);
}
