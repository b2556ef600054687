import { createServer, type Server } from "node:http";

/** What the HTTP probes report. */
export interface HealthProbes {
  /** `/readyz`: ready to take calls (storage reachable, not stopping). */
  ready(): boolean;
  /** `/healthz`: alive (not stopping). */
  live(): boolean;
}

/**
 * Serves `GET /healthz` and `GET /readyz` (200 or 503, with a JSON status)
 * on `host:port`; resolves with the server and its bound port.
 */
export async function listenHttpHealth(
  port: number,
  host: string,
  probes: HealthProbes,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = req.url?.split("?")[0];
    const ok = path === "/readyz" ? probes.ready() : path === "/healthz" ? probes.live() : undefined;
    res.setHeader("content-type", "application/json");
    if (ok === undefined || req.method !== "GET") {
      res.writeHead(404).end(JSON.stringify({ error: "not found; try GET /healthz or /readyz" }));
      return;
    }
    res.writeHead(ok ? 200 : 503).end(JSON.stringify({ status: ok ? "SERVING" : "NOT_SERVING" }));
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
  return { server, port: bound };
}

/** Closes `server` if there is one; resolves once it has. */
export function closeHttpServer(server: Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
}
