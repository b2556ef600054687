import { createGatewayMiddleware } from "@modelreg/gateway-express";
import { createRegistryClient } from "@modelreg/registry-client";
import express from "express";

/**
 * Our gateway as the README mounts it: Express 5 + createGatewayMiddleware +
 * createRegistryClient (pool of 2, the default) calling a registry in another process.
 */
export async function startGateway(port: number, target: string): Promise<void> {
  const client = createRegistryClient({ target, insecure: true, poolSize: 2 });
  const app = express();
  app.use(createGatewayMiddleware({ client }));
  await new Promise<void>((resolve) => app.listen(port, "127.0.0.1", () => resolve()));
}
