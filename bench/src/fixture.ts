import { GetModelRequest, GetModelResponse, type Model } from "@modelreg/proto";
import type { ModelRecord } from "@modelreg/registry-server";

/**
 * The one model every contender serves. Its GetModelResponse is about 220
 * bytes of protobuf, the size the figures were measured with.
 */
export const MODEL_ID = "0190f3a2-7c1e-7b3a-9d41-5e2f8c6a1b07";

const createMicros = 1_720_000_000_000_000;

export const modelRecord: ModelRecord = {
  id: MODEL_ID,
  name: "resnet50-catalog-classifier",
  version: "1.4.2",
  framework: "pytorch",
  description: "Image classifier fine-tuned on the product catalogue.",
  tags: ["production", "vision"],
  metadata: { owner: "ml-platform", dataset: "catalog-2024-q3" },
  artifactUri: "s3://models/resnet50-catalog-classifier/1.4.2/model.pt",
  artifactDigest: "",
  lineage: { runUri: "", codeRevision: "", datasetUris: [], parentModelIds: [] },
  revision: 3,
  createTime: createMicros,
  updateTime: createMicros + 86_400_000_000,
};

function timestamp(micros: number) {
  const seconds = Math.floor(micros / 1_000_000);
  return { seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}

/** The fixture as a protobuf-ts message, as the registry sends it. */
export const fixtureModel: Model = {
  id: modelRecord.id,
  name: modelRecord.name,
  version: modelRecord.version,
  framework: modelRecord.framework,
  description: modelRecord.description,
  tags: [...modelRecord.tags],
  metadata: { ...modelRecord.metadata },
  artifactUri: modelRecord.artifactUri,
  artifactDigest: modelRecord.artifactDigest,
  etag: `"${modelRecord.revision}"`,
  createTime: timestamp(modelRecord.createTime),
  updateTime: timestamp(modelRecord.updateTime),
};

/** Proto3 JSON of the fixture: what the gateway answers and what Express+JSON serves. */
export const fixtureJson = GetModelResponse.toJson({ model: fixtureModel }) as { model: object };

/** A message framed for gRPC: 1 byte "not compressed", 4 bytes big-endian length, the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** The framed GetModelResponse the bare-HTTP/2 ceiling answers every call with. */
export const fixedResponseFrame = (): Buffer => grpcFrame(GetModelResponse.toBinary({ model: fixtureModel }));

/** The framed GetModelRequest every gRPC load generator sends. */
export const getModelRequestFrame = (): Buffer => grpcFrame(GetModelRequest.toBinary({ id: MODEL_ID }));

export const GET_MODEL_PATH = "/modelregistry.v1.ModelService/GetModel";
