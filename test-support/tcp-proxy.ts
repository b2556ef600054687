import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP forwarder on 127.0.0.1 in front of a real server (a database, a
 * registry), for tests in any package: it counts the connections that go
 * through it, and can cut them (the server goes away: connections reset) or
 * partition them (the network goes silent: nothing arrives, nothing closes),
 * and bring them back.
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
  /**
   * A silent network partition, as when packets are dropped (not refused):
   * until {@link heal}, open connections stay open but forward nothing in
   * either direction, and new connections are accepted but get nothing (a
   * userland proxy cannot drop SYNs; to the client it looks like a server
   * that never answers). Nothing is lost: bytes, half-closes and closes are
   * held back in order, as TCP retransmission would deliver them once the
   * network is back.
   */
  partition(): void;
  /**
   * Ends a {@link partition}: what was held back is delivered in order,
   * connections made meanwhile reach the server (unless their client gave
   * up), and forwarding goes on.
   */
  heal(): void;
  /** Stops listening (the port is closed: new connections are refused) and resets every open connection. */
  close(): Promise<void>;
}

/** What one direction of a connection has not delivered yet: bytes, then perhaps its end or a reset. */
type Held = Buffer | "end" | "reset";

/** One direction of a forwarded connection. */
class Direction {
  readonly queue: Held[] = [];
  constructor(
    readonly from: Socket,
    public to: Socket | undefined,
  ) {}

  push(item: Held, partitioned: boolean): void {
    this.queue.push(item);
    if (!partitioned) this.flush();
  }

  /** Delivers what is held, keeping to the receiver's pace (the sender pauses while its buffer is full). */
  flush(): void {
    const to = this.to;
    if (to === undefined) return;
    for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
      if (item === "end") to.end();
      // A close after an end: the receiver closes once it reads the end.
      else if (item === "reset") {
        if (!to.writableEnded) to.destroy();
      } else if (!to.write(item) && !this.from.isPaused()) {
        this.from.pause();
        to.once("drain", () => this.from.resume());
      }
    }
  }
}

/** A client connection and, once it reaches the server, its upstream connection. */
interface Link {
  readonly client: Socket;
  upstream: Socket | undefined;
  readonly toUpstream: Direction;
  toClient: Direction | undefined;
}

/** What a proxy knows of its connections, and whether it is cut or partitioned. */
interface ProxyState {
  readonly target: { readonly host: string; readonly port: number };
  readonly sockets: Set<Socket>;
  readonly links: Set<Link>;
  accepted: number;
  cut: boolean;
  partitioned: boolean;
}

/** Records `socket` until it closes; an error destroys it. */
function track(state: ProxyState, socket: Socket): void {
  state.sockets.add(socket);
  socket.on("close", () => state.sockets.delete(socket));
  socket.on("error", () => socket.destroy());
}

/** Forwards `from`'s bytes, end and reset into `direction`; held while partitioned. */
function feed(state: ProxyState, from: Socket, direction: Direction): void {
  from.on("data", (chunk: Buffer) => direction.push(chunk, state.partitioned));
  from.on("end", () => direction.push("end", state.partitioned));
  from.on("close", () => direction.push("reset", state.partitioned));
}

/** Connects `link` to the server and delivers what its client sent meanwhile. */
function reachServer(state: ProxyState, link: Link): void {
  const upstream = connect(state.target.port, state.target.host);
  track(state, upstream);
  link.upstream = upstream;
  link.toUpstream.to = upstream;
  upstream.on("close", () => {
    if (link.client.destroyed) state.links.delete(link);
  });
  link.toClient = new Direction(upstream, link.client);
  feed(state, upstream, link.toClient);
  link.toUpstream.flush();
}

/** A new client connection: reset while cut, else forwarded (once the network is back, if partitioned). */
function accept(state: ProxyState, client: Socket): void {
  if (state.cut) {
    client.on("error", () => {});
    client.resetAndDestroy();
    return;
  }
  state.accepted++;
  track(state, client);
  const link: Link = {
    client,
    upstream: undefined,
    toUpstream: new Direction(client, undefined),
    toClient: undefined,
  };
  state.links.add(link);
  client.on("close", () => {
    if (client.destroyed && (link.upstream === undefined || link.upstream.destroyed)) {
      state.links.delete(link);
    }
  });
  feed(state, client, link.toUpstream);
  // Its SYN "was dropped": the server hears of it once the network is back.
  if (!state.partitioned) reachServer(state, link);
}

/** Ends a partition: connections made meanwhile reach the server, and what was held is delivered. */
function heal(state: ProxyState): void {
  state.partitioned = false;
  for (const link of state.links) {
    // A client that gave up during the partition stopped retransmitting its SYN.
    if (link.upstream === undefined) {
      if (!link.client.destroyed) reachServer(state, link);
      continue;
    }
    link.toUpstream.flush();
    link.toClient?.flush();
  }
}

/** Resets every open connection. */
function resetAll(state: ProxyState): void {
  for (const socket of state.sockets) socket.resetAndDestroy();
  state.links.clear();
}

/** Listens on a free port on 127.0.0.1; resolves that port. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no TCP port");
  return address.port;
}

/** Starts forwarding a free port on 127.0.0.1 to `target`. */
export async function startTcpProxy(target: {
  readonly host: string;
  readonly port: number;
}): Promise<TcpProxy> {
  const state: ProxyState = {
    target,
    sockets: new Set(),
    links: new Set(),
    accepted: 0,
    cut: false,
    partitioned: false,
  };
  const server = createServer({ allowHalfOpen: true }, (client) => accept(state, client));
  const port = await listen(server);
  let closed: Promise<void> | undefined;
  return {
    port,
    accepted: () => state.accepted,
    // Each forwarded connection is two sockets: the client's and the upstream one.
    open: () => [...state.sockets].filter((s) => s.localPort === port).length,
    cut() {
      state.cut = true;
      resetAll(state);
    },
    restore() {
      state.cut = false;
    },
    partition() {
      state.partitioned = true;
    },
    heal: () => heal(state),
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        resetAll(state);
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
