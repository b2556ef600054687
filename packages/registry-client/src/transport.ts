import * as grpc from "@grpc/grpc-js";
import { Code, ModelServiceClient, RegistryError } from "@modelreg/proto";
import {
  type ClientStreamingCall,
  type DuplexStreamingCall,
  type MethodInfo,
  mergeRpcOptions,
  type RpcInterceptor,
  type RpcMetadata,
  type RpcOptions,
  type RpcTransport,
  type ServerStreamingCall,
  type UnaryCall,
} from "@protobuf-ts/runtime-rpc";
import { ModelCache } from "./cache/model-cache";
import { type CacheSettings, resolveCacheOptions } from "./cache/options";
import type { CacheOptions, CacheStats } from "./cache/types";
import { toGrpcMetadata } from "./metadata";
import { type ChannelInfo, ChannelPool } from "./pool";
import { type RetryOptions, RetryPolicy } from "./retry";
import { startClientStreaming, startServerStreaming } from "./streaming-calls";
import type { TransportContext } from "./transport-context";
import { startUnary } from "./unary-call";

/** TLS settings; omit `cert`/`key` for server-only TLS. */
export interface ClientTlsOptions {
  /** PEM root certificates to trust. Default: the system's. */
  ca?: Buffer;
  /** PEM client certificate chain, for mutual TLS. */
  cert?: Buffer;
  /** PEM client private key, for mutual TLS. */
  key?: Buffer;
}

/** Headers for every call: fixed, or a function called per call (a token that refreshes). */
export type MetadataSource = RpcMetadata | (() => RpcMetadata | Promise<RpcMetadata>);

/** A bearer token: fixed, or a function called per call (a token that refreshes). */
export type TokenSource = string | (() => string | Promise<string>);

/** Options for {@link createRegistryTransport} (and for `createRegistryClient`, which builds one). */
export interface RegistryTransportOptions {
  /** `host:port` of the registry, several replicas as an array or a comma-separated list. */
  target: string | readonly string[];
  /** Use TLS. Either this, `credentials` or `insecure: true` must be given. */
  tls?: ClientTlsOptions;
  /** Plaintext (development, or a sidecar that adds TLS). */
  insecure?: boolean;
  /** Custom grpc-js channel credentials, instead of `tls`. */
  credentials?: grpc.ChannelCredentials;
  /** Connections per target. Default 2. */
  poolSize?: number;
  /** Keepalive pings. Default: every 10 s, 20 s timeout, also without calls in flight. */
  keepalive?: { timeMs?: number; timeoutMs?: number; permitWithoutCalls?: boolean };
  /** Deadline of a unary call without one. Default 30 000 ms. Streams have none unless given. */
  defaultTimeoutMs?: number;
  /** Retries of idempotent calls on UNAVAILABLE; `false` disables them. */
  retry?: RetryOptions | false;
  /** Default for the `waitForReady` call option. Default false. */
  waitForReady?: boolean;
  /** Headers for every call (an auth token), or a function called per call that returns them. */
  metadata?: MetadataSource;
  /**
   * A bearer token sent as `authorization: Bearer <token>` on every call,
   * streams and their reconnects included; a function is called per call
   * (an empty string sends none). An `authorization` header in `metadata`
   * or in a call's options wins. Send tokens over TLS only: on a plaintext
   * connection anyone on the path can read and replay them.
   */
  token?: TokenSource;
  /**
   * protobuf-ts interceptors, outermost first, for every call: unary calls
   * and both kinds of stream. An interceptor sees one logical call; retries
   * happen below it.
   */
  interceptors?: readonly RpcInterceptor[];
  /** Largest response accepted, in bytes. Default 16 MiB. */
  maxReceiveMessageBytes?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
  /**
   * A read cache of GetModel, LookupModel and BatchGetModels answers, kept
   * exact by a watch of the change feed (`true`: every default). See the
   * README's "Cache" section. Absent: no cache.
   */
  cache?: CacheOptions | true;
}

/**
 * Extra per-call option this transport reads from `RpcOptions`: wait for a
 * connection instead of failing fast with UNAVAILABLE while none is ready.
 */
export interface RegistryRpcOptions extends RpcOptions {
  /** Wait for a connection (until the deadline) instead of failing fast with UNAVAILABLE. Default: the transport's `waitForReady`. */
  waitForReady?: boolean;
  /**
   * Consistency token of a read (GetModel, LookupModel, BatchGetModels):
   * the `x-modelreg-revision` a write answered with. A cache that has not
   * applied this revision from the change feed sends the read to the
   * registry instead of answering. Ignored by other methods.
   */
  minRevision?: bigint;
}

function parseTargets(target: string | readonly string[] | undefined): string[] {
  const list = (typeof target === "string" ? target.split(",") : [...(target ?? [])])
    .map((t) => t.trim())
    .filter(Boolean);
  if (list.length === 0)
    throw new TypeError("createRegistryClient: `target` must name at least one host:port");
  return [...new Set(list)];
}

function credentialsOf(options: RegistryTransportOptions): grpc.ChannelCredentials {
  if (options.credentials) return options.credentials;
  if (options.tls) {
    const { ca, key, cert } = options.tls;
    return grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null);
  }
  if (options.insecure === true) return grpc.credentials.createInsecure();
  throw new TypeError(
    "createRegistryClient: pass `tls` (or `credentials`), or `insecure: true` for plaintext",
  );
}

function channelOptionsOf(options: RegistryTransportOptions): grpc.ChannelOptions {
  const keepalive = options.keepalive ?? {};
  return {
    "grpc.keepalive_time_ms": keepalive.timeMs ?? 10_000,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs ?? 20_000,
    "grpc.keepalive_permit_without_calls": keepalive.permitWithoutCalls === false ? 0 : 1,
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? 16 * 1024 * 1024,
    // Retries are ours (idempotency-aware, budgeted); grpc-js's own would double them.
    "grpc.enable_retries": 0,
    // Find a registry that comes back within about a second: grpc-js's own
    // backoff (1 s, growing to 120 s) left a gateway failing for minutes
    // after the registry was back. A refused connection attempt costs little.
    "grpc.initial_reconnect_backoff_ms": 250,
    "grpc.max_reconnect_backoff_ms": 1000,
    ...options.channelOptions,
  };
}

/** RFC 6750 `b64token` (token68): the only characters a bearer token may have. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The `authorization` header of `token`, checked once if fixed. A token that
 * is not token68 is refused without ever being echoed (no message or
 * `cause` carries it, so it cannot reach a log): a fixed one with a
 * TypeError here, a function's value with INVALID_ARGUMENT on that call
 * (it is the client's own bad input; the server never sees it).
 */
function authorizationOf(token: TokenSource | undefined): (() => Promise<RpcMetadata>) | undefined {
  if (token === undefined) return undefined;
  const valid = (value: unknown): value is string =>
    typeof value === "string" && (value === "" || TOKEN68.test(value));
  const header = (value: string): RpcMetadata => (value === "" ? {} : { authorization: `Bearer ${value}` });
  if (typeof token === "function") {
    return async () => {
      const value = await token();
      if (valid(value)) return header(value);
      throw new RegistryError(
        Code.INVALID_ARGUMENT,
        "The client's `token` function must return a bearer token of RFC 6750 token68 characters (A-Z a-z 0-9 - . _ ~ + / and trailing =).",
      );
    };
  }
  if (!valid(token)) {
    throw new TypeError(
      "createRegistryClient: `token` must be a bearer token of RFC 6750 token68 characters (A-Z a-z 0-9 - . _ ~ + / and trailing =)",
    );
  }
  const fixed = header(token);
  return async () => fixed;
}

/** `meta` with lowercase keys; of keys differing only in case, the later wins. */
function lowercased(meta: RpcMetadata | undefined): RpcMetadata {
  const out: RpcMetadata = {};
  for (const [key, value] of Object.entries(meta ?? {})) out[key.toLowerCase()] = value;
  return out;
}

/**
 * How a call's headers are made: the token, the client's function's, then
 * the call's own, later winning per key whatever its case (so an
 * `authorization` in `metadata` or the call's options replaces the token's).
 */
function metadataFunction(
  source: MetadataSource | undefined,
  token: TokenSource | undefined,
): TransportContext["metadataFor"] {
  const authorization = authorizationOf(token);
  const dynamic = typeof source === "function" ? source : undefined;
  if (!authorization && !dynamic) return async (meta) => toGrpcMetadata(meta);
  return async (meta) =>
    toGrpcMetadata({
      ...(await authorization?.()),
      ...lowercased(await dynamic?.()),
      ...lowercased(meta),
    });
}

/**
 * A protobuf-ts `RpcTransport` over grpc-js for the Model Registry: a pool
 * of connections per replica, keepalive, a default deadline, budgeted
 * retries of idempotent calls, cancellation through `RpcOptions.abort`, and
 * every failure as a `RegistryError` (also for the generated
 * `ModelServiceClient` used with it). Server streams apply backpressure
 * through their async iterator; client streams through `send()`.
 */
export class RegistryTransport implements RpcTransport {
  /** The configured targets. */
  readonly targets: readonly string[];
  readonly #pool: ChannelPool;
  readonly #defaults: RpcOptions;
  readonly #context: TransportContext;
  readonly #cache: ModelCache | undefined;

  constructor(options: RegistryTransportOptions) {
    this.targets = parseTargets(options?.target);
    // Checked before any connection is made.
    const cacheSettings = options.cache ? resolveCacheOptions(options.cache) : undefined;
    const poolSize = options.poolSize ?? 2;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 64) {
      throw new TypeError(
        `createRegistryClient: \`poolSize\` must be an integer from 1 to 64 (got ${poolSize})`,
      );
    }
    this.#pool = new ChannelPool(this.targets, poolSize, credentialsOf(options), channelOptionsOf(options));
    const source = options.metadata;
    const fixed = typeof source === "function" ? undefined : source;
    this.#defaults = {
      ...(fixed ? { meta: { ...fixed } } : {}),
      ...(options.interceptors?.length ? { interceptors: [...options.interceptors] } : {}),
    };
    this.#context = {
      pool: this.#pool,
      retry: new RetryPolicy(options.retry === false ? { maxAttempts: 1 } : options.retry),
      defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
      waitForReady: options.waitForReady ?? false,
      metadataFor: metadataFunction(source, options.token),
    };
    this.#cache = cacheSettings ? this.#startCache(cacheSettings) : undefined;
  }

  #startCache(options: CacheSettings): ModelCache {
    const context = this.#context;
    return new ModelCache(
      {
        send: (method, input, rpcOptions) => startUnary(context, method, input, rpcOptions),
        service: new ModelServiceClient(this),
        ownMetadata: this.#defaults.meta,
        defaultTimeoutMs: context.defaultTimeoutMs,
      },
      options,
    );
  }

  /** The cache's counters; `undefined` when the transport has no cache. */
  cacheStats(): CacheStats | undefined {
    return this.#cache?.stats();
  }

  /** The transport's defaults (headers, interceptors) merged with a call's options. */
  mergeOptions(options?: Partial<RpcOptions>): RpcOptions {
    return mergeRpcOptions(this.#defaults, options);
  }

  /**
   * A unary call, retried on UNAVAILABLE when it is safe to repeat; with a
   * cache, reads it may answer are answered from it and writes update it.
   */
  unary<I extends object, O extends object>(
    method: MethodInfo<I, O>,
    input: I,
    options: RpcOptions,
  ): UnaryCall<I, O> {
    return this.#cache?.unary(method, input, options) ?? startUnary(this.#context, method, input, options);
  }

  /** A server-streaming call. */
  serverStreaming<I extends object, O extends object>(
    method: MethodInfo<I, O>,
    input: I,
    options: RpcOptions,
  ): ServerStreamingCall<I, O> {
    return startServerStreaming(this.#context, method, input, options);
  }

  /** A client-streaming call. */
  clientStreaming<I extends object, O extends object>(
    method: MethodInfo<I, O>,
    options: RpcOptions,
  ): ClientStreamingCall<I, O> {
    return startClientStreaming(this.#context, method, options);
  }

  /** Not used by the registry's contract; throws UNIMPLEMENTED. */
  duplex<I extends object, O extends object>(method: MethodInfo<I, O>): DuplexStreamingCall<I, O> {
    throw new RegistryError(
      Code.UNIMPLEMENTED,
      `${method.service.typeName}/${method.name}: bidirectional streams are not supported by this transport.`,
    );
  }

  /** Waits until every pooled connection is READY; fails with UNAVAILABLE after `timeoutMs` (default 10 s). */
  connect({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    return this.#pool.connect(timeoutMs);
  }

  /** Resolves when any connection is READY, at `deadline` (epoch ms), or when `signal` aborts; never rejects. */
  waitForAnyReady(deadline: number, signal?: AbortSignal): Promise<void> {
    return this.#pool.waitForAnyReady(deadline, signal);
  }

  /**
   * Calls `listener(true)` as soon as the first pooled connection is READY
   * (at once if one already is) and `listener(false)` when the last READY
   * one is lost; meanwhile idle connections keep connecting. Returns the
   * function that stops it.
   */
  onReadyChange(listener: (ready: boolean) => void): () => void {
    return this.#pool.onReadyChange(listener);
  }

  /** The targets and the state of each pooled connection. */
  channels(): ChannelInfo[] {
    return this.#pool.info();
  }

  /** Closes every connection. Calls in flight fail with CANCELLED. Safe to call twice. */
  close(): void {
    this.#cache?.close();
    this.#pool.close();
  }
}

/**
 * Creates the registry's gRPC transport on its own, for use with the
 * generated client (`new ModelServiceClient(transport)` from
 * `@modelreg/proto`) or any protobuf-ts client of the same services.
 */
export function createRegistryTransport(options: RegistryTransportOptions): RegistryTransport {
  return new RegistryTransport(options);
}
