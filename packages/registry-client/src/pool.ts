import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";

/** The state of one pooled connection, for logs and metrics. */
export interface ChannelInfo {
  /** The address the channel connects to. */
  readonly target: string;
  /** grpc-js connectivity state: IDLE, CONNECTING, READY, TRANSIENT_FAILURE or SHUTDOWN. */
  readonly state: keyof typeof grpc.connectivityState;
}

/**
 * `poolSize` channels per target, each its own HTTP/2 connection
 * (`grpc.use_local_subchannel_pool`: without it grpc-js shares one
 * connection between channels to the same target). Calls go round-robin,
 * skipping channels in TRANSIENT_FAILURE while any other is usable, so one
 * replica going away does not fail calls that another can serve.
 */
export class ChannelPool {
  readonly #channels: { target: string; client: grpc.Client }[] = [];
  #next = 0;
  #closed = false;

  constructor(
    targets: readonly string[],
    poolSize: number,
    credentials: grpc.ChannelCredentials,
    options: grpc.ChannelOptions,
  ) {
    for (const target of targets) {
      for (let i = 0; i < poolSize; i++) {
        const client = new grpc.Client(target, credentials, {
          ...options,
          "grpc.use_local_subchannel_pool": 1,
        });
        this.#channels.push({ target, client });
      }
    }
  }

  /** The channel for the next call. */
  pick(): grpc.Client {
    if (this.#closed) throw new RegistryError(Code.CANCELLED, "The registry client is closed.");
    const n = this.#channels.length;
    for (let i = 0; i < n; i++) {
      const channel = this.#channels[(this.#next + i) % n];
      if (!channel) continue;
      const state = channel.client.getChannel().getConnectivityState(false);
      if (state !== grpc.connectivityState.TRANSIENT_FAILURE && state !== grpc.connectivityState.SHUTDOWN) {
        this.#next = (this.#next + i + 1) % n;
        return channel.client;
      }
    }
    // Every channel is failing: use the next one anyway; the call reports why.
    const channel = this.#channels[this.#next % n];
    this.#next = (this.#next + 1) % n;
    if (!channel) throw new RegistryError(Code.CANCELLED, "The registry client has no channels.");
    return channel.client;
  }

  /** Waits until every channel is READY, or fails with UNAVAILABLE naming the ones that are not. */
  async connect(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const results = await Promise.all(
      this.#channels.map(
        ({ client }) =>
          new Promise<Error | undefined>((resolve) => {
            client.waitForReady(deadline, (error) => resolve(error));
          }),
      ),
    );
    const failed = this.info().filter((_, i) => results[i] !== undefined);
    if (failed.length > 0) {
      const targets = [...new Set(failed.map((c) => `${c.target} (${c.state})`))].join(", ");
      throw new RegistryError(
        Code.UNAVAILABLE,
        `Could not connect to the Model Registry at ${targets} within ${timeoutMs} ms.`,
        { cause: results.find((r) => r !== undefined) },
      );
    }
  }

  info(): ChannelInfo[] {
    return this.#channels.map(({ target, client }) => ({
      target,
      state: grpc.connectivityState[client.getChannel().getConnectivityState(false)] as ChannelInfo["state"],
    }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { client } of this.#channels) client.close();
  }
}
