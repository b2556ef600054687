// A registry server on a SQLite file, as its own OS process, for tests that
// kill it. Prints one JSON line {"port":N} when it is listening.
import { createRegistryServer } from "../server";
import { createSqliteStorage } from "../storage/sqlite";

const path = process.argv[2];
if (!path) throw new Error("usage: sqlite-server-process.ts <database file>");
const storage = await createSqliteStorage({ path });
const server = createRegistryServer({
  storage,
  insecure: true,
  host: "127.0.0.1",
  port: 0,
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
const { port } = await server.listen();
process.stdout.write(`${JSON.stringify({ port })}\n`);
