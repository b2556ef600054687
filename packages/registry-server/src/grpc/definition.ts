import type * as grpc from "@grpc/grpc-js";
import type { MethodInfo } from "../context";

/** How a service's requests reach its handlers. */
export type RequestForm =
  /**
   * As bytes: the binding decodes them itself, so a malformed message
   * becomes INVALID_ARGUMENT rather than grpc-js's INTERNAL (ModelService).
   */
  | "raw"
  /** Decoded by grpc-js with the method's generated type (health, reflection). */
  | "decoded";

/**
 * The grpc-js service definition of a generated service. Responses are
 * encoded with the method's generated type, or handed over already encoded
 * (the encoded-model cache).
 */
export function grpcServiceDefinition(
  service: { readonly typeName: string; readonly methods: readonly MethodInfo[] },
  requests: RequestForm,
): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methods) {
    const raw = requests === "raw";
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.localName,
      requestStream: method.clientStreaming,
      responseStream: method.serverStreaming,
      requestSerialize: (value: object) =>
        Buffer.isBuffer(value) ? value : Buffer.from(method.I.toBinary(value)),
      requestDeserialize: raw
        ? (bytes: Buffer) => bytes as object
        : (bytes: Buffer) => method.I.fromBinary(bytes),
      responseSerialize: (value: object) =>
        Buffer.isBuffer(value) ? value : Buffer.from(method.O.toBinary(value)),
      responseDeserialize: (bytes: Buffer) => method.O.fromBinary(bytes),
    };
  }
  return definition as grpc.ServiceDefinition;
}
