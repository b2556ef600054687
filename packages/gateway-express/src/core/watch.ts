/**
 * `GET /api/v1/models:watch`: the client's resuming watch as server-sent
 * events or NDJSON. The response starts once the registry has sent the
 * stream's first message, so a bad filter or revision, or a registry that
 * is down, is an ordinary JSON error; after that a registry restart is
 * bridged by the client, and a failure is the stream's last message.
 */
import { Code, RegistryError, type WatchModelsRequest, type WatchModelsResponse } from "@modelreg/proto";
import { streamErrorBody } from "./errors";
import { header, metadataOf, minRevisionOf } from "./metadata";
import {
  encodeStreamError,
  encodeWatchMessage,
  negotiateStreamFormat,
  parseLastEventId,
  parseRevisionParameter,
  type StreamFormat,
  streamContentTypes,
} from "./streaming";
import { toRequestMessage, toResponseJson } from "./transcode";
import type { GatewayContext, GatewayResponse, RouteCall } from "./types";

type Watch = AsyncIterator<WatchModelsResponse, unknown, undefined>;

/** What the stream's end-of-stream log line reports. */
interface WatchState {
  established: boolean;
  reconnects: number;
}

/** The watch's request: filter and revision from the query, `Last-Event-ID` winning over the latter. */
async function watchRequestOf(context: GatewayContext, call: RouteCall): Promise<WatchModelsRequest> {
  const { request, route } = call;
  const body = await request.body?.bytes(context.maxBodyBytes);
  if (body !== undefined && body.length > 0) {
    const description = `${route.httpMethod} ${route.template} takes no body`;
    throw new RegistryError(Code.INVALID_ARGUMENT, `Invalid request: body: ${description}`, {
      violations: [{ field: "body", description }],
    });
  }
  // Checked here rather than by the proto3 JSON reader, which takes -5 (and reports others in its words).
  for (const name of ["afterRevision", "after_revision"]) {
    for (const value of request.query.getAll(name)) if (value !== "") parseRevisionParameter(name, value);
  }
  // The route's input type is WatchModelsRequest: the gateway sends only WatchModels as a server stream.
  const message = toRequestMessage(route, {
    params: call.params,
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
  return message;
}

/** The frames of an established watch; a failure is the last frame. Ends the watch when done. */
async function* framesOf(
  context: GatewayContext,
  call: RouteCall,
  watch: Watch,
  first: IteratorResult<WatchModelsResponse, unknown>,
  format: StreamFormat,
  state: WatchState,
): AsyncGenerator<string, void, undefined> {
  const { requestId, route, request } = call;
  const started = Date.now();
  let sent = 0;
  let ended = "client disconnected";
  try {
    for (let next = first; !next.done; next = await watch.next()) {
      sent++;
      yield encodeWatchMessage(format, next.value, toResponseJson(route, next.value));
    }
  } catch (error) {
    if (request.signal.aborted) return;
    const body = streamErrorBody(error, context.logger, { requestId, rpc: route.rpc });
    ended = body.error.status;
    yield encodeStreamError(format, body);
  } finally {
    await watch.return?.(undefined);
    context.logger?.info(
      {
        requestId,
        rpc: route.rpc,
        messages: sent,
        reconnects: state.reconnects,
        ended,
        durationMs: Date.now() - started,
      },
      "stream ended",
    );
  }
}

/** A server-streaming route: the watch, as SSE or NDJSON by the `Accept` header. */
export async function dispatchWatch(context: GatewayContext, call: RouteCall): Promise<GatewayResponse> {
  const { client, logger } = context;
  const { request, requestId, route } = call;
  if (typeof client.watchModels !== "function") {
    throw new RegistryError(
      Code.UNIMPLEMENTED,
      `${route.httpMethod} ${route.template} needs a registry client with watchModels (createRegistryClient).`,
    );
  }
  minRevisionOf(request); // taken (and checked) on every route; a watch starts where its query says
  const message = await watchRequestOf(context, call);
  const format = negotiateStreamFormat(header(request.headers, "accept"));
  const state: WatchState = { established: false, reconnects: 0 };
  const watch = client.watchModels(
    { afterRevision: message.afterRevision, filter: message.filter },
    {
      signal: request.signal,
      metadata: metadataOf(request, requestId, context.forwardCookies),
      onReconnect: ({ error, attempt, afterRevision }) => {
        // Before the first byte the HTTP client gets the error (503 for a
        // registry that is down) instead of a response that stays silent.
        if (!state.established) throw error;
        state.reconnects++;
        logger?.info(
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
  state.established = true;
  const headers = {
    "content-type": streamContentTypes[format],
    "x-accel-buffering": "no",
  };
  if (request.method.toUpperCase() === "HEAD") {
    await watch.return?.(undefined);
    return { status: 200, headers, body: "" };
  }
  const frames = framesOf(context, call, watch, first, format, state);
  // A generator's return() before its first next() skips its `finally`: end the watch here too,
  // so an adapter that never sends the stream does not leave the gRPC watch open.
  const stream: AsyncIterable<string> = {
    [Symbol.asyncIterator]: () => ({
      next: () => frames.next(),
      return: async () => {
        await frames.return(undefined);
        await watch.return?.(undefined);
        return { done: true, value: undefined };
      },
    }),
  };
  return { status: 200, headers, body: "", stream };
}
