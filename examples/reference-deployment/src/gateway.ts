// The API Gateway process: REST/JSON on GATEWAY_PORT (8080), every call
// forwarded over gRPC to the registry at REGISTRY_ADDRESS. Stops cleanly on
// SIGINT/SIGTERM, closing its gRPC connections.
import type { Server } from "node:http";
import { createGatewayMiddleware } from "@modelreg/gateway-express";
import { createRegistryClient } from "@modelreg/registry-client";
import express from "express";
import { pino } from "pino";
import { ConfigError, envFile, envInt, envString } from "./env";

const logger = pino({ base: { service: "gateway" }, level: envString("LOG_LEVEL", "info") });

async function main() {
  const port = envInt("GATEWAY_PORT", 8080, 0, 65535);
  const host = envString("GATEWAY_HOST", "0.0.0.0");
  const address = envString("REGISTRY_ADDRESS", "localhost:9090");
  const ca = envFile("REGISTRY_TLS_CA_FILE");
  const cert = envFile("REGISTRY_TLS_CERT_FILE");
  const key = envFile("REGISTRY_TLS_KEY_FILE");
  const client = createRegistryClient({
    target: address,
    ...(ca || cert
      ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } }
      : { insecure: true }),
    poolSize: envInt("REGISTRY_POOL_SIZE", 2, 1, 64),
    keepalive: { timeMs: envInt("REGISTRY_KEEPALIVE_MS", 10_000, 1000, 3_600_000) },
    defaultTimeoutMs: envInt("REGISTRY_TIMEOUT_MS", 30_000, 100, 600_000),
  });

  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.use(createGatewayMiddleware({ client, logger }));

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once("error", reject);
  });
  const bound = server.address();
  logger.info({ port: typeof bound === "object" && bound ? bound.port : port }, "API gateway listening");

  // Connect in the background: the gateway serves (503 for registry calls)
  // until the registry is reachable, and keeps trying.
  logger.info({ address }, "Connecting to Model Registry gRPC service...");
  let stopping = false;
  (async () => {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        await client.connect({ timeoutMs: 5000 });
        logger.info({ address, channels: client.channels() }, "Connected to Model Registry gRPC service");
        return;
      } catch (error) {
        logger.warn(
          { address, attempt, reason: (error as Error).message },
          "Model Registry not reachable yet; retrying",
        );
      }
    }
  })();

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping");
      server.close(() => {
        client.close();
        logger.info("gateway stopped");
        process.exit(0);
      });
      server.closeIdleConnections();
    });
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) logger.error(error.message);
  else logger.error({ err: error }, "the gateway could not start");
  process.exit(1);
});
