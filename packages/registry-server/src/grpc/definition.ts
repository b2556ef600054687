import type * as grpc from "@grpc/grpc-js";
import type { MethodInfo } from "../context";

/**
 * The grpc-js service definition of a generated service whose requests are
 * left as bytes: the binding decodes them itself, so a malformed message
 * becomes INVALID_ARGUMENT rather than grpc-js's INTERNAL. Responses may be
 * handed over already encoded (the encoded-model cache).
 */
export function rawRequestDefinition(service: {
  readonly typeName: string;
  readonly methods: readonly MethodInfo[];
}): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.localName,
      requestStream: method.clientStreaming,
      responseStream: method.serverStreaming,
      requestSerialize: (value: object) => value as Buffer,
      requestDeserialize: (bytes: Buffer) => bytes as object,
      responseSerialize: (value: object) =>
        Buffer.isBuffer(value) ? value : Buffer.from(method.O.toBinary(value)),
      responseDeserialize: (bytes: Buffer) => method.O.fromBinary(bytes),
    };
  }
  return definition as grpc.ServiceDefinition;
}

/**
 * The grpc-js service definition of a generated service whose messages grpc-js
 * (de)serializes with the method's generated types: for health and
 * reflection, whose handlers take decoded requests.
 */
export function serviceDefinition(service: {
  readonly typeName: string;
  readonly methods: readonly MethodInfo[];
}): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.localName,
      requestStream: method.clientStreaming,
      responseStream: method.serverStreaming,
      requestSerialize: (value: object) => Buffer.from(method.I.toBinary(value)),
      requestDeserialize: (bytes: Buffer) => method.I.fromBinary(bytes),
      responseSerialize: (value: object) => Buffer.from(method.O.toBinary(value)),
      responseDeserialize: (bytes: Buffer) => method.O.fromBinary(bytes),
    };
  }
  return definition as grpc.ServiceDefinition;
}
