import { randomUUID } from "node:crypto";
import { Code, type ImportModelsRequest, RegistryError, type WatchModelsRequest } from "@modelreg/proto";
import type { MethodName, RegistryClient } from "@modelreg/registry-client";
import type { JsonValue } from "@protobuf-ts/runtime";
import { errorBody, httpStatusOf } from "./http-status";
import { buildOpenApiDocument } from "./openapi";
import { buildRoutes, matchRoute, type Route } from "./routes";
import {
  atLine,
  encodeStreamError,
  encodeWatchMessage,
  isLineTooLong,
  ndjsonLines,
  negotiateStreamFormat,
  parseLastEventId,
  streamContentTypes,
} from "./streaming";
import { parseJsonBody, toRequestMessage, toResponseJson } from "./transcode";

/** The log methods the gateway uses; any pino logger fits. */
export interface GatewayLogger {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** What the rate limit hook sees of a request. */
export interface RateLimitInfo {
  readonly method: string;
  readonly path: string;
  readonly rpc: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress: string | undefined;
}

/** Options for the gateway. */
export interface GatewayOptions {
  /**
   * The registry client the gateway calls (`createRegistryClient(...)`). The
   * gateway does not close it. Without `watchModels` / `importModels` (a
   * stand-in client), the streaming routes answer 501.
   */
  client: Pick<RegistryClient, "call"> & Partial<Pick<RegistryClient, "watchModels" | "importModels">>;
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
  /** Return false to refuse a request with 429. */
  rateLimit?: (request: RateLimitInfo) => boolean | Promise<boolean>;
  /** One line per request (request id, method, path, status, duration). Default: none. */
  logger?: GatewayLogger;
  /** Serve the OpenAPI 3.1 document of the routes at `GET /api/v1/openapi.json`. Default true. */
  openApi?: boolean;
}

/** A request as the gateway core sees it, independent of any HTTP framework. */
export interface GatewayRequest {
  readonly method: string;
  /** The path without the query string, still percent-encoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The raw body, if the request has one. */
  readonly body: Buffer | undefined;
  /**
   * The body as it arrives, for routes where {@link Gateway.takesStreamingBody}
   * is true (the NDJSON import); `body` is used when this is absent.
   */
  readonly bodyStream?: AsyncIterable<Uint8Array> | undefined;
  /** Aborted when the HTTP client goes away; cancels the gRPC call. */
  readonly signal: AbortSignal;
  readonly remoteAddress?: string | undefined;
}

/** What to send back. */
export interface GatewayResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /**
   * A streamed body (the watch): send each chunk as it comes, flushed, then
   * end the response. It never throws: a failure after the first chunk is
   * its last chunk. `body` is empty when this is set.
   */
  readonly stream?: AsyncIterable<string>;
}

/** The framework-independent gateway returned by {@link createGateway}. */
export interface Gateway {
  /** The route table. */
  readonly routes: Route[];
  /** Answers one request. Never rejects: every failure is an error response. */
  handle(request: GatewayRequest): Promise<GatewayResponse>;
  /** Whether a request should pass its body as `bodyStream` instead of reading it into `body`. */
  takesStreamingBody(method: string, path: string): boolean;
  /** The body size limit (`maxBodyBytes`). */
  readonly maxBodyBytes: number;
}

const header = (headers: GatewayRequest["headers"], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
};

/** `Grpc-Timeout` (gRPC over HTTP/2 spec: 1-8 digits and a unit H M S m u n) in milliseconds. */
function parseGrpcTimeout(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value.trim());
  if (!match?.[1] || !match[2]) {
    throw new RegistryError(
      Code.INVALID_ARGUMENT,
      'Grpc-Timeout must be digits and a unit, such as "5S" or "250m".',
      {
        violations: [
          { field: "Grpc-Timeout", description: "must be 1-8 digits followed by H, M, S, m, u or n" },
        ],
      },
    );
  }
  const units: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return Number(match[1]) * (units[match[2]] ?? 1);
}

/**
 * grpc-js throws (a 500) on metadata it cannot send: keys outside
 * `[0-9a-z_.-]`, `-bin` keys with string values, values that are not
 * printable ASCII. Those come from the client's headers, so refuse them as 400.
 */
function checkForwardable(header: string, key: string, value: string): void {
  let problem: string | undefined;
  if (!/^[0-9a-z_.-]+$/.test(key)) problem = "its name may contain only a-z, 0-9, _ . and -";
  else if (key.endsWith("-bin")) problem = "binary (-bin) metadata cannot be forwarded";
  else if (!/^[ -~]*$/.test(value)) problem = "its value must be printable ASCII";
  if (problem === undefined) return;
  throw new RegistryError(
    Code.INVALID_ARGUMENT,
    `The ${header} header cannot be forwarded as gRPC metadata: ${problem}.`,
    { violations: [{ field: header, description: `cannot be forwarded as gRPC metadata: ${problem}` }] },
  );
}

/** What HTTP clients are told for transport failures, instead of grpc-js's messages. */
const transportMessages: Partial<Record<Code, string>> = {
  [Code.UNAVAILABLE]: "The service is unavailable; try again later.",
  [Code.DEADLINE_EXCEEDED]: "The deadline expired before the operation completed.",
};

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The framework-independent gateway: routes from the contract's HTTP rules,
 * HTTP -> gRPC request transcoding, errors -> HTTP statuses. The Express
 * middleware adapts Express's req/res to it.
 */
export function createGateway(options: GatewayOptions): Gateway {
  if (!options?.client || typeof options.client.call !== "function") {
    throw new TypeError("createGatewayMiddleware: `client` must be a registry client (createRegistryClient)");
  }
  const routes = buildRoutes();
  const openApiPath = "/api/v1/openapi.json";
  let openApiJson: string | undefined;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  const maxTimeoutMs = options.maxTimeoutMs ?? 60_000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;

  const jsonHeaders = { "content-type": "application/json; charset=utf-8" } as const;
  const json = (
    status: number,
    body: JsonValue | object,
    extra: Record<string, string> = {},
  ): GatewayResponse => ({
    status,
    headers: { ...jsonHeaders, ...extra },
    body: JSON.stringify(body),
  });
  /** JSON bodies of single-model answers, per (id, etag): at most 8 MiB of them. */
  const modelJson = new BoundedCache<{ body: string; etag: string }>(8 * 1024 * 1024);

  /** `Grpc-Timeout` in ms, capped by `maxTimeoutMs`; undefined without the header. */
  function timeoutOf(request: GatewayRequest): number | undefined {
    const grpcTimeout = header(request.headers, "grpc-timeout");
    return grpcTimeout === undefined ? undefined : Math.min(parseGrpcTimeout(grpcTimeout), maxTimeoutMs);
  }

  /** The gRPC metadata of a call: the request id and the headers the gateway forwards. */
  function metadataOf(request: GatewayRequest, requestId: string): Record<string, string> {
    const metadata: Record<string, string> = { "x-request-id": requestId };
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined) continue;
      const text = Array.isArray(value) ? value.join(", ") : value;
      let key: string;
      if (name === "authorization" || (name === "cookie" && options.forwardCookies)) key = name;
      else if (name.startsWith("grpc-metadata-") && name.length > 14) key = name.slice(14);
      else continue;
      // The request id is the gateway's to set: logs on both sides must agree.
      if (key === "x-request-id") continue;
      checkForwardable(name, key, text);
      metadata[key] = text;
    }
    return metadata;
  }

  /** What an HTTP client is told about a failure: no transport internals, unexpected errors logged. */
  function publicError(error: unknown, requestId: string): RegistryError {
    let registryError = RegistryError.from(error);
    if (
      registryError !== error ||
      registryError.code === Code.INTERNAL ||
      registryError.code === Code.UNKNOWN
    ) {
      options.logger?.error({ requestId, err: error }, "unexpected error in the gateway");
    }
    const transportMessage = transportMessages[registryError.code];
    if (transportMessage !== undefined && registryError.message !== transportMessage) {
      // grpc-js's own messages for these name the registry's address
      // ("connect ECONNREFUSED 10.0.0.7:9090", "remote_addr=..."): log them, do not send them.
      if (registryError.code === Code.UNAVAILABLE) {
        options.logger?.error({ requestId, err: error }, "the registry is unavailable");
      }
      registryError = new RegistryError(registryError.code, transportMessage, {
        details: registryError.details,
      });
    }
    return registryError;
  }

  /**
   * `GET /api/v1/models:watch`: the client's resuming watch as server-sent
   * events or NDJSON. The response starts once the registry has sent the
   * stream's first message, so a bad filter or revision, or a registry that
   * is down, is an ordinary JSON error; after that a registry restart is
   * bridged by the client, and a failure is the stream's last message.
   */
  async function dispatchWatch(
    request: GatewayRequest,
    requestId: string,
    route: Route,
    params: Readonly<Record<string, string>>,
  ): Promise<GatewayResponse> {
    const { watchModels } = options.client;
    if (typeof watchModels !== "function") {
      throw new RegistryError(
        Code.UNIMPLEMENTED,
        `${route.httpMethod} ${route.template} needs a registry client with watchModels (createRegistryClient).`,
      );
    }
    if (request.body !== undefined && request.body.length > 0) {
      throw new RegistryError(
        Code.INVALID_ARGUMENT,
        `Invalid request: body: ${route.httpMethod} ${route.template} takes no body`,
        {
          violations: [{ field: "body", description: `${route.httpMethod} ${route.template} takes no body` }],
        },
      );
    }
    const message = toRequestMessage(route, {
      params,
      query: request.query,
      body: undefined,
      ifMatch: header(request.headers, "if-match"),
      idempotencyKey: header(request.headers, "idempotency-key"),
    }) as WatchModelsRequest;
    // An EventSource reconnects to the same URL (with its afterRevision) and
    // adds Last-Event-ID: the header is the more recent position, so it wins.
    const lastEventId = header(request.headers, "last-event-id");
    if (lastEventId !== undefined && lastEventId.trim() !== "") {
      message.afterRevision = parseLastEventId(lastEventId);
    }
    const format = negotiateStreamFormat(header(request.headers, "accept"));

    let established = false;
    let reconnects = 0;
    const watch = watchModels.call(
      options.client,
      { afterRevision: message.afterRevision, filter: message.filter },
      {
        signal: request.signal,
        metadata: metadataOf(request, requestId),
        onReconnect: ({ error, attempt, afterRevision }) => {
          // Before the first byte the HTTP client gets the error (503 for a
          // registry that is down) instead of a response that stays silent.
          if (!established) throw error;
          reconnects++;
          options.logger?.info(
            {
              requestId,
              rpc: route.rpc,
              attempt,
              afterRevision: afterRevision?.toString(),
              code: Code[error.code],
            },
            "watch stream lost; resuming",
          );
        },
      },
    );
    const first = await watch.next();
    established = true;
    const headers = {
      "content-type": streamContentTypes[format],
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    };
    if (request.method.toUpperCase() === "HEAD") {
      await watch.return?.(undefined);
      return { status: 200, headers, body: "" };
    }
    const started = Date.now();
    const logger = options.logger;
    async function* frames(): AsyncGenerator<string, void, undefined> {
      let sent = 0;
      let ended = "client disconnected";
      try {
        for (let next = first; !next.done; next = await watch.next()) {
          sent++;
          yield encodeWatchMessage(format, next.value, toResponseJson(route, next.value));
        }
      } catch (error) {
        if (request.signal.aborted) return;
        const registryError = publicError(error, requestId);
        ended = Code[registryError.code] ?? "UNKNOWN";
        yield encodeStreamError(format, errorBody(registryError));
      } finally {
        await watch.return?.(undefined);
        logger?.info(
          { requestId, rpc: route.rpc, messages: sent, reconnects, ended, durationMs: Date.now() - started },
          "stream ended",
        );
      }
    }
    return { status: 200, headers, body: "", stream: frames() };
  }

  /**
   * `POST /api/v1/models:import`: an NDJSON body streamed into the client's
   * importModels, line by line as it arrives. A line that is not a valid
   * ImportModelsRequest ends the import there: the gRPC call is cancelled, so
   * nothing after that line is written, and the answer is 400 naming the line.
   */
  async function dispatchImport(
    request: GatewayRequest,
    requestId: string,
    route: Route,
  ): Promise<GatewayResponse> {
    const { importModels } = options.client;
    if (typeof importModels !== "function") {
      throw new RegistryError(
        Code.UNIMPLEMENTED,
        `${route.httpMethod} ${route.template} needs a registry client with importModels (createRegistryClient).`,
      );
    }
    const contentType = header(request.headers, "content-type") ?? "";
    if (!/^application\/x-ndjson\s*(?:;|$)/i.test(contentType)) {
      const wrongType = new RegistryError(
        Code.INVALID_ARGUMENT,
        'Send the models as newline-delimited JSON with Content-Type: application/x-ndjson, one ImportModelsRequest per line, e.g. {"model":{"name":"bert","version":"1.0.0"},"requestId":"..."}.',
      );
      return json(415, errorBody(wrongType, 415));
    }
    for (const [name, field] of [
      ["idempotency-key", "Idempotency-Key"],
      ["if-match", "If-Match"],
    ] as const) {
      if (header(request.headers, name) !== undefined) {
        throw new RegistryError(
          Code.INVALID_ARGUMENT,
          `Invalid request: ${field}: is not supported by ${route.httpMethod} ${route.template}; set requestId on each line instead`,
          {
            violations: [{ field, description: `is not supported by ${route.httpMethod} ${route.template}` }],
          },
        );
      }
    }
    for (const key of request.query.keys()) {
      throw new RegistryError(
        Code.INVALID_ARGUMENT,
        `Invalid request: ${key}: query parameters are not accepted here; send every field in the NDJSON lines`,
        { violations: [{ field: key, description: "query parameters are not accepted here" }] },
      );
    }
    const timeoutMs = timeoutOf(request);
    const metadata = metadataOf(request, requestId);
    const source = request.bodyStream ?? (request.body === undefined ? [] : [request.body]);
    const empty = new URLSearchParams();
    async function* items(): AsyncGenerator<ImportModelsRequest, void, undefined> {
      for await (const line of ndjsonLines(source, maxBodyBytes)) {
        if (line.text.trim() === "") continue;
        try {
          yield toRequestMessage(route, {
            params: {},
            query: empty,
            body: parseJsonBody(line.text),
            ifMatch: undefined,
            idempotencyKey: undefined,
          }) as ImportModelsRequest;
        } catch (error) {
          throw atLine(error, line.number);
        }
      }
    }
    try {
      const summary = await importModels.call(options.client, items(), {
        signal: request.signal,
        metadata,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      });
      return json(200, toResponseJson(route, summary) ?? {});
    } catch (error) {
      if (isLineTooLong(error)) return json(413, errorBody(error as RegistryError, 413));
      throw error;
    }
  }

  async function dispatch(
    request: GatewayRequest,
    requestId: string,
    matched: { route: Route; params: Readonly<Record<string, string>> },
  ) {
    const { route, params } = matched;
    if (route.clientStreaming && route.serverStreaming) {
      throw new RegistryError(
        Code.UNIMPLEMENTED,
        `${request.method} ${route.template} is a bidirectional stream, which HTTP/1.1 cannot carry.`,
      );
    }
    if (options.rateLimit) {
      const allowed = await options.rateLimit({
        method: request.method,
        path: request.path,
        rpc: route.rpc,
        headers: request.headers,
        remoteAddress: request.remoteAddress,
      });
      if (!allowed)
        throw new RegistryError(Code.RESOURCE_EXHAUSTED, "Too many requests; slow down and retry later.");
    }
    if (route.serverStreaming) return dispatchWatch(request, requestId, route, params);
    if (route.clientStreaming) return dispatchImport(request, requestId, route);

    let body: JsonValue | undefined;
    if (request.body !== undefined && request.body.length > 0) {
      if (request.body.length > maxBodyBytes) {
        const tooLarge = new RegistryError(
          Code.INVALID_ARGUMENT,
          `The request body is larger than ${maxBodyBytes} bytes.`,
        );
        return json(413, errorBody(tooLarge, 413));
      }
      const contentType = header(request.headers, "content-type") ?? "";
      if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
        const wrongType = new RegistryError(
          Code.INVALID_ARGUMENT,
          "Send the body as JSON with Content-Type: application/json.",
        );
        return json(415, errorBody(wrongType, 415));
      }
      body = parseJsonBody(request.body.toString("utf8"));
    }

    const message = toRequestMessage(route, {
      params,
      query: request.query,
      body,
      // `If-Match: *` means "if it exists", which every call on an id already requires.
      ifMatch: header(request.headers, "if-match") === "*" ? undefined : header(request.headers, "if-match"),
      idempotencyKey: header(request.headers, "idempotency-key"),
    });

    const timeoutMs = timeoutOf(request) ?? defaultTimeoutMs;
    const metadata = metadataOf(request, requestId);

    const response = await options.client.call(route.rpc as MethodName, message, {
      timeoutMs,
      signal: request.signal,
      metadata,
    });
    // A model's JSON is made once per (id, etag): every write changes the etag.
    const model = (
      response as {
        model?: { id?: unknown; etag?: unknown; updateTime?: { seconds?: unknown; nanos?: unknown } };
      }
    ).model;
    // With the update time: a restored database can reuse a revision for other content.
    const key =
      route.responseBody === "model" &&
      typeof model?.id === "string" &&
      typeof model.etag === "string" &&
      model.etag
        ? `${model.id}\n${model.etag}\n${String(model.updateTime?.seconds)}.${String(model.updateTime?.nanos)}`
        : undefined;
    const cached = key === undefined ? undefined : modelJson.get(key);
    if (cached !== undefined && key !== undefined) {
      return { status: 200, headers: { ...jsonHeaders, etag: cached.etag }, body: cached.body };
    }
    const result = toResponseJson(route, response);
    const etag: Record<string, string> =
      typeof result === "object" &&
      result !== null &&
      !Array.isArray(result) &&
      typeof result.etag === "string"
        ? { etag: result.etag }
        : {};
    const answer = json(200, result ?? {}, etag);
    if (key !== undefined && etag.etag !== undefined) {
      modelJson.set(key, { body: answer.body, etag: etag.etag }, answer.body.length * 2);
    }
    return answer;
  }

  async function handle(request: GatewayRequest): Promise<GatewayResponse> {
    const started = Date.now();
    const incomingId = header(request.headers, "x-request-id");
    const requestId = incomingId && requestIdPattern.test(incomingId) ? incomingId : randomUUID();
    let response: GatewayResponse;
    let rpc: string | undefined;
    try {
      if (options.openApi !== false && request.path === openApiPath && /^(GET|HEAD)$/i.test(request.method)) {
        openApiJson ??= JSON.stringify(buildOpenApiDocument(routes));
        return {
          status: 200,
          headers: { "content-type": "application/json; charset=utf-8", "x-request-id": requestId },
          body: openApiJson,
        };
      }
      const matched = matchRoute(routes, request.method, request.path);
      if (matched.kind === "notFound") {
        response = json(
          404,
          errorBody(new RegistryError(Code.NOT_FOUND, `No route for ${request.method} ${request.path}.`)),
        );
      } else if (matched.kind === "methodNotAllowed") {
        response = json(
          405,
          errorBody(
            new RegistryError(
              Code.UNIMPLEMENTED,
              `${request.method} is not allowed on ${request.path}; use ${matched.allowed.join(", ")}.`,
            ),
            405,
          ),
          { allow: matched.allowed.join(", ") },
        );
      } else {
        rpc = matched.route.rpc;
        response = await dispatch(request, requestId, matched);
      }
    } catch (error) {
      const registryError = publicError(error, requestId);
      response = json(httpStatusOf(registryError.code), errorBody(registryError));
    }
    const withId = { ...response, headers: { ...response.headers, "x-request-id": requestId } };
    options.logger?.info(
      {
        requestId,
        method: request.method,
        path: request.path,
        rpc,
        status: withId.status,
        durationMs: Date.now() - started,
      },
      "request",
    );
    return withId;
  }

  const takesStreamingBody = (method: string, path: string): boolean => {
    const matched = matchRoute(routes, method, path);
    return matched.kind === "found" && matched.route.clientStreaming;
  };

  return { routes, handle, takesStreamingBody, maxBodyBytes };
}

/**
 * A map bounded by the total size of its values, dropping the oldest entries
 * first. For values that never go stale under their key (a model's JSON per
 * etag).
 */
class BoundedCache<V> {
  readonly #entries = new Map<string, { value: V; size: number }>();
  readonly #maxSize: number;
  #size = 0;

  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  get(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  set(key: string, value: V, size: number): void {
    if (size > this.#maxSize || this.#entries.has(key)) return;
    this.#entries.set(key, { value, size });
    this.#size += size;
    for (const [oldest, entry] of this.#entries) {
      if (this.#size <= this.#maxSize) break;
      this.#entries.delete(oldest);
      this.#size -= entry.size;
    }
  }
}
