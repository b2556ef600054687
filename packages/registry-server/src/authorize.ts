import type { PeerCertificate } from "node:tls";
import type * as grpc from "@grpc/grpc-js";
import { methodPath, type Principal } from "./context";
import type { ServerInterceptor } from "./interceptors";

/** What an {@link Authorize} hook sees of a call. */
export interface CallInfo {
  /** The full method path, for example `/modelregistry.v1.ModelService/CreateModel`. */
  readonly method: string;
  /** The request headers; read `authorization` here. */
  readonly metadata: grpc.Metadata;
  /** The caller's address. */
  readonly peer: string;
  /** The client certificate verified by mutual TLS, if any (see `CallContext.peerCertificate`). */
  readonly peerCertificate: PeerCertificate | undefined;
}

/**
 * Runs before every ModelService call, unary and streaming, as a server
 * interceptor inside the error policy and outside the interceptors given in
 * `RegistryServerOptions.interceptors`. Throw (or reject with) a
 * `RegistryError` with `Code.UNAUTHENTICATED` or `Code.PERMISSION_DENIED` to
 * refuse the call; anything else thrown refuses it as INTERNAL. Return the
 * caller's {@link Principal} to hand it to the handler and the later
 * interceptors as `context.principal`, or nothing.
 */
export type Authorize = (call: CallInfo) => AuthorizeResult | Promise<AuthorizeResult>;

/** What an {@link Authorize} hook returns: the caller's principal, or nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: hooks written before principals returned nothing (void), and still may.
export type AuthorizeResult = Principal | undefined | void;

/** The `authorize` hook as an interceptor: refuses the call when it throws, stores what it returns. */
export function authorizeInterceptor(authorize: Authorize): ServerInterceptor {
  return (next) => async (call) => {
    const { context } = call;
    const principal = await authorize({
      method: methodPath(context.method),
      metadata: context.metadata,
      peer: context.peer,
      // A getter: the certificate is read only by a hook that looks at it.
      get peerCertificate() {
        return context.peerCertificate;
      },
    });
    if (!principal) return next(call);
    return next({ ...call, context: { ...context, principal } });
  };
}
