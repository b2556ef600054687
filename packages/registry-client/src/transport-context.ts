/**
 * What the three kinds of call share of their transport: the pool, the
 * retry policy, defaults, and the per-call headers.
 *
 * @internal
 */
import type * as grpc from "@grpc/grpc-js";
import type { MethodInfo, RpcMetadata, RpcOptions } from "@protobuf-ts/runtime-rpc";
import type { ChannelPool } from "./pool";
import type { RetryPolicy } from "./retry";

export interface TransportContext {
  readonly pool: ChannelPool;
  readonly retry: RetryPolicy;
  /** Deadline of a unary call without one, in ms. */
  readonly defaultTimeoutMs: number;
  /** Default of `waitForReady`. */
  readonly waitForReady: boolean;
  /** The call's headers as grpc-js metadata: the client's (static or from its function), then the call's. */
  metadataFor(meta: RpcMetadata | undefined): Promise<grpc.Metadata>;
}

/** The path grpc-js calls a method by: `/package.Service/Method`. */
export function pathOf(method: MethodInfo): string {
  return `/${method.service.typeName}/${method.name}`;
}

/** `RpcOptions.timeout` (ms from now, or a Date) as an absolute deadline in epoch ms; `fallbackMs` when unset. */
export function deadlineOf(options: RpcOptions, fallbackMs: number | undefined): number | undefined {
  const { timeout } = options;
  if (timeout instanceof Date) return timeout.getTime();
  if (typeof timeout === "number") return Date.now() + timeout;
  return fallbackMs === undefined ? undefined : Date.now() + fallbackMs;
}

/** The `waitForReady` extra option of a call, else the transport's default. */
export function waitForReadyOf(options: RpcOptions, fallback: boolean): boolean {
  const value = options.waitForReady;
  return typeof value === "boolean" ? value : fallback;
}
