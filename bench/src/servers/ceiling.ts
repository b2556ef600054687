import http2 from "node:http2";
import { fixedResponseFrame } from "../fixture";

/**
 * The ceiling: a bare node:http2 server that reads each request and answers
 * with the same precomputed gRPC bytes (headers, one framed GetModelResponse,
 * `grpc-status: 0` trailers). No routing, no decoding, no encoding: what any
 * Node gRPC server pays for HTTP/2 alone.
 */
export function startCeiling(port: number): Promise<void> {
  const body = fixedResponseFrame();
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.on("data", () => {});
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "grpc-message": "" }));
      stream.end(body);
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
}
