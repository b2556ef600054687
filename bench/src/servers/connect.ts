import http2 from "node:http2";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { getFileDescriptorSet } from "@modelreg/proto";
import { fixtureModel, MODEL_ID } from "../fixture";

/**
 * Connect (connect-node on plain h2c, gRPC protocol enabled as by default),
 * with the service descriptor built at run time from the committed
 * descriptor set instead of protobuf-es generated code: same wire behaviour.
 */
export async function startConnect(port: number): Promise<void> {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, getFileDescriptorSet()));
  const service = registry.getService("modelregistry.v1.ModelService");
  if (!service) throw new Error("ModelService is missing from the descriptor set");
  const models = new Map([[MODEL_ID, fixtureModel]]);
  const handler = connectNodeAdapter({
    routes(router) {
      // The descriptor is untyped (no generated code), so the implementation is typed by hand.
      const implementation = {
        getModel(request: { id: string }) {
          const model = models.get(request.id);
          if (!model) throw new ConnectError("not found", Code.NotFound);
          return { model };
        },
      };
      router.service(service, implementation as unknown as ServiceImpl<typeof service>);
    },
  });
  const server = http2.createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
}
