import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a server, counting the connections that go
 * through it: how tests check what the client really opens and closes.
 */
export async function startTcpProxy(targetPort: number) {
  const open = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    open.add(socket);
    const upstream = connect(targetPort, "127.0.0.1");
    socket.pipe(upstream).pipe(socket);
    const done = () => {
      open.delete(socket);
      socket.destroy();
      upstream.destroy();
    };
    socket.on("close", done).on("error", done);
    upstream.on("close", done).on("error", done);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    /** Connections accepted so far. */
    accepted: () => accepted,
    /** Connections open now. */
    open: () => open.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
