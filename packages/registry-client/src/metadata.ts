/**
 * Converts between protobuf-ts's `RpcMetadata` (plain strings, `-bin`
 * values base64) and grpc-js's `Metadata`.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js";
import { Code, RegistryError } from "@modelreg/proto";
import type { RpcMetadata } from "@protobuf-ts/runtime-rpc";

/**
 * Headers for one call: `RpcMetadata` as grpc-js metadata. Keys are
 * lowercased; of keys differing only in case the later wins, and
 * `authorization` is sent once (its last value). Throws INVALID_ARGUMENT
 * for a key or value gRPC cannot carry, naming the key only; for
 * `authorization` without a `cause`, which would carry the credential.
 */
export function toGrpcMetadata(meta: RpcMetadata | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (!meta) return metadata;
  const entries = new Map<string, { key: string; value: string | string[] }>();
  for (const [key, value] of Object.entries(meta)) entries.set(key.toLowerCase(), { key, value });
  for (const [name, { key, value }] of entries) {
    try {
      if (name === "authorization") {
        const last = Array.isArray(value) ? value.at(-1) : value;
        if (last !== undefined) metadata.set(name, last);
        continue;
      }
      for (const item of Array.isArray(value) ? value : [value]) {
        if (name.endsWith("-bin")) metadata.add(name, Buffer.from(item, "base64"));
        else metadata.add(name, item);
      }
    } catch (cause) {
      const message = `The header "${key}" cannot be sent as gRPC metadata.`;
      throw new RegistryError(Code.INVALID_ARGUMENT, message, name === "authorization" ? {} : { cause });
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
