/**
 * Converts between protobuf-ts's `RpcMetadata` (plain strings, `-bin`
 * values base64) and grpc-js's `Metadata`.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import type { RpcMetadata } from "@protobuf-ts/runtime-rpc";

/** Headers for one call: `RpcMetadata` as grpc-js metadata. Throws INVALID_ARGUMENT for a key or value gRPC cannot carry. */
export function toGrpcMetadata(meta: RpcMetadata | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (!meta) return metadata;
  for (const [key, value] of Object.entries(meta)) {
    const name = key.toLowerCase();
    try {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (name.endsWith("-bin")) metadata.add(name, Buffer.from(item, "base64"));
        else metadata.add(name, item);
      }
    } catch (cause) {
      throw new RegistryError(Code.INVALID_ARGUMENT, `The header "${key}" cannot be sent as gRPC metadata.`, {
        cause,
      });
    }
  }
  return metadata;
}

/** grpc-js metadata as `RpcMetadata`: one string, or an array when a key repeats; binary values base64. */
export function fromGrpcMetadata(metadata: grpc.Metadata | undefined): RpcMetadata {
  const meta: RpcMetadata = {};
  if (!metadata) return meta;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    const strings = values.map((v) => (typeof v === "string" ? v : Buffer.from(v).toString("base64")));
    const [first] = strings;
    if (first === undefined) continue;
    meta[key] = strings.length === 1 ? first : strings;
  }
  return meta;
}
