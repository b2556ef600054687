import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { getFileDescriptorSet } from "@modelreg/proto";

/**
 * ModelService as a grpc-js user without our packages would load it: proto-loader
 * (protobufjs underneath) with the options grpc's own examples use, here from the
 * committed descriptor set rather than the .proto files, so imports need no paths.
 */
export function loadModelService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(getFileDescriptorSet()), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    modelregistry: { v1: { ModelService: grpc.ServiceClientConstructor } };
  };
  return loaded.modelregistry.v1.ModelService;
}
