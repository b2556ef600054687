/** The unary routes: a JSON body in, one gRPC call, the response message out as JSON. */
import { Code, RegistryError, revisionHeader } from "@modelreg/proto";
import type { JsonValue } from "@protobuf-ts/runtime";
import {
  type RpcMetadata,
  type RpcOptions,
  type RpcTransport,
  stackIntercept,
} from "@protobuf-ts/runtime-rpc";
import { HttpError } from "./errors";
import type { JsonCache } from "./json-cache";
import { jsonContentType, jsonResponse } from "./json-response";
import { header, metadataOf, minRevisionOf, timeoutOf } from "./metadata";
import type { Route, ServiceMethod } from "./routes";
import { parseJsonBody, toRequestMessage, toResponseJson } from "./transcode";
import type { GatewayContext, GatewayRequest, GatewayRequestBody, GatewayResponse, RouteCall } from "./types";

/** Deadline, cancellation and metadata of one unary call. */
export interface UnaryCallOptions {
  readonly timeoutMs: number;
  /**
   * `signal` cancels the call. Read only when the transport reads the
   * call's `abort` (a cache hit need not): may be a getter that creates it then.
   */
  readonly cancel: { readonly signal: AbortSignal };
  readonly metadata: Readonly<Record<string, string>>;
  /** The consistency token of a read (`X-Modelreg-Revision`), as the client's `minRevision` rpc option. */
  readonly minRevision?: bigint | undefined;
}

/** What a unary call answered: the response message and the write's revision header, if it sent one. */
export interface UnaryAnswer {
  readonly response: object;
  /** The `x-modelreg-revision` response header (a decimal string): sent by every successful write. */
  readonly revision: string | undefined;
}

/** What {@link invokeUnary} needs of the registry client: its protobuf-ts transport (`createRegistryClient(...).transport`). */
export interface UnaryClient {
  readonly transport: RpcTransport;
}

/** Whether `client` can make the gateway's unary calls (checked once, at start-up). */
export function isUnaryClient(client: unknown): client is UnaryClient {
  const transport =
    typeof client === "object" && client !== null ? Reflect.get(client, "transport") : undefined;
  return (
    typeof transport === "object" &&
    transport !== null &&
    typeof Reflect.get(transport, "unary") === "function" &&
    typeof Reflect.get(transport, "mergeOptions") === "function"
  );
}

/** Each transport's own options (`mergeOptions()`: its metadata, its interceptors and the rest), read once. */
const transportDefaults = new WeakMap<
  RpcTransport,
  { readonly meta: RpcOptions["meta"]; readonly rest: Readonly<Record<string, unknown>> | undefined }
>();

/**
 * A call's options, with `abort` read from `options.cancel` only when the
 * transport asks for it: node creates an AbortSignal slowly, and a call
 * answered from the client's cache never needs one. (A class, so that the
 * getter costs what a plain property does.)
 */
class CallRpcOptions {
  [extra: string]: unknown;
  timeout: number;
  meta: Record<string, string | string[]>;
  // RegistryRpcOptions.minRevision: the client's cache reads it; other transports ignore it.
  minRevision: bigint | undefined;
  readonly #options: UnaryCallOptions;

  constructor(options: UnaryCallOptions, meta: Record<string, string | string[]>) {
    this.timeout = options.timeoutMs;
    this.meta = meta;
    this.minRevision = options.minRevision;
    this.#options = options;
  }

  get abort(): AbortSignal {
    return this.#options.cancel.signal;
  }
}

/**
 * A call's options merged with the transport's as `mergeOptions` would
 * (metadata merged; the transport's other defaults, such as interceptors, kept).
 */
function rpcOptionsOf(transport: RpcTransport, options: UnaryCallOptions): RpcOptions {
  let defaults = transportDefaults.get(transport);
  if (defaults === undefined) {
    // The call sets its own deadline and cancellation.
    const { meta, timeout: _timeout, abort: _abort, ...rest } = transport.mergeOptions();
    defaults = { meta, rest: Object.keys(rest).length === 0 ? undefined : rest };
    transportDefaults.set(transport, defaults);
  }
  const { meta, rest } = defaults;
  const merged = new CallRpcOptions(
    options,
    // Object.assign, not spreads: node 20 takes microseconds to spread two objects into one literal.
    Object.assign({}, meta, options.metadata),
  );
  return rest === undefined ? merged : Object.assign(merged, rest);
}

/**
 * The one place the gateway makes a unary gRPC call: `method` is the
 * generated `MethodInfo`, `message` a request message of its input type.
 * Goes through the transport's interceptors, as the generated client does.
 * Resolves with the response message and the write's revision header;
 * rejects with a `RegistryError`.
 */
export function invokeUnary(
  client: UnaryClient,
  method: ServiceMethod,
  message: object,
  options: UnaryCallOptions,
): Promise<UnaryAnswer> {
  const { transport } = client;
  const call = stackIntercept("unary", transport, method, rpcOptionsOf(transport, options), message);
  // The headers settle with the response (or fail with it): read both, so neither rejects unobserved.
  return Promise.all([call.response, call.headers]).then(answerOf);
}

/** A call's response, with the revision its headers carry. */
function answerOf([response, headers]: [object, RpcMetadata]): UnaryAnswer {
  return { response, revision: revisionOf(headers) };
}

/** The `x-modelreg-revision` of a call's response headers, when it is a revision. */
export function revisionOf(headers: RpcMetadata): string | undefined {
  const value = headers[revisionHeader];
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  return text !== undefined && /^\d{1,19}$/.test(text) ? text : undefined;
}

const utf8 = new TextDecoder();

/** The JSON body of a unary route; undefined without one. 413 when too large, 415 when not JSON. */
async function jsonBodyOf(
  request: GatewayRequest,
  body: GatewayRequestBody,
  maxBodyBytes: number,
): Promise<JsonValue | undefined> {
  const bytes = await body.bytes(maxBodyBytes);
  if (bytes.length === 0) return undefined;
  if (bytes.length > maxBodyBytes) {
    throw new HttpError(
      413,
      new RegistryError(Code.INVALID_ARGUMENT, `The request body is larger than ${maxBodyBytes} bytes.`),
    );
  }
  const contentType = header(request.headers, "content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new HttpError(
      415,
      new RegistryError(Code.INVALID_ARGUMENT, "Send the body as JSON with Content-Type: application/json."),
    );
  }
  return parseJsonBody(utf8.decode(bytes));
}

/** The 200 answer, with the resource's ETag; a model's JSON is written once per revision. */
function answer(cache: JsonCache, route: Route, response: object): GatewayResponse {
  const key = cache.keyOf(route, response);
  const cached = key === undefined ? undefined : cache.get(key);
  if (cached !== undefined) {
    return {
      status: 200,
      headers: { "content-type": jsonContentType, etag: cached.etag },
      body: cached.body,
    };
  }
  const json = toResponseJson(route, response);
  const etag =
    typeof json === "object" && json !== null && !Array.isArray(json) && typeof json.etag === "string"
      ? json.etag
      : undefined;
  const result = jsonResponse(200, json ?? {}, etag === undefined ? {} : { etag });
  if (key !== undefined && etag !== undefined) cache.set(key, { body: result.body, etag });
  return result;
}

/** A unary route: transcode the request, call the registry, answer its response as JSON. */
export async function dispatchUnary(context: GatewayContext, call: RouteCall): Promise<GatewayResponse> {
  const { request, route } = call;
  // Most reads have no body: no need to wait for one.
  const body =
    request.body === undefined ? undefined : await jsonBodyOf(request, request.body, context.maxBodyBytes);
  const ifMatch = header(request.headers, "if-match");
  const message = toRequestMessage(route, {
    params: call.params,
    query: request.query,
    body,
    // `If-Match: *` means "if it exists", which every call on an id already requires.
    ifMatch: ifMatch === "*" ? undefined : ifMatch,
    idempotencyKey: header(request.headers, "idempotency-key"),
  });
  const { response, revision } = await invokeUnary(context.client, route.method, message, {
    timeoutMs: timeoutOf(request, context.maxTimeoutMs) ?? context.defaultTimeoutMs,
    cancel: request,
    metadata: metadataOf(request, call.requestId, context.forwardCookies),
    minRevision: minRevisionOf(request),
  });
  const result = answer(context.modelJson, route, response);
  return revision === undefined
    ? result
    : {
        status: result.status,
        headers: Object.assign({ [revisionHeader]: revision }, result.headers),
        body: result.body,
      };
}
