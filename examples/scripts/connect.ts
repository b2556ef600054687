import { createRegistryClient, type RegistryClient } from "@modelreg/registry-client";

/** A client for REGISTRY_ADDRESS (default localhost:9090), connected, closed when `work` ends. */
export async function withClient(work: (client: RegistryClient) => Promise<void>): Promise<void> {
  const client = createRegistryClient({
    target: process.env.REGISTRY_ADDRESS ?? "localhost:9090",
    insecure: true,
  });
  try {
    await client.connect({ timeoutMs: 5000 });
    await work(client);
  } finally {
    client.close();
  }
}
