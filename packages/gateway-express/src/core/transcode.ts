import { Code, RegistryError } from "@modelreg/proto";
import {
  type FieldInfo,
  type JsonObject,
  type JsonValue,
  lowerCamelCase,
  ScalarType,
} from "@protobuf-ts/runtime";
import { messageToJson } from "./proto-json";
import { findField, type Route } from "./routes";

const invalid = (field: string, description: string) =>
  new RegistryError(Code.INVALID_ARGUMENT, `Invalid request: ${field}: ${description}`, {
    violations: [{ field, description }],
  });

// Message fields whose JSON form is a string, so they can come from a query parameter.
const stringFormMessages = new Set([
  "google.protobuf.FieldMask",
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
]);

/**
 * How deeply a JSON body may nest objects and arrays. The contract's
 * messages nest a few levels; a deeper body is an attack or a mistake, and
 * past a few thousand levels it would exhaust the parser's stack.
 */
export const maxJsonDepth = 64;

const notJson = (description: string) =>
  new RegistryError(Code.INVALID_ARGUMENT, `The request body is not valid JSON: ${description}.`, {
    violations: [{ field: "body", description: `is not valid JSON: ${description}` }],
  });

const tooDeep = () =>
  new RegistryError(
    Code.INVALID_ARGUMENT,
    `The request body nests objects and arrays more than ${maxJsonDepth} levels deep; send at most ${maxJsonDepth}.`,
    { violations: [{ field: "body", description: `nests more than ${maxJsonDepth} levels deep` }] },
  );

/** Refuses JSON text that nests deeper than {@link maxJsonDepth}, before it is parsed. */
function checkDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // A backslash escapes the next character (a quote, or another backslash).
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxJsonDepth) throw tooDeep();
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/**
 * Where and why JSON.parse stopped, in our words: the engine's message
 * quotes the body and its wording changes between Node versions. Node 20
 * gives a position for some errors and only the offending character for others.
 */
function syntaxErrorOf(text: string, error: unknown): RegistryError {
  const message = error instanceof Error ? error.message : "";
  if (/end of JSON input/.test(message)) return notJson("it ends before the JSON value is complete");
  const token = /^Unexpected token '(.)'/u.exec(message)?.[1];
  const position = /\bposition (\d+)/.exec(message)?.[1];
  const at = position === undefined ? undefined : Number(position);
  const found = token ?? (at === undefined ? undefined : text.slice(at, at + 1));
  let where = "";
  if (at !== undefined) {
    const before = text.slice(0, at);
    where = ` at line ${before.split("\n").length}, column ${at - before.lastIndexOf("\n")}`;
  }
  if (found === "") return notJson("it ends before the JSON value is complete");
  if (found === undefined) return notJson("it is not a JSON value");
  return notJson(`unexpected ${JSON.stringify(found)}${where}`);
}

/** Parses a JSON body, refusing deep nesting and `__proto__` keys (prototype pollution) anywhere in it. */
export function parseJsonBody(text: string): JsonValue {
  checkDepth(text);
  let polluted = false;
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(text, function (this: unknown, key: string, value: unknown) {
      if (key === "__proto__") polluted = true;
      return value;
    }) as JsonValue;
  } catch (error) {
    throw syntaxErrorOf(text, error);
  }
  if (polluted) throw invalid("body", 'must not contain the key "__proto__"');
  return parsed;
}

/**
 * Refuses keys that are not fields of `type`, recursing into message fields.
 * The proto3 JSON reader looks keys up in a plain object, so names inherited
 * from Object.prototype (`constructor`, `toString`, `hasOwnProperty`...) pass
 * its unknown-field check and are silently dropped instead of refused.
 */
function checkKnownFields(type: Route["input"], json: JsonObject, path: string): void {
  for (const [key, value] of Object.entries(json)) {
    const at = path === "" ? key : `${path}.${key}`;
    const field = type.fields.find((f) => f.name === key || f.jsonName === key || f.localName === key);
    if (!field) throw invalid(at, `is not a field of ${type.typeName}`);
    if (field.kind !== "message" || typeof value !== "object" || value === null) continue;
    const fieldType = field.T();
    // Well-known types have their own JSON forms; their readers check them.
    if (fieldType.typeName.startsWith("google.protobuf.")) continue;
    const items = field.repeat && Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (typeof item === "object" && item !== null && !Array.isArray(item)) {
        checkKnownFields(fieldType, item, at);
      }
    }
  }
}

/** A query or path string converted to the JSON value proto3 JSON expects for the field. */
function coerce(field: FieldInfo, name: string, raw: string): JsonValue {
  if (field.kind === "enum") return raw;
  if (field.kind === "message") {
    const typeName = field.T().typeName;
    // FieldMask paths may be written as proto names (artifact_uri) or JSON names (artifactUri).
    if (typeName === "google.protobuf.FieldMask")
      return raw.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (stringFormMessages.has(typeName)) return raw;
    throw invalid(name, "cannot be set from a query parameter; send it in the JSON body");
  }
  if (field.kind !== "scalar") throw invalid(name, "cannot be set from a query parameter");
  switch (field.T) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return raw;
    case ScalarType.BOOL:
      if (raw === "true" || raw === "false") return raw === "true";
      throw invalid(name, `must be true or false (got "${raw}")`);
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      if (/^-?\d{1,20}$/.test(raw)) return raw;
      throw invalid(name, `must be an integer (got "${raw}")`);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      const n = Number(raw);
      if (raw.trim() !== "" && Number.isFinite(n)) return n;
      throw invalid(name, `must be a number (got "${raw}")`);
    }
    default: {
      if (!/^-?\d{1,10}$/.test(raw)) throw invalid(name, `must be an integer (got "${raw}")`);
      return Number(raw);
    }
  }
}

/** Sets `value` at a dotted proto field path, using JSON (lowerCamelCase) names. */
function setPath(target: JsonObject, path: string, value: JsonValue, source: string): void {
  const names = path.split(".").map(lowerCamelCase);
  let node = target;
  for (const name of names.slice(0, -1)) {
    const next = node[name];
    if (next === undefined || next === null) {
      const created: JsonObject = {};
      node[name] = created;
      node = created;
    } else if (typeof next === "object" && !Array.isArray(next)) {
      node = next;
    } else {
      throw invalid(path, `conflicts with a non-object value in the body (${source})`);
    }
  }
  const last = names.at(-1) ?? path;
  const existing = node[last];
  if (existing !== undefined && existing !== null && existing !== "" && existing !== value) {
    throw invalid(path, `is set differently in the ${source} and in the body`);
  }
  node[last] = value;
}

/** What the HTTP request contributes besides its body. */
export interface TranscodeInput {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: JsonValue | undefined;
  /** `If-Match` value, if any. */
  readonly ifMatch: string | undefined;
  /** `Idempotency-Key` value, if any. */
  readonly idempotencyKey: string | undefined;
}

/** The request JSON the body contributes: the whole request (`*`), one field of it, or nothing. */
function bodyJson(route: Route, body: JsonValue | undefined): JsonObject {
  if (route.body === "" && body !== undefined) {
    throw invalid("body", `${route.httpMethod} ${route.template} takes no body`);
  }
  if (route.body === "" || (route.body === "*" && body === undefined)) return {};
  if (body === undefined) throw invalid(route.body, "is required in the JSON body");
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("body", "must be a JSON object");
  }
  return route.body === "*" ? (body as JsonObject) : { [lowerCamelCase(route.body)]: body };
}

/** Sets the fields the query string names; proto names (page_size) and JSON names (pageSize) both work. */
function applyQuery(route: Route, json: JsonObject, input: TranscodeInput): void {
  const bound = new Set([
    ...Object.keys(input.params),
    ...(route.body && route.body !== "*" ? [route.body] : []),
  ]);
  const repeated = new Map<string, JsonValue[]>();
  for (const key of new Set(input.query.keys())) {
    if (route.body === "*")
      throw invalid(key, "query parameters are not accepted here; send every field in the JSON body");
    const path = key
      .split(".")
      .map((part) => part.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
      .join(".");
    const info = findField(route.input, path);
    if (!info || bound.has(path) || [...bound].some((b) => path.startsWith(`${b}.`))) {
      throw invalid(key, `is not a query parameter of ${route.httpMethod} ${route.template}`);
    }
    // An empty value (`?pageSize=`) means the parameter is not set.
    const values = input.query.getAll(key).filter((v) => v !== "");
    if (values.length === 0) continue;
    if (info.repeat) {
      repeated.set(
        path,
        values.map((v) => coerce(info, key, v)),
      );
    } else {
      if (values.length > 1) throw invalid(key, "is given more than once");
      setPath(json, path, coerce(info, key, values[0] ?? ""), "query");
    }
  }
  for (const [path, values] of repeated) setPath(json, path, values, "query");
}

/** `If-Match` as the etag field, `Idempotency-Key` as `request_id`, where the request has them. */
function applyHeaders(route: Route, json: JsonObject, input: TranscodeInput): void {
  // If-Match conditions a write on an existing model; a route without a path id has none.
  if (input.ifMatch !== undefined && Object.keys(input.params).length === 0) {
    throw invalid("If-Match", `is not supported by ${route.httpMethod} ${route.template}`);
  }
  if (input.ifMatch !== undefined) {
    if (route.input.fields.some((f) => f.name === "etag"))
      setPath(json, "etag", input.ifMatch, "If-Match header");
    else if (route.body && route.body !== "*" && findField(route.input, `${route.body}.etag`)) {
      setPath(json, `${route.body}.etag`, input.ifMatch, "If-Match header");
    } else throw invalid("If-Match", `is not supported by ${route.httpMethod} ${route.template}`);
  }
  if (input.idempotencyKey !== undefined) {
    if (!route.input.fields.some((f) => f.name === "request_id")) {
      throw invalid("Idempotency-Key", `is not supported by ${route.httpMethod} ${route.template}`);
    }
    setPath(json, "request_id", input.idempotencyKey, "Idempotency-Key header");
  }
}

/** A request that sets only path variables: no body, query parameters or headers that map to fields. */
const isPathOnly = (input: TranscodeInput) =>
  input.body === undefined &&
  input.ifMatch === undefined &&
  input.idempotencyKey === undefined &&
  input.query.size === 0;

/**
 * Per route without a body whose path variables are all top-level string
 * fields: each variable's field and its `localName` (the message property).
 * `null` for other routes, which go through JSON.
 */
const directFields = new WeakMap<Route, ReadonlyMap<string, string> | null>();

function directFieldsOf(route: Route): ReadonlyMap<string, string> | undefined {
  let fields = directFields.get(route);
  if (fields === undefined) {
    const byName = new Map<string, string>();
    for (const segment of route.segments) {
      if (!("field" in segment)) continue;
      const info = route.input.fields.find((f) => f.name === segment.field);
      if (
        info?.kind === "scalar" &&
        info.T === ScalarType.STRING &&
        !info.repeat &&
        info.oneof === undefined
      ) {
        byName.set(segment.field, info.localName);
      }
    }
    const all = route.segments.every((segment) => !("field" in segment) || byName.has(segment.field));
    fields = route.body === "" && all ? byName : null;
    directFields.set(route, fields);
  }
  return fields ?? undefined;
}

/**
 * Builds the gRPC request message for a route from the body, the path
 * variables and the query string (google.api.http transcoding rules), all
 * validated by the message's own proto3 JSON reader: unknown fields and
 * wrong types become INVALID_ARGUMENT.
 */
export function toRequestMessage(route: Route, input: TranscodeInput): object {
  const direct = isPathOnly(input) ? directFieldsOf(route) : undefined;
  if (direct) {
    // What the JSON reader would make of `{id: "..."}`, without the JSON (GET by id, the hot path).
    const message = route.input.create() as Record<string, unknown>;
    for (const [field, localName] of direct) message[localName] = input.params[field];
    return message;
  }
  const json = bodyJson(route, input.body);
  for (const [field, value] of Object.entries(input.params)) {
    const info = findField(route.input, field);
    if (!info) throw invalid(field, "is not a field of the request");
    setPath(json, field, coerce(info, field, value), "path");
  }
  applyQuery(route, json, input);
  applyHeaders(route, json, input);
  checkKnownFields(route.input, json, "");
  try {
    return route.input.fromJson(json, { ignoreUnknownFields: false });
  } catch (error) {
    throw new RegistryError(Code.INVALID_ARGUMENT, `Invalid request: ${(error as Error).message}`, {
      violations: [{ field: "body", description: (error as Error).message }],
    });
  }
}

/**
 * The JSON response for a route: the whole message, or its `response_body`
 * field; unset message fields left out (see {@link messageToJson}).
 */
export function toResponseJson(route: Route, response: object): JsonValue {
  const json = messageToJson(route.output, response);
  return route.responseBody === "" ? json : (json[lowerCamelCase(route.responseBody)] ?? null);
}
