import { Any, Code } from "@modelreg/proto";
import {
  type EnumInfo,
  type FieldInfo,
  type IMessageType,
  listEnumValues,
  RepeatType,
  ScalarType,
} from "@protobuf-ts/runtime";
import { buildRoutes, findField, type Route } from "./routes";

/** What {@link buildOpenApiDocument} puts in `info` and `servers`. */
export interface OpenApiInfo {
  /** `info.title`. Default "Model Registry API". */
  readonly title?: string;
  /** `info.version`. Default "v1". */
  readonly version?: string;
  /** The URL of the one entry of `servers`; none without it. */
  readonly serverUrl?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: routes carry message types of every shape.
type AnyMessageType = IMessageType<any>;
type Schema = Record<string, unknown>;
/** A field's value type: a scalar, an enum or a message. */
type ValueInfo =
  | { readonly kind: "scalar"; readonly T: ScalarType }
  | { readonly kind: "enum"; readonly T: () => EnumInfo }
  | { readonly kind: "message"; readonly T: () => AnyMessageType };

const schemaRef = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string): Schema => ({ $ref: `#/components/responses/${name}` });

/** Well-known types whose proto3 JSON form is a string (the ones transcode.ts takes from a query string). */
const stringFormTypes: Readonly<Record<string, Schema>> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": {
    type: "string",
    pattern: "^-?[0-9]+(?:\\.[0-9]{1,9})?s$",
    description: 'A duration in seconds with up to 9 fractional digits and an "s" suffix, e.g. "1.5s".',
  },
  "google.protobuf.FieldMask": {
    type: "string",
    description: 'Comma-separated field paths in lowerCamelCase, e.g. "description,artifactUri".',
  },
};

/** Other well-known types with a special JSON form, inlined where they are used. */
const inlineWellKnownTypes: Readonly<Record<string, Schema>> = {
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": { description: "Any JSON value." },
  "google.protobuf.ListValue": { type: "array", items: {} },
};

const wrapperTypes = new Set(
  ["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map(
    (name) => `google.protobuf.${name}Value`,
  ),
);

/** `google.protobuf.Any` in proto3 JSON: `@type` plus the packed message's fields. */
const anySchema: Schema = {
  type: "object",
  description:
    'A message of any type: "@type" is its type URL (e.g. "type.googleapis.com/google.rpc.BadRequest"), the other properties are its fields.',
  properties: { "@type": { type: "string" } },
  required: ["@type"],
  additionalProperties: true,
};

/** The proto3 JSON schema of a scalar. 64-bit integers are strings; the reader also accepts numbers. */
function scalarSchema(type: ScalarType): Schema {
  switch (type) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295 };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    default:
      return { type: "integer", format: "int32" };
  }
}

const behaviorsOf = (field: FieldInfo): readonly string[] => {
  const value = field.options?.["google.api.field_behavior"];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
};

const isRequired = (field: FieldInfo) => behaviorsOf(field).includes("REQUIRED");

/** readOnly / writeOnly / a note from the field's `google.api.field_behavior`. */
function annotate(schema: Schema, field: FieldInfo): Schema {
  const behaviors = behaviorsOf(field);
  const out: Schema = { ...schema };
  if (behaviors.includes("OUTPUT_ONLY")) out.readOnly = true;
  if (behaviors.includes("INPUT_ONLY")) out.writeOnly = true;
  if (behaviors.includes("IMMUTABLE")) {
    const note = "Immutable: set when the resource is created, never changed afterwards.";
    out.description = typeof out.description === "string" ? `${out.description} ${note}` : note;
  }
  return out;
}

/** Splits `BatchGetModels` into `Batch get models`. */
function summaryOf(rpc: string): string {
  const words = rpc
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Collects one component schema per message and enum type that the document references. */
class SchemaRegistry {
  private readonly schemas = new Map<string, Schema>();

  /** The schema of a message type where a value of it appears: a `$ref`, or an inline well-known form. */
  message(type: AnyMessageType): Schema {
    const name = type.typeName;
    const stringForm = stringFormTypes[name] ?? inlineWellKnownTypes[name];
    if (stringForm) return { ...stringForm };
    if (wrapperTypes.has(name)) {
      const value = type.fields.find((f) => f.name === "value");
      if (value?.kind === "scalar") return scalarSchema(value.T);
    }
    if (!this.schemas.has(name)) {
      // Registered before the fields are walked, so recursive messages terminate.
      this.schemas.set(name, {});
      this.schemas.set(name, name === "google.protobuf.Any" ? anySchema : this.messageBody(type));
    }
    return schemaRef(name);
  }

  /** The schema of an enum: a `$ref` to a string enum of its proto value names. */
  enum(info: EnumInfo): Schema {
    const [name, object, prefix = ""] = info;
    if (name === "google.protobuf.NullValue") return { type: "null" };
    if (!this.schemas.has(name)) {
      const values = listEnumValues(object)
        .sort((a, b) => a.number - b.number)
        .map((v) => `${prefix}${v.name}`);
      this.schemas.set(name, { type: "string", enum: values });
    }
    return schemaRef(name);
  }

  /** One value of a field: the field itself, an array item or a map value. */
  value(value: ValueInfo): Schema {
    if (value.kind === "scalar") return scalarSchema(value.T);
    if (value.kind === "enum") return this.enum(value.T());
    return this.message(value.T());
  }

  /**
   * The schema of a field inside a message. The gateway leaves an unset
   * message field out (never `null`), and no property is `required` in a
   * response, so a message field's schema is the message's own.
   */
  field(field: FieldInfo): Schema {
    let schema: Schema;
    if (field.kind === "map") {
      schema = { type: "object", additionalProperties: this.value(field.V) };
      if (field.K === ScalarType.BOOL) schema.propertyNames = { enum: ["true", "false"] };
      else if (field.K !== ScalarType.STRING) schema.propertyNames = { pattern: "^-?[0-9]+$" };
    } else {
      const item = this.value(field);
      schema = field.repeat === RepeatType.NO ? item : { type: "array", items: item };
    }
    return annotate(schema, field);
  }

  /**
   * The schema of a message-typed field directly inside a request body: a
   * `$ref` plus the message's REQUIRED fields (AIP-203: required when the
   * parent is sent), unless the request is a partial update.
   */
  requestField(field: FieldInfo, partial: boolean, exclude: ReadonlySet<string> = new Set()): Schema {
    const schema = this.field(field);
    if (field.kind !== "message" || field.repeat !== RepeatType.NO || partial || !("$ref" in schema)) {
      return schema;
    }
    const required = field
      .T()
      .fields.filter((f) => isRequired(f) && !exclude.has(f.name))
      .map((f) => f.jsonName);
    return required.length > 0 ? { ...schema, required } : schema;
  }

  private messageBody(type: AnyMessageType): Schema {
    const properties: Record<string, Schema> = {};
    for (const field of type.fields) properties[field.jsonName] = this.field(field);
    const schema: Schema = { type: "object" };
    const oneofs = new Map<string, string[]>();
    for (const field of type.fields) {
      if (field.oneof !== undefined)
        oneofs.set(field.oneof, [...(oneofs.get(field.oneof) ?? []), field.jsonName]);
    }
    if (oneofs.size > 0) {
      schema.description = [...oneofs]
        .map(
          ([group, names]) => `At most one of ${names.map((n) => `\`${n}\``).join(", ")} is set (${group}).`,
        )
        .join(" ");
    }
    if (type.fields.length > 0) schema.properties = properties;
    return schema;
  }

  /** The component schemas, sorted by name. */
  components(): Record<string, Schema> {
    const names = [...this.schemas.keys()].sort();
    return Object.fromEntries(names.map((name) => [name, this.schemas.get(name) ?? {}]));
  }
}

/** Whether the request is a partial update (AIP-134): it carries a FieldMask. */
const isPartialUpdate = (route: Route) =>
  route.input.fields.some((f) => f.kind === "message" && f.T().typeName === "google.protobuf.FieldMask");

const pathFields = (route: Route): string[] =>
  route.segments.flatMap((segment) => ("field" in segment ? [segment.field] : []));

/** Whether a field can be set from a query parameter (the same rule as transcode.ts). */
function isQueryField(field: FieldInfo): boolean {
  if (field.kind === "scalar" || field.kind === "enum") return true;
  return field.kind === "message" && field.T().typeName in stringFormTypes;
}

/** The reads a registry client's cache serves, which take a consistency token (`X-Modelreg-Revision`). */
const cachedReads: ReadonlySet<string> = new Set(["GetModel", "LookupModel", "BatchGetModels"]);

/** Whether a route writes: every RPC but those marked free of side effects (the reads and the watch). */
const writes = (route: Route) => route.method.idempotency !== "NO_SIDE_EFFECTS";

/** The path parameters: one per field the route's path binds. */
function pathParametersOf(route: Route): Schema[] {
  const parameters: Schema[] = [];
  for (const path of pathFields(route)) {
    const field = findField(route.input, path);
    const parameter: Schema = {
      name: path,
      in: "path",
      required: true,
      schema: field?.kind === "scalar" ? scalarSchema(field.T) : { type: "string" },
    };
    if (path.includes(".")) parameter.description = `Sets \`${path}\` of the request.`;
    parameters.push(parameter);
  }
  return parameters;
}

/** The headers the gateway maps onto request fields (If-Match, Idempotency-Key, Last-Event-ID) or reads. */
function headerParametersOf(route: Route): Schema[] {
  const parameters: Schema[] = [];
  if (!route.clientStreaming && !route.serverStreaming) {
    // If-Match is documented where it makes sense, on a resource named by the path,
    // though the gateway also maps it on other routes with an etag field.
    const hasEtag = route.input.fields.some((f) => f.name === "etag");
    const bodyEtag = route.body !== "" && route.body !== "*" && findField(route.input, `${route.body}.etag`);
    if (pathFields(route).length > 0 && (hasEtag || bodyEtag)) {
      const target = hasEtag ? "etag" : `${route.body}.etag`;
      parameters.push({
        name: "If-Match",
        in: "header",
        required: false,
        description: `Sets \`${target}\`: the call succeeds only if the resource's etag still matches, otherwise it fails with 409 ABORTED (AIP-154).`,
        schema: { type: "string" },
      });
    }
    if (route.input.fields.some((f) => f.name === "request_id")) {
      parameters.push({
        name: "Idempotency-Key",
        in: "header",
        required: false,
        description:
          "Sets `request_id`: a retry with the same key returns the first call's result instead of repeating it (AIP-155).",
        schema: { type: "string", minLength: 1, maxLength: 128 },
      });
    }
  }

  if (cachedReads.has(route.rpc)) {
    parameters.push({
      name: "X-Modelreg-Revision",
      in: "header",
      required: false,
      description:
        "A consistency token: the `X-Modelreg-Revision` a write answered with. A gateway whose cache has not yet seen that revision of the change feed asks the registry instead, so the answer includes the write (read-your-writes across gateways). A value that is not a decimal integer from 0 to 2^63-1 is refused with 400. Every route accepts it; only these reads use it.",
      schema: { type: "string", pattern: "^[0-9]{1,19}$" },
    });
  }

  if (route.serverStreaming && route.input.fields.some((f) => f.name === "after_revision")) {
    parameters.push({
      name: "Last-Event-ID",
      in: "header",
      required: false,
      description:
        "Sets `afterRevision`: the `id` of the last server-sent event received, as an EventSource sends it when it reconnects. It wins over the `afterRevision` query parameter (the reconnect repeats the original URL).",
      schema: { type: "string", pattern: "^[0-9]+$" },
    });
  }
  return parameters;
}

/**
 * The query parameters: every request field not bound by the path or the body,
 * except with body "*", where the gateway refuses query parameters.
 */
function queryParametersOf(route: Route, registry: SchemaRegistry): Schema[] {
  const parameters: Schema[] = [];
  if (route.body !== "*") {
    const bound = new Set([...pathFields(route).map((p) => p.split(".")[0]), route.body]);
    for (const field of route.input.fields) {
      if (field.kind === "map" || bound.has(field.name) || !isQueryField(field)) continue;
      // Scalars, enums and string-form well-known types (inlined by registry.value).
      const item = registry.value(field);
      const repeated = field.repeat !== RepeatType.NO;
      const parameter: Schema = { name: field.jsonName, in: "query" };
      if (isRequired(field)) parameter.required = true;
      parameter.schema = repeated ? { type: "array", items: item } : item;
      if (repeated) {
        parameter.style = "form";
        parameter.explode = true;
      }
      parameters.push(parameter);
    }
  }
  return parameters;
}

/** A route's parameters, in order: path, headers, query. */
function parametersOf(route: Route, registry: SchemaRegistry): Schema[] {
  return [...pathParametersOf(route), ...headerParametersOf(route), ...queryParametersOf(route, registry)];
}

function requestBodyOf(route: Route, registry: SchemaRegistry): Schema | undefined {
  if (route.body === "") return undefined;
  const partial = isPartialUpdate(route);
  const boundByPath = pathFields(route);
  let schema: Schema;
  let description: string;
  let required: boolean;
  if (route.body === "*") {
    const excluded = new Set(boundByPath);
    const properties: Record<string, Schema> = {};
    const requiredNames: string[] = [];
    for (const field of route.input.fields) {
      if (excluded.has(field.name)) continue;
      const nested = new Set(
        boundByPath.filter((p) => p.startsWith(`${field.name}.`)).map((p) => p.slice(field.name.length + 1)),
      );
      properties[field.jsonName] = registry.requestField(field, partial, nested);
      if (isRequired(field)) requiredNames.push(field.jsonName);
    }
    schema = { type: "object", properties };
    if (requiredNames.length > 0) schema.required = requiredNames;
    description =
      excluded.size > 0
        ? `The fields of \`${route.input.typeName}\` except the path parameter${excluded.size > 1 ? "s" : ""} ${[...excluded].map((p) => `\`${p}\``).join(", ")}.`
        : `A \`${route.input.typeName}\`.`;
    required = requiredNames.length > 0 || route.clientStreaming;
  } else {
    const field = findField(route.input, route.body);
    const nested = new Set(
      boundByPath.filter((p) => p.startsWith(`${route.body}.`)).map((p) => p.slice(route.body.length + 1)),
    );
    schema = field ? registry.requestField(field, partial, nested) : {};
    description = `The \`${route.body}\` field of \`${route.input.typeName}\`.`;
    if (nested.size > 0) {
      description += ` ${[...nested].map((p) => `\`${p}\``).join(", ")} ${nested.size > 1 ? "are" : "is"} taken from the path.`;
    }
    if (partial)
      description +=
        " Only the fields named in the field mask (or, without one, the fields sent) are changed.";
    required = true;
  }
  if (route.clientStreaming) {
    return {
      description: `A stream of requests, one JSON object per line (newline-delimited JSON), read as it arrives; each line is ${description.charAt(0).toLowerCase()}${description.slice(1)} Blank lines are skipped. Each line may be as long as the gateway's body limit; the body may be of any length. A line that is not a valid request ends the call there (nothing after it is written) with 400 naming the line.`,
      required,
      content: { "application/x-ndjson": { schema } },
    };
  }
  return { description, required, content: { "application/json": { schema } } };
}

function responseOf(route: Route, registry: SchemaRegistry): Schema {
  const field = route.responseBody === "" ? undefined : findField(route.output, route.responseBody);
  // The gateway answers `{}` for an unset response_body field, so the response is never null.
  const schema = field ? registry.field(field) : registry.message(route.output);
  const what = field
    ? `the \`${route.responseBody}\` field of \`${route.output.typeName}\``
    : `a \`${route.output.typeName}\``;
  if (route.serverStreaming) {
    return {
      description: `A stream of messages, each ${what}: one JSON object per line (application/x-ndjson, the default), or one server-sent event per message with Accept: text/event-stream. The response starts once the stream is established, so a refused request is an ordinary JSON error; a failure after that is the last message of the stream, in the error body's shape. No deadline applies.`,
      headers: {
        "Cache-Control": { description: "Always `no-store`.", schema: { type: "string" } },
        "X-Accel-Buffering": {
          description: "Always `no`, so that proxies such as nginx pass each message on at once.",
          schema: { type: "string" },
        },
      },
      content: {
        "application/x-ndjson": { schema },
        "text/event-stream": {
          schema: {
            type: "string",
            description: `Server-sent events. Each message is an event whose \`data\` is ${what} as JSON, whose \`id\` is its \`revision\` (send it back as Last-Event-ID to resume) and whose \`event\` is \`created\`, \`updated\`, \`deleted\`, \`alias_set\`, \`alias_deleted\` or \`left_filter\` for a change (\`left_filter\`: on a filtered watch, a model that no longer matches) and \`progress\` for a progress notification (no change, a newer revision). A failure ends the stream with \`event: error\` whose data is the error body ({"error": {...}}), without an id.`,
          },
        },
      },
    };
  }
  const etagOf = field ? (field.kind === "message" ? field.T() : undefined) : route.output;
  const response: Schema = { description: `OK: ${what}.` };
  const headers: Record<string, Schema> = {};
  if (etagOf?.fields.some((f) => f.name === "etag")) headers.ETag = { $ref: "#/components/headers/ETag" };
  if (writes(route)) headers["X-Modelreg-Revision"] = { $ref: "#/components/headers/X-Modelreg-Revision" };
  if (Object.keys(headers).length > 0) response.headers = headers;
  response.content = { "application/json": { schema } };
  return response;
}

/** Shared error responses: name, HTTP status, description. */
const errorResponses: readonly (readonly [string, string, string])[] = [
  [
    "BadRequest",
    "400",
    "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: the request is invalid. For INVALID_ARGUMENT, `details` carries a google.rpc.BadRequest with one violation per offending field. FAILED_PRECONDITION: a model that an alias points at is deleted without `force` (the message names the aliases), or a protected alias is moved to a version without the promotion policy's evidence (`details` carries a google.rpc.PreconditionFailure with one violation per missing item).",
  ],
  ["Unauthorized", "401", "UNAUTHENTICATED: the call carries no valid credentials."],
  [
    "Forbidden",
    "403",
    "PERMISSION_DENIED: the caller may not make this call (or move this protected alias: the promotion policy's role).",
  ],
  [
    "NotFound",
    "404",
    "NOT_FOUND: an unknown id, (name, version) or alias, an alias that pointed nowhere at `readTime`, or no such route.",
  ],
  [
    "Conflict",
    "409",
    "ALREADY_EXISTS (the (name, version) pair is taken) or ABORTED (the etag no longer matches, or the alias no longer points at `expectedVersion`: reason ALIAS_CHANGED in a google.rpc.ErrorInfo).",
  ],
  ["PayloadTooLarge", "413", "The request body is larger than the gateway accepts."],
  [
    "UnsupportedMediaType",
    "415",
    "The request body is not JSON (send Content-Type: application/json), or its Content-Encoding is not gzip, deflate or br.",
  ],
  ["TooManyRequests", "429", "RESOURCE_EXHAUSTED: too many requests; slow down and retry later."],
  ["InternalServerError", "500", "INTERNAL, UNKNOWN or DATA_LOSS: a server error."],
  [
    "ServiceUnavailable",
    "503",
    "UNAVAILABLE: the registry or its database is down; safe to retry for reads and for creates that carry a request_id.",
  ],
  ["GatewayTimeout", "504", "DEADLINE_EXCEEDED: the call did not finish within its deadline."],
];
const bodyOnlyStatuses = new Set(["413", "415"]);

function errorComponents(): { schema: Schema; responses: Record<string, Schema> } {
  const statuses = listEnumValues(Code)
    .filter((v) => v.number !== Code.OK)
    .sort((a, b) => a.number - b.number)
    .map((v) => v.name);
  const schema: Schema = {
    type: "object",
    description:
      'The body of every error response (AIP-193): {"error": {"code", "message", "status", "details"}}.',
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "integer", format: "int32", description: "The HTTP status code." },
          message: { type: "string", description: "What went wrong, for the developer." },
          status: { type: "string", enum: statuses, description: "The gRPC status code name." },
          details: {
            type: "array",
            items: schemaRef("google.protobuf.Any"),
            description:
              "google.rpc error details (google.rpc.BadRequest, google.rpc.ErrorInfo, ...), each with its @type.",
          },
        },
        required: ["code", "message", "status", "details"],
      },
    },
    required: ["error"],
  };
  const content = { "application/json": { schema: schemaRef("Error") } };
  const responses: Record<string, Schema> = {};
  for (const [name, , description] of errorResponses) responses[name] = { description, content };
  responses.Error = { description: "Any other error, in the same shape.", content };
  return { schema, responses };
}

function operationOf(route: Route, registry: SchemaRegistry): Schema {
  const operation: Schema = { operationId: route.rpc, summary: summaryOf(route.rpc) };
  const notes: string[] = [];
  if (route.clientStreaming) {
    notes.push(
      `Client streaming: the request body is a stream of \`${route.input.typeName}\` messages as newline-delimited JSON (application/x-ndjson).`,
    );
  }
  if (route.serverStreaming) {
    notes.push(
      `Server streaming: the response is a stream of \`${route.output.typeName}\` messages, as newline-delimited JSON (application/x-ndjson) or server-sent events (text/event-stream).`,
    );
  }
  if (notes.length > 0) operation.description = notes.join(" ");
  const parameters = parametersOf(route, registry);
  if (parameters.length > 0) operation.parameters = parameters;
  const requestBody = requestBodyOf(route, registry);
  if (requestBody) operation.requestBody = requestBody;
  const responses: Record<string, Schema> = { "200": responseOf(route, registry) };
  for (const [name, status] of errorResponses) {
    if (!bodyOnlyStatuses.has(status) || requestBody) responses[status] = responseRef(name);
  }
  if (route.clientStreaming) {
    const content = { "application/json": { schema: schemaRef("Error") } };
    responses["413"] = { description: "A line of the body is longer than the gateway accepts.", content };
    responses["415"] = {
      description: "The body is not newline-delimited JSON; send Content-Type: application/x-ndjson.",
      content,
    };
  }
  responses.default = responseRef("Error");
  operation.responses = responses;
  return operation;
}

/**
 * Builds the OpenAPI 3.1.0 description of the REST gateway from a route
 * table (`buildRoutes()`), i.e. from the contract's `google.api.http` rules.
 *
 * - One operation per route: `operationId` is the RPC name, the path keeps the
 *   template's variables as parameters (`{model.id}` is a path parameter
 *   named `model.id`) and custom verbs literally (`/api/v1/models/{id}:addTags`).
 * - Request fields not bound by the path or the body are query parameters
 *   named in lowerCamelCase (scalars, enums, repeated scalars as exploded
 *   arrays, and Timestamp / Duration / FieldMask as strings); with body `*`
 *   there are none. `If-Match` / `Idempotency-Key` headers are listed where
 *   the request has `etag` / `request_id`; the `X-Modelreg-Revision`
 *   consistency token on the cached reads (GetModel, LookupModel,
 *   BatchGetModels) and as a response header of every write.
 * - Bodies and responses use one JSON Schema (2020-12) per message and enum
 *   type, in `components.schemas` under its full proto name, following the
 *   proto3 JSON mapping the gateway speaks. Errors share `components.responses`
 *   and the `Error` schema.
 * - Streaming RPCs are included: server streaming responds with
 *   `application/x-ndjson` or `text/event-stream`, client streaming takes an
 *   `application/x-ndjson` body; the schema given is that of one message.
 *
 * `info` sets `info.title` (default "Model Registry API"), `info.version`
 * (default "v1") and, if given, the one entry of `servers`.
 *
 * The output depends only on the arguments (no timestamps) and has a stable
 * key order (paths in route order, component schemas sorted by name), so it
 * can be cached, diffed and served as `openapi.json`.
 */
export function openApiDocumentOf(routes: readonly Route[], info: OpenApiInfo = {}): Record<string, unknown> {
  const registry = new SchemaRegistry();
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const item = paths[route.template] ?? {};
    paths[route.template] = item;
    item[route.httpMethod.toLowerCase()] = operationOf(route, registry);
  }
  // The error details are google.protobuf.Any values, whether or not a route reaches Any.
  registry.message(Any);
  const errors = errorComponents();

  const document: Record<string, unknown> = {
    openapi: "3.1.0",
    info: {
      title: info.title ?? "Model Registry API",
      version: info.version ?? "v1",
      description:
        "REST/JSON gateway to the model registry's gRPC service, generated from the contract's google.api.http annotations. " +
        "Bodies follow the proto3 JSON mapping: 64-bit integers as strings, timestamps as RFC 3339 strings, " +
        "field masks as comma-separated lowerCamelCase paths, enums by name. " +
        "Responses carry every scalar, list and map field (defaults included) and leave unset message fields out. " +
        "Query parameters may use the lowerCamelCase or the proto (snake_case) field name.",
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
  };
  if (info.serverUrl !== undefined) document.servers = [{ url: info.serverUrl }];
  document.paths = paths;
  document.components = {
    schemas: { Error: errors.schema, ...registry.components() },
    responses: errors.responses,
    headers: {
      ETag: {
        description:
          "The resource's etag (AIP-154). A model's: send it back in If-Match to make a write conditional. An alias's changes with every move; its writes are conditional on `expectedVersion` instead.",
        schema: { type: "string" },
      },
      "X-Modelreg-Revision": {
        description:
          "The history revision the write committed at (for a replayed Idempotency-Key or a write that changed nothing, the latest revision), as a decimal integer. A consistency token: send it back as the X-Modelreg-Revision header of a read (on any gateway of the registry) to read at least this write.",
        schema: { type: "string", pattern: "^[0-9]{1,19}$" },
      },
    },
  };
  // No object is shared with another call or within the document, so callers may change it.
  return structuredClone(document);
}

/**
 * The OpenAPI 3.1.0 document of the gateway's routes, the one it serves at
 * `GET /api/v1/openapi.json`: one operation per `google.api.http` rule of the
 * contract, with proto3 JSON schemas of the bodies and the shared error shape.
 * The output depends only on `info` and has a stable key order, so it can be
 * written to a file, diffed and published.
 */
export function buildOpenApiDocument(info: OpenApiInfo = {}): Record<string, unknown> {
  return openApiDocumentOf(buildRoutes(), info);
}
