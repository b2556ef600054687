// A registry server (memory storage) in its own OS process, so a test can
// SIGSTOP or SIGKILL it. Prints {"port":N} once listening.
import { createMemoryStorage, createRegistryServer } from "@modelreg/registry-server";

const server = createRegistryServer({
  storage: createMemoryStorage(),
  insecure: true,
  host: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
const { port } = await server.listen();
process.stdout.write(`${JSON.stringify({ port })}\n`);
