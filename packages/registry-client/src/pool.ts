import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import { onAbort } from "./abort";

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

  /**
   * The channel for the next call, round-robin: READY channels first, then
   * ones that are idle or connecting, and a failing one only if that is all
   * there is (the call then reports why).
   */
  pick(): grpc.Client {
    if (this.#closed) throw new RegistryError(Code.CANCELLED, "The registry client is closed.");
    const n = this.#channels.length;
    let fallback: number | undefined;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      const state = this.#channels[index]?.client.getChannel().getConnectivityState(false);
      if (state === grpc.connectivityState.READY) return this.#take(index);
      if (fallback === undefined && state !== grpc.connectivityState.TRANSIENT_FAILURE) fallback = index;
    }
    return this.#take(fallback ?? this.#next % n);
  }

  #take(index: number): grpc.Client {
    const channel = this.#channels[index];
    if (!channel) throw new RegistryError(Code.CANCELLED, "The registry client has no channels.");
    this.#next = (index + 1) % this.#channels.length;
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

  /** Resolves when any channel is READY, at `deadline` (epoch ms), or when `signal` aborts; never rejects. */
  waitForAnyReady(deadline: number, signal?: AbortSignal): Promise<void> {
    if (
      this.#channels.some(
        (c) => c.client.getChannel().getConnectivityState(true) === grpc.connectivityState.READY,
      )
    ) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let pending = this.#channels.length;
      const done = () => {
        unsubscribe();
        resolve();
      };
      const unsubscribe = signal ? onAbort(signal, done) : () => {};
      for (const { client } of this.#channels) {
        client.waitForReady(deadline, (error) => {
          pending--;
          if (!error || pending === 0) done();
        });
      }
    });
  }

  /** Whether any channel is READY now. */
  anyReady(): boolean {
    return this.#channels.some(
      (c) => c.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY,
    );
  }

  /**
   * Calls `listener` when the pool's readiness flips: `true` as soon as the
   * first channel becomes READY (at once if one already is), `false` when
   * the last READY one is lost. Keeps idle channels connecting meanwhile.
   * Returns the function that stops watching; closing the pool stops it too.
   */
  onReadyChange(listener: (ready: boolean) => void): () => void {
    let stopped = false;
    let ready = false;
    const check = () => {
      if (stopped || this.#closed || this.anyReady() === ready) return;
      ready = !ready;
      listener(ready);
    };
    const watch = (channel: ReturnType<grpc.Client["getChannel"]>) => {
      if (stopped || this.#closed) return;
      // `true`: an IDLE channel starts connecting, so that readiness is seen without a call.
      const state = channel.getConnectivityState(true);
      channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, () => {
        check();
        watch(channel);
      });
    };
    for (const { client } of this.#channels) watch(client.getChannel());
    queueMicrotask(check);
    return () => {
      stopped = true;
    };
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
