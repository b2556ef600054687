import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP forwarder on 127.0.0.1 in front of a real server (a database, a
 * registry), for tests in any package: it counts the connections that go
 * through it, and can cut them, to simulate a server or network that goes
 * away and comes back.
 */
export interface TcpProxy {
  /** The port it listens on. */
  readonly port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections open now. */
  open(): number;
  /**
   * Resets every open connection and, until {@link restore}, resets each new
   * one as soon as it arrives: to the other side, the server has gone.
   */
  cut(): void;
  /** Forwards new connections again after {@link cut}. */
  restore(): void;
  /** Stops listening (the port is closed: new connections are refused) and resets every open connection. */
  close(): Promise<void>;
}

/** Starts forwarding a free port on 127.0.0.1 to `target`. */
export async function startTcpProxy(target: {
  readonly host: string;
  readonly port: number;
}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let cut = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    if (cut) {
      client.on("error", () => {});
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = connect(target.port, target.host);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no TCP port");
  const resetAll = () => {
    for (const socket of sockets) socket.resetAndDestroy();
  };
  let closed: Promise<void> | undefined;
  return {
    port: address.port,
    accepted: () => accepted,
    // Each forwarded connection is two sockets: the client's and the upstream one.
    open: () => [...sockets].filter((s) => s.localPort === address.port).length,
    cut() {
      cut = true;
      resetAll();
    },
    restore() {
      cut = false;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        resetAll();
      });
      return closed;
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago): connecting is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP port");
  return address.port;
}
