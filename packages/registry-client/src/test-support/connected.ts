import type { RegistryServer, RegistryServerOptions } from "@modelreg/registry-server";
import { startTestRegistry } from "../../../../test-support/registry";
import { createRegistryClient, type RegistryClient } from "../index";

/** A test registry started with `options` and a plaintext client connected to it (READY). */
export async function startConnected(
  options: Partial<RegistryServerOptions> = {},
): Promise<{ server: RegistryServer; client: RegistryClient }> {
  const { server, address } = await startTestRegistry(options);
  const client = createRegistryClient({ target: address, insecure: true });
  await client.connect({ timeoutMs: 5000 });
  return { server, client };
}

/** Closes what {@link startConnected} started: the client, then the server (100 ms grace). */
export async function stopConnected({ server, client }: { server: RegistryServer; client: RegistryClient }) {
  client.close();
  await server.shutdown({ graceMs: 100 });
}
