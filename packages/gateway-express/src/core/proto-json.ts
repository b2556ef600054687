import { Any, errorDetailTypes } from "@modelreg/proto";
import type { FieldInfo, IMessageType, JsonObject, JsonValue } from "@protobuf-ts/runtime";

// biome-ignore lint/suspicious/noExplicitAny: the gateway writes messages of every type.
type AnyMessageType = IMessageType<any>;

/**
 * Scalar defaults are written (`"description": ""`, `"tags": []`): a client
 * reads every field of a resource without checking for its absence. The
 * type registry is for the google.rpc.Status details (Any) in the import summary.
 */
const writeOptions = { emitDefaultValues: true, typeRegistry: errorDetailTypes } as const;

const isJsonObject = (value: JsonValue | undefined): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A message as proto3 JSON with its scalar, repeated and map defaults, but
 * without its unset message fields: protobuf-ts writes those as `null` under
 * `emitDefaultValues`, which tells a client nothing an absent key does not
 * and which the proto3 JSON mapping leaves out.
 */
export function messageToJson(type: AnyMessageType, message: object): JsonObject {
  const json = type.toJson(message, writeOptions) as JsonObject;
  dropUnsetMessages(type, message, json);
  return json;
}

/** The value of a field in a message, undefined for an unselected oneof member. */
function fieldValue(field: FieldInfo, message: object): unknown {
  if (field.oneof === undefined) return Reflect.get(message, field.localName);
  const group = Reflect.get(message, field.oneof) as { oneofKind?: string } | undefined;
  return group?.oneofKind === field.localName ? Reflect.get(group, field.localName) : undefined;
}

/** Removes the keys of unset message fields from `json`, the JSON written for `message`, at any depth. */
function dropUnsetMessages(type: AnyMessageType, message: unknown, json: JsonValue | undefined): void {
  if (!isJsonObject(json) || typeof message !== "object" || message === null) return;
  if (type.typeName === Any.typeName) {
    if (Any.is(message)) dropInAny(message, json);
  }
  // Other well-known types have their own JSON forms (a string, a Struct's plain object).
  else if (!type.typeName.startsWith("google.protobuf.")) dropInFields(type, message, json);
}

/** {@link dropUnsetMessages} for each field of an ordinary message. */
function dropInFields(type: AnyMessageType, message: object, json: JsonObject): void {
  for (const field of type.fields) {
    const value = fieldValue(field, message);
    const key = field.jsonName;
    if (field.kind === "map" && field.V.kind === "message") {
      const values = json[key];
      if (!isJsonObject(values)) continue;
      for (const [entry, item] of Object.entries(value as Record<string, unknown>)) {
        dropUnsetMessages(field.V.T(), item, values[entry]);
      }
    } else if (field.kind === "message" && field.repeat) {
      const items = json[key];
      if (!Array.isArray(items)) continue;
      for (const [i, item] of (value as unknown[]).entries()) dropUnsetMessages(field.T(), item, items[i]);
    } else if (field.kind === "message" && value === undefined) {
      delete json[key];
    } else if (field.kind === "message") {
      dropUnsetMessages(field.T(), value, json[key]);
    }
  }
}

/** The packed message's fields are written inline next to `@type`: the same cleaning applies to them. */
function dropInAny(any: Any, json: JsonObject): void {
  const typeName = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  const type = errorDetailTypes.find((t) => t.typeName === typeName);
  if (type === undefined || typeName.startsWith("google.protobuf.")) return;
  dropUnsetMessages(type, type.fromBinary(any.value), json);
}
