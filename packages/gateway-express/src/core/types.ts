/**
 * The types of the framework-neutral core: a request in, a response out.
 * Nothing here knows Express or node:http; an adapter fills a
 * {@link GatewayRequest} from its framework's request and writes the
 * {@link GatewayResponse} back.
 */
import type { Logger } from "@modelreg/proto";
import type { RegistryClient } from "@modelreg/registry-client";
import type { GatewayAdmission, GatewayAdmissionOptions } from "./admission";
import type { JsonCache } from "./json-cache";
import type { Route } from "./routes";
import type { UnaryClient } from "./unary";

/**
 * What the gateway uses of a registry client (`createRegistryClient(...)`
 * fits): its unary calls, and the two streams. Without `watchModels` /
 * `importModels` (a stand-in client), the streaming routes answer 501.
 */
export interface GatewayClient extends UnaryClient {
  /** Serves `GET /api/v1/models:watch`. */
  readonly watchModels?: RegistryClient["watchModels"];
  /** Serves `POST /api/v1/models:import`. */
  readonly importModels?: RegistryClient["importModels"];
}

/** A refusal by the `rateLimit` hook that says when to come back. */
export interface RateLimitRefusal {
  /** Seconds until the caller may retry, sent as `Retry-After`. A whole number from 0. */
  retryAfterSeconds: number;
}

/** What the rate limit hook sees of a request. */
export interface RateLimitInfo {
  readonly method: string;
  readonly path: string;
  readonly rpc: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress: string | undefined;
}

/** Options for the gateway core ({@link createGateway}), shared by every adapter. */
export interface GatewayOptions {
  /** The registry client the gateway calls (`createRegistryClient(...)`). The gateway does not close it. */
  client: GatewayClient;
  /** Deadline of a call without a `Grpc-Timeout` header. Default 30 000 ms (the seed's). */
  defaultTimeoutMs?: number;
  /** Upper bound for `Grpc-Timeout`. Default 60 000 ms. */
  maxTimeoutMs?: number;
  /**
   * Largest request body accepted. Default 1 MiB. For the NDJSON upload of
   * `POST /api/v1/models:import` it bounds each line instead: the body
   * itself is streamed and may be of any length.
   */
  maxBodyBytes?: number;
  /** Forward the `Cookie` header as gRPC metadata. Default false. */
  forwardCookies?: boolean;
  /**
   * Return false to refuse a request with 429, or `{ retryAfterSeconds }`
   * (a whole number of seconds) to refuse it with 429 and that `Retry-After`.
   */
  rateLimit?: (request: RateLimitInfo) => boolean | RateLimitRefusal | Promise<boolean | RateLimitRefusal>;
  /**
   * One line per request (request id, method, path, RPC, status, duration)
   * at info, unexpected errors at error, an unreachable registry at warn.
   * Any pino logger fits. Default: none.
   */
  logger?: Logger;
  /** Serve the OpenAPI 3.1 document of the routes at `GET /api/v1/openapi.json`. Default true. */
  openApi?: boolean;
  /**
   * Admission control: requests served at once, a short queue, and 429 with
   * `Retry-After` beyond both; see {@link GatewayAdmissionOptions}. On by
   * default (64 at once, 64 queued for at most 1000 ms); `false` turns it off.
   */
  admission?: GatewayAdmissionOptions | false;
}

/**
 * The body of a request, which the core reads when, and as, the route
 * needs it: whole for a JSON body, as it arrives for the NDJSON import.
 */
export interface GatewayRequestBody {
  /**
   * The whole body, decoded if it came compressed. Stop reading once it
   * passes `maxBytes` (or declares more in Content-Length): resolve with
   * the bytes read so far, more than `maxBytes`, and the core answers 413.
   * Rejects with an INVALID_ARGUMENT `RegistryError` when the body cannot
   * be read.
   */
  bytes(maxBytes: number): Promise<Uint8Array>;
  /** The body as it arrives, never held whole (the NDJSON import). */
  stream(): AsyncIterable<Uint8Array>;
}

/** A request as the gateway core sees it, independent of any HTTP framework. */
export interface GatewayRequest {
  /** The HTTP method, as the client sent it (HEAD is answered as GET without a body). */
  readonly method: string;
  /** The path without the query string, still percent-encoded. */
  readonly path: string;
  /** The query string's parameters. */
  readonly query: URLSearchParams;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body; undefined for a request without one (no Content-Length nor Transfer-Encoding). */
  readonly body: GatewayRequestBody | undefined;
  /**
   * Aborted when the HTTP client goes away; cancels the gRPC call. The core
   * reads it only when it needs it (a registry call, a wait for a slot), so
   * an adapter may make it a getter that creates it then: node's
   * AbortSignal is slow to create, and a cached answer needs none.
   */
  readonly signal: AbortSignal;
  /** The client's address, for the rate limit hook. */
  readonly remoteAddress?: string | undefined;
}

/** What to send back. */
export interface GatewayResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body; send none for a HEAD request. */
  readonly body: string;
  /**
   * A streamed body (the watch): send each chunk as it comes, flushed, then
   * end the response. It never throws: a failure after the first chunk is
   * its last chunk. `body` is empty when this is set. Call its iterator's
   * `return()` if the response is not sent, to end the gRPC stream.
   */
  readonly stream?: AsyncIterable<string>;
}

/** The framework-independent gateway returned by {@link createGateway}. */
export interface Gateway {
  /** Answers one request. Never rejects: every failure is an error response. */
  handle(request: GatewayRequest): Promise<GatewayResponse>;
}

/** The gateway's settings, as each route's dispatcher sees them. @internal */
export interface GatewayContext {
  readonly client: GatewayClient;
  readonly logger: Logger | undefined;
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly forwardCookies: boolean;
  /** JSON of single-model answers, per model revision. */
  readonly modelJson: JsonCache;
  /** The slots and queue of `options.admission`; undefined when it is off. */
  readonly admission: GatewayAdmission | undefined;
}

/** One request matched to its route. @internal */
export interface RouteCall {
  readonly request: GatewayRequest;
  readonly requestId: string;
  readonly route: Route;
  /** The path variables, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
}
