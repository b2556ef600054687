import { base64decode } from "@protobuf-ts/runtime";
import { descriptorSetBase64 } from "./gen/descriptor-set";

/**
 * The serialized `google.protobuf.FileDescriptorSet` of the contract: every
 * `modelregistry/v1` file and all of its imports (`google/api/*`,
 * `google/rpc/status.proto`, the well-known types), plus gRPC's
 * `grpc/health/v1` and `grpc/reflection/{v1,v1alpha}` protocols that a
 * registry server also serves, without source info.
 *
 * This is what server reflection must serve, byte for byte, so that clients
 * such as grpcurl can describe and call methods whose messages use
 * well-known types. The same bytes ship as `@modelreg/proto/descriptor-set.binpb`
 * for tools that take a file (`grpcurl -protoset`).
 *
 * Returns a new copy on every call, so callers may keep or change it.
 */
export function getFileDescriptorSet(): Uint8Array {
  return base64decode(descriptorSetBase64);
}
