import type { FieldInfo, IMessageType, JsonValue } from "@protobuf-ts/runtime";
import { ScalarType } from "@protobuf-ts/runtime";
import { describe, expect, it } from "vitest";
import * as api from "./index";
import {
  Any,
  BadRequest,
  Duration,
  errorDetailTypes,
  FieldMask,
  ListModelsRequest,
  Model,
  ModelEvent,
  ModelEventType,
  Status,
  Timestamp,
  UpdateModelRequest,
  WatchModelsRequest,
} from "./index";

// biome-ignore lint/suspicious/noExplicitAny: samples are built by reflection over every message shape.
type AnyMessage = any;
type MessageType = IMessageType<AnyMessage>;

function isMessageType(value: unknown): value is MessageType {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as MessageType).typeName === "string" &&
    Array.isArray((value as MessageType).fields)
  );
}

const exportedMessageTypes = Object.values(api as Record<string, unknown>).filter(isMessageType);
const jsonOptions = { typeRegistry: errorDetailTypes };

// A value that differs from the field's default, so a field that is lost or
// renamed on the way shows up as a difference. `n` varies repeated elements.
function scalarSample(type: ScalarType, n: number): unknown {
  switch (type) {
    case ScalarType.STRING:
      return `s${n} é漢😀 "quoted"`;
    case ScalarType.BYTES:
      return new Uint8Array([0, 255, n]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.DOUBLE:
      return -1.5 - n;
    case ScalarType.FLOAT:
      return 0.25 + n;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return -(2n ** 60n) - BigInt(n);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return 2n ** 63n + BigInt(n);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return 4_000_000_000 + n;
    default:
      return -7 - n;
  }
}

// Well-known types whose JSON form restricts their values.
const specialSamples: Record<string, (n: number) => AnyMessage> = {
  "google.protobuf.Timestamp": (n) => Timestamp.fromDate(new Date(Date.UTC(2024, 5, 1, 12, n, 3, 250))),
  "google.protobuf.Duration": (n) => Duration.create({ seconds: BigInt(30 + n), nanos: 500_000_000 }),
  "google.protobuf.FieldMask": () => FieldMask.create({ paths: ["framework", "artifact_uri"] }),
  "google.protobuf.Any": (n) =>
    Any.pack(
      BadRequest.create({ fieldViolations: [{ field: `model.name${n}`, description: "required" }] }),
      BadRequest,
    ),
};

function fieldSample(field: FieldInfo, depth: number, n: number): unknown {
  switch (field.kind) {
    case "scalar":
      return scalarSample(field.T, n);
    case "enum": {
      const [, values] = field.T();
      const nonZero = Object.values(values).filter((v): v is number => typeof v === "number" && v !== 0);
      return nonZero[n % nonZero.length];
    }
    case "message":
      return sample(field.T(), depth + 1, n);
    case "map": {
      const key = (i: number) => `key-${i}`;
      const value = (i: number) =>
        field.V.kind === "scalar"
          ? scalarSample(field.V.T, i)
          : field.V.kind === "enum"
            ? 1
            : sample(field.V.T(), depth + 1, i);
      return { [key(1)]: value(1), [key(2)]: value(2) };
    }
  }
}

function sample(type: MessageType, depth = 0, n = 0): AnyMessage {
  const special = specialSamples[type.typeName];
  if (special) return special(n);
  const message = type.create();
  if (depth > 3) return message;
  for (const field of type.fields) {
    const value = field.repeat
      ? [fieldSample(field, depth, 1), fieldSample(field, depth, 2)]
      : fieldSample(field, depth, n);
    if (field.oneof) {
      if (message[field.oneof].oneofKind === undefined) {
        message[field.oneof] = { oneofKind: field.localName, [field.localName]: value };
      }
    } else {
      message[field.localName] = value;
    }
  }
  return message;
}

describe("every exported message", () => {
  it("is exported (the contract and the error model)", () => {
    const names = exportedMessageTypes.map((t) => t.typeName);
    expect(names).toContain("modelregistry.v1.Model");
    expect(names).toContain("modelregistry.v1.ImportModelsResponse");
    expect(names).toContain("google.rpc.Status");
    expect(names).toContain("google.rpc.BadRequest");
    expect(exportedMessageTypes.length).toBeGreaterThanOrEqual(40);
  });

  it.each(exportedMessageTypes.map((t) => [t.typeName, t] as const))(
    "%s survives binary and JSON round trips with every field set",
    (_name, type) => {
      const original = sample(type);
      expect(type.isAssignable(original)).toBe(true);

      const fromBinary = type.fromBinary(type.toBinary(original));
      expect(fromBinary).toEqual(original);

      // JSON.stringify must not throw: int64 travels as a string, not a bigint.
      const text = JSON.stringify(type.toJson(original, jsonOptions));
      const fromJson = type.fromJson(JSON.parse(text) as JsonValue, jsonOptions);
      expect(fromJson).toEqual(original);
    },
  );
});

describe("Model JSON (proto3 JSON mapping, as the gateway will speak it)", () => {
  it("reads the seed's request body", () => {
    const model = Model.fromJson({ name: "test-model", version: "1.0.0", framework: "pytorch" });
    expect(model).toMatchObject({ name: "test-model", version: "1.0.0", framework: "pytorch", id: "" });
  });

  it("rejects an unknown field with its name", () => {
    expect(() => Model.fromJson({ name: "m", version: "1", framwork: "pytorch" })).toThrow(/framwork/);
  });

  it("writes lowerCamelCase names, RFC 3339 timestamps and metadata as an object", () => {
    const model = Model.create({
      id: "0190a0c4-0000-7000-8000-000000000001",
      name: "bert",
      version: "1.0.0",
      tags: ["nlp", "prod"],
      metadata: { owner: "ana" },
      artifactUri: "s3://models/bert/1.0.0",
      etag: '"1"',
      createTime: Timestamp.fromDate(new Date("2024-06-01T12:00:00.000Z")),
    });
    expect(Model.toJson(model)).toEqual({
      id: "0190a0c4-0000-7000-8000-000000000001",
      name: "bert",
      version: "1.0.0",
      tags: ["nlp", "prod"],
      metadata: { owner: "ana" },
      artifactUri: "s3://models/bert/1.0.0",
      etag: '"1"',
      createTime: "2024-06-01T12:00:00Z",
    });
  });

  it("accepts the proto field names too", () => {
    expect(Model.fromJson({ artifact_uri: "s3://x" }).artifactUri).toBe("s3://x");
    expect(ListModelsRequest.fromJson({ page_size: 10, order_by: "name" })).toMatchObject({
      pageSize: 10,
      orderBy: "name",
    });
  });

  it("writes event revisions as strings and event types by name", () => {
    const event = ModelEvent.create({ type: ModelEventType.DELETED, modelId: "x", revision: 2n ** 62n });
    expect(ModelEvent.toJson(event)).toEqual({
      type: "MODEL_EVENT_TYPE_DELETED",
      modelId: "x",
      revision: "4611686018427387904",
    });
  });
});

describe("request semantics carried by the wire format", () => {
  it("update_mask travels as a comma-separated camelCase string in JSON", () => {
    const request = UpdateModelRequest.fromJson({
      model: { id: "x", artifactUri: "s3://y" },
      updateMask: "artifactUri,description",
    });
    expect(request.updateMask?.paths).toEqual(["artifact_uri", "description"]);
  });

  it("WatchModelsRequest tells 'from now' (unset) apart from 'after revision 0'", () => {
    const fromNow = WatchModelsRequest.fromBinary(WatchModelsRequest.toBinary(WatchModelsRequest.create()));
    const fromZero = WatchModelsRequest.fromBinary(
      WatchModelsRequest.toBinary(WatchModelsRequest.create({ afterRevision: 0n })),
    );
    expect(fromNow.afterRevision).toBeUndefined();
    expect(fromZero.afterRevision).toBe(0n);
  });

  it("google.rpc.Status details carry typed error details as JSON with @type", () => {
    const status = Status.create({
      code: 3,
      message: "invalid model",
      details: [
        Any.pack(
          BadRequest.create({ fieldViolations: [{ field: "model.name", description: "required" }] }),
          BadRequest,
        ),
      ],
    });
    const json = Status.toJson(Status.fromBinary(Status.toBinary(status)), jsonOptions);
    expect(json).toEqual({
      code: 3,
      message: "invalid model",
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.BadRequest",
          fieldViolations: [{ field: "model.name", description: "required" }],
        },
      ],
    });
    const detail = Status.fromJson(json, jsonOptions).details[0];
    expect(detail && Any.unpack(detail, BadRequest).fieldViolations[0]?.field).toBe("model.name");
  });
});
