import {
  createMemoryStorage,
  createRegistryServer,
  type Logger,
  type RegistryServerOptions,
} from "@modelreg/registry-server";

/** A logger that drops everything, for servers started by tests. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A real registry server on 127.0.0.1 and a free port (memory storage,
 * plaintext, silent unless `options` say otherwise), for tests in any package.
 */
export async function startTestRegistry(options: Partial<RegistryServerOptions> = {}) {
  const storage = options.storage ?? createMemoryStorage();
  const server = createRegistryServer({
    insecure: true,
    host: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    ...options,
    storage,
  });
  const { port } = await server.listen();
  return { server, port, storage, address: `127.0.0.1:${port}` };
}
