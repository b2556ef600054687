import type { PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import type { CallContext, MethodInfo } from "../context";
import { abandoned, cancelled, deadlineExceeded } from "../storage/stopped";

/**
 * A cancel this close to the deadline is the deadline's doing: the client
 * cancels at its own deadline, which our copy (its remaining time, sent and
 * rounded) reaches at about the same moment, in either order.
 */
const deadlineSlackMs = 250;

/** Longest delay `setTimeout` keeps; a later deadline is left to grpc-js, which cancels the call then. */
const maxTimerMs = 2 ** 31 - 1;

/** With a reason, so the public-error policy keeps the message (UNAVAILABLE is otherwise scrubbed). */
const shuttingDown = () =>
  new RegistryError(
    Code.UNAVAILABLE,
    "The server is shutting down; resume the watch after the last revision received, on another replica.",
    { reason: "SHUTTING_DOWN" },
  );

/** What every kind of grpc-js server call has (grpc-js does not export its `ServerSurfaceCall`). */
interface SurfaceCall
  extends Pick<
    grpc.ServerUnaryCall<unknown, unknown>,
    "getDeadline" | "getPeer" | "metadata" | "getAuthContext" | "sendMetadata"
  > {
  on(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}

/** The call's deadline in `Date.now()` milliseconds, or `undefined` when the caller set none. */
function deadlineOf(call: SurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * A call's {@link CallContext}. `signal` is a getter on the prototype,
 * made the first time something reads it: an AbortSignal costs Node 20
 * several microseconds to make and more to collect (its registries), most
 * calls never look at it, and an own getter would make every context a
 * slow dictionary object. A copy made by spreading (`{ ...context,
 * principal }`) has no `signal`; {@link CallScope.adopt} gives it back.
 */
class ScopedContext implements CallContext {
  readonly method: MethodInfo;
  readonly deadline: number | undefined;
  readonly metadata: grpc.Metadata;
  readonly peer: string;
  readonly principal: CallContext["principal"];
  readonly #scope: CallScope;

  constructor(scope: CallScope, fields: Omit<CallContext, "signal" | "peerCertificate" | "setHeader">) {
    this.method = fields.method;
    this.deadline = fields.deadline;
    this.metadata = fields.metadata;
    this.peer = fields.peer;
    this.principal = fields.principal;
    this.#scope = scope;
  }

  get signal(): AbortSignal {
    return this.#scope.signal();
  }

  get peerCertificate(): PeerCertificate | undefined {
    return this.#scope.peerCertificate();
  }

  setHeader(name: string, value: string): void {
    this.#scope.setHeader(name, value);
  }

  /** Whether the call was abandoned, without making the signal (see `abandoned` in storage/stopped.ts). */
  [abandoned](): boolean {
    return this.#scope.aborted;
  }
}

/**
 * One call's {@link CallContext} and what keeps its signal true: aborted on
 * the `cancelled` event, by a timer at the deadline, or at shutdown for the
 * streams registered with {@link OpenStreams}. `close()` when the call has
 * ended, to drop the timer and the listener.
 */
export class CallScope {
  readonly context: CallContext;
  /** The caller cancelled: there is nobody left to answer. */
  cancelled = false;
  // Made on first use: an AbortController costs ~3.6 µs on Node 20, a
  // tenth of a GetModel served from memory, and most calls never look.
  #controller: AbortController | undefined;
  #reason: RegistryError | undefined;
  // `null` until read: grpc-js parses the certificate anew on every ask.
  #peerCertificate: PeerCertificate | undefined | null = null;
  // Made on first use: most calls (every read) answer with no header of their own.
  #headers: grpc.Metadata | undefined;
  readonly #call: SurfaceCall;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #streams: OpenStreams | undefined;

  constructor(method: MethodInfo, call: SurfaceCall, streams?: OpenStreams) {
    const deadline = deadlineOf(call);
    this.context = new ScopedContext(this, {
      method,
      deadline,
      metadata: call.metadata,
      peer: call.getPeer(),
      principal: undefined,
    });
    this.#call = call;
    call.on("cancelled", this.#onCancelled);
    const delay = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
    if (delay <= maxTimerMs)
      this.#timer = setTimeout(() => this.abort(deadlineExceeded()), Math.max(0, delay));
    this.#streams = streams;
    streams?.add(this);
  }

  readonly #onCancelled = () => {
    this.cancelled = true;
    const { deadline } = this.context;
    const expired = deadline !== undefined && Date.now() >= deadline - deadlineSlackMs;
    this.abort(expired ? deadlineExceeded() : cancelled());
  };

  /** Whether the call's signal has aborted (or would be, once made). */
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  /** Aborts the call's signal with `reason`, unless it is aborted already. */
  abort(reason: RegistryError): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /**
   * `context` as this call's {@link ScopedContext}: itself when it is one
   * of this call's, else a new one with its fields (an interceptor passed on
   * a spread copy, which lost the `signal` getter).
   */
  adopt(context: CallContext): CallContext {
    return context instanceof ScopedContext ? context : new ScopedContext(this, context);
  }

  /** The client certificate mutual TLS verified, read on first use. */
  peerCertificate(): PeerCertificate | undefined {
    if (this.#peerCertificate === null) {
      this.#peerCertificate = this.#call.getAuthContext()?.sslPeerCertificate;
    }
    return this.#peerCertificate;
  }

  /** Sets a response header, sent by {@link sendHeaders} (see {@link CallContext.setHeader}). */
  setHeader(name: string, value: string): void {
    if (!/^[0-9a-z_.-]+$/.test(name) || name.startsWith("grpc-") || name.endsWith("-bin")) {
      throw new Error(`setHeader: "${name}" is not a header name a handler may set`);
    }
    this.#headers ??= new grpc.Metadata();
    this.#headers.set(name, value);
  }

  /** Sends the headers handlers set, if any; called just before the response message. */
  sendHeaders(): void {
    if (this.#headers) this.#call.sendMetadata(this.#headers);
  }

  /** The call's signal, made on first use. */
  signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#call.removeListener("cancelled", this.#onCancelled);
    this.#streams?.delete(this);
  }
}

/**
 * Open server streams, so shutdown can end them: a watch never ends by
 * itself, and grpc-js's `tryShutdown` would wait for it forever. Each ends
 * with UNAVAILABLE (SHUTTING_DOWN), and its client resumes on another
 * replica.
 */
export class OpenStreams {
  readonly #scopes = new Set<CallScope>();
  #closing = false;

  add(scope: CallScope): void {
    // A stream whose request arrived while the server began to stop.
    if (this.#closing) scope.abort(shuttingDown());
    this.#scopes.add(scope);
  }

  delete(scope: CallScope): void {
    this.#scopes.delete(scope);
  }

  /** Ends every open stream, and every later one at once. */
  endAll(): void {
    this.#closing = true;
    for (const scope of this.#scopes) scope.abort(shuttingDown());
  }
}
