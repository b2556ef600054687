/**
 * `POST /api/v1/models:import`: an NDJSON body streamed into the client's
 * importModels, line by line as it arrives. A line that is not a valid
 * ImportModelsRequest ends the import there: the gRPC call is cancelled, so
 * nothing after that line is written, and the answer is 400 naming the line.
 */
import { Code, type ImportModelsRequest, RegistryError, revisionHeader } from "@modelreg/proto";
import { HttpError } from "./errors";
import { jsonResponse } from "./json-response";
import { header, metadataOf, minRevisionOf, timeoutOf } from "./metadata";
import type { Route } from "./routes";
import { atLine, isLineTooLong, ndjsonLines } from "./streaming";
import { parseJsonBody, toRequestMessage, toResponseJson } from "./transcode";
import type { GatewayContext, GatewayResponse, RouteCall } from "./types";
import { revisionOf } from "./unary";

/** Refuses what the import does not take: another content type (415), per-request ids, query parameters. */
function checkImportRequest({ request, route }: RouteCall): void {
  const contentType = header(request.headers, "content-type") ?? "";
  if (!/^application\/x-ndjson\s*(?:;|$)/i.test(contentType)) {
    throw new HttpError(
      415,
      new RegistryError(
        Code.INVALID_ARGUMENT,
        'Send the models as newline-delimited JSON with Content-Type: application/x-ndjson, one ImportModelsRequest per line, e.g. {"model":{"name":"bert","version":"1.0.0"},"requestId":"..."}.',
      ),
    );
  }
  for (const [name, field] of [
    ["idempotency-key", "Idempotency-Key"],
    ["if-match", "If-Match"],
  ] as const) {
    if (header(request.headers, name) !== undefined) {
      throw new RegistryError(
        Code.INVALID_ARGUMENT,
        `Invalid request: ${field}: is not supported by ${route.httpMethod} ${route.template}; set requestId on each line instead`,
        { violations: [{ field, description: `is not supported by ${route.httpMethod} ${route.template}` }] },
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
}

const noQuery = new URLSearchParams();

/** The body's lines as request messages, read as they arrive; a bad line throws, naming it. */
async function* importItems(
  route: Route,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<ImportModelsRequest, void, undefined> {
  for await (const line of ndjsonLines(source, maxLineBytes)) {
    if (line.text.trim() === "") continue;
    try {
      // The route's input type is ImportModelsRequest: the gateway sends only ImportModels as a client stream.
      yield toRequestMessage(route, {
        params: {},
        query: noQuery,
        body: parseJsonBody(line.text),
        ifMatch: undefined,
        idempotencyKey: undefined,
      }) as ImportModelsRequest;
    } catch (error) {
      throw atLine(error, line.number);
    }
  }
}

/** A client-streaming route: the NDJSON import, answered with the registry's summary. */
export async function dispatchImport(context: GatewayContext, call: RouteCall): Promise<GatewayResponse> {
  const { client } = context;
  const { request, route } = call;
  if (typeof client.importModels !== "function") {
    throw new RegistryError(
      Code.UNIMPLEMENTED,
      `${route.httpMethod} ${route.template} needs a registry client with importModels (createRegistryClient).`,
    );
  }
  checkImportRequest(call);
  minRevisionOf(request); // taken (and checked) on every route; an import reads nothing
  const timeoutMs = timeoutOf(request, context.maxTimeoutMs);
  const metadata = metadataOf(request, call.requestId, context.forwardCookies);
  const source = request.body?.stream() ?? [];
  let revision: string | undefined;
  try {
    const summary = await client.importModels(importItems(route, source, context.maxBodyBytes), {
      signal: request.signal,
      metadata,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      onHeaders: (headers) => {
        revision = revisionOf(headers);
      },
    });
    return jsonResponse(
      200,
      toResponseJson(route, summary) ?? {},
      revision === undefined ? {} : { [revisionHeader]: revision },
    );
  } catch (error) {
    if (isLineTooLong(error)) throw new HttpError(413, error);
    throw error;
  }
}
