import * as grpc from "@grpc/grpc-js";
import { fixtureModel, MODEL_ID } from "../fixture";
import { loadModelService } from "./proto-loader";

const { artifactUri, createTime, updateTime, metadata, ...plain } = fixtureModel;

/**
 * The fixture in proto-loader's object shape: keepCase names, longs as
 * strings, and the map as its repeated entries (loaded from a descriptor set,
 * protobufjs sees `map<string,string>` as `repeated MetadataEntry`; same bytes).
 */
const model = {
  ...plain,
  artifact_uri: artifactUri,
  metadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  create_time: { seconds: String(createTime?.seconds), nanos: createTime?.nanos },
  update_time: { seconds: String(updateTime?.seconds), nanos: updateTime?.nanos },
};

/** The obvious alternative: a grpc-js server with proto-loader and an in-memory map. */
export async function startGrpcJs(port: number): Promise<void> {
  const models = new Map([[MODEL_ID, model]]);
  const server = new grpc.Server();
  server.addService(loadModelService().service, {
    GetModel(call: grpc.ServerUnaryCall<{ id: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const found = models.get(call.request.id);
      if (found) callback(null, { model: found });
      else callback({ code: grpc.status.NOT_FOUND, details: "not found" });
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}
