import { readFileSync } from "node:fs";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { FileDescriptorSet } from "./gen/google/protobuf/descriptor";
import {
  CreateModelRequest,
  getFileDescriptorSet,
  Health,
  Model,
  ModelService,
  ServerReflection,
  ServerReflectionV1alpha,
  Timestamp,
} from "./index";

const committedFile = readFileSync(new URL("../descriptor-set.binpb", import.meta.url));

describe("the FileDescriptorSet", () => {
  it("embedded in the package is the committed descriptor-set.binpb, byte for byte", () => {
    expect(Buffer.from(getFileDescriptorSet()).equals(committedFile)).toBe(true);
  });

  it("hands out a copy, so a caller cannot corrupt what reflection serves", () => {
    const first = getFileDescriptorSet();
    first.fill(0);
    expect(Buffer.from(getFileDescriptorSet()).equals(committedFile)).toBe(true);
  });

  it("is self-contained: every import of every file is in the set", () => {
    const set = FileDescriptorSet.fromBinary(getFileDescriptorSet());
    const names = new Set(set.file.map((f) => f.name));
    expect(names).toContain("modelregistry/v1/model_service.proto");
    expect(names).toContain("google/protobuf/timestamp.proto");
    expect(names).toContain("google/api/annotations.proto");
    expect(names).toContain("grpc/health/v1/health.proto");
    expect(names).toContain("grpc/reflection/v1/reflection.proto");
    expect(names).toContain("grpc/reflection/v1alpha/reflection.proto");
    for (const file of set.file) {
      for (const dependency of file.dependency) {
        expect(names, `${file.name} imports ${dependency}`).toContain(dependency);
      }
    }
  });

  it.each([
    ["modelregistry/v1/model_service.proto", ModelService],
    ["grpc/health/v1/health.proto", Health],
    ["grpc/reflection/v1/reflection.proto", ServerReflection],
    ["grpc/reflection/v1alpha/reflection.proto", ServerReflectionV1alpha],
  ])("%s describes the same service the generated code implements", (fileName, generated) => {
    const set = FileDescriptorSet.fromBinary(getFileDescriptorSet());
    const file = set.file.find((f) => f.name === fileName);
    const service = file?.service.find((s) => `${file.package}.${s.name}` === generated.typeName);
    expect(service, `${generated.typeName} in ${fileName}`).toBeDefined();
    const fromDescriptor = service?.method.map((m) => ({
      name: m.name,
      clientStreaming: m.clientStreaming ?? false,
      serverStreaming: m.serverStreaming ?? false,
    }));
    const fromGenerated = generated.methods.map((m) => ({
      name: m.name,
      clientStreaming: m.clientStreaming,
      serverStreaming: m.serverStreaming,
    }));
    expect(fromDescriptor).toEqual(fromGenerated);
  });

  it("describes google.rpc's error details, which a history entry's refusal packs in Any", () => {
    // A reflection client (buf curl, grpcurl) resolves an Any's type through reflection to print
    // it; without this file it cannot print a ListModelHistory answer holding a refused promotion.
    const set = FileDescriptorSet.fromBinary(getFileDescriptorSet());
    const details = set.file.find((f) => f.name === "google/rpc/error_details.proto");
    expect(details?.messageType.map((m) => m.name)).toEqual(
      expect.arrayContaining(["ErrorInfo", "PreconditionFailure", "BadRequest", "RetryInfo"]),
    );
  });

  it("loads in @grpc/proto-loader (protobuf.js) and lists ModelService with every method", () => {
    const definitions = loadFileDescriptorSetFromBuffer(Buffer.from(getFileDescriptorSet()));
    const service = definitions["modelregistry.v1.ModelService"] as Record<
      string,
      { path: string; requestStream: boolean; responseStream: boolean }
    >;
    expect(Object.keys(service)).toEqual([
      "CreateModel",
      "GetModel",
      "LookupModel",
      "ListModels",
      "BatchGetModels",
      "UpdateModel",
      "DeleteModel",
      "AddModelTags",
      "RemoveModelTags",
      "UpdateModelMetadata",
      "WatchModels",
      "ImportModels",
      "SetModelAlias",
      "GetModelAlias",
      "ListModelAliases",
      "DeleteModelAlias",
      "ListModelHistory",
    ]);
    expect(service.CreateModel?.path).toBe("/modelregistry.v1.ModelService/CreateModel");
    expect(service.WatchModels).toMatchObject({ requestStream: false, responseStream: true });
    expect(service.ImportModels).toMatchObject({ requestStream: true, responseStream: false });
  });

  it("lets another protobuf implementation speak the same wire format", () => {
    const definitions = loadFileDescriptorSetFromBuffer(Buffer.from(getFileDescriptorSet()), {
      longs: String,
      defaults: false,
    });
    const createModel = (
      definitions["modelregistry.v1.ModelService"] as Record<
        string,
        { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): Record<string, unknown> }
      >
    ).CreateModel;
    if (!createModel) throw new Error("CreateModel missing from the descriptor set");

    // protobuf.js -> protobuf-ts
    const bytes = createModel.requestSerialize({
      model: {
        name: "bert",
        version: "1.0.0",
        tags: ["nlp"],
        // protobuf.js loses map-ness when it loads a descriptor set (it sees
        // the synthetic MetadataEntry message; grpc-node#2595), so it writes
        // the map as its wire form: repeated key/value entries.
        metadata: [{ key: "owner", value: "ana" }],
        artifact_uri: "s3://m",
        create_time: { seconds: "1717243200", nanos: 0 },
      },
      request_id: "req-1",
    });
    const decoded = CreateModelRequest.fromBinary(bytes);
    expect(decoded.requestId).toBe("req-1");
    expect(decoded.model).toMatchObject({
      name: "bert",
      version: "1.0.0",
      tags: ["nlp"],
      metadata: { owner: "ana" },
      artifactUri: "s3://m",
    });
    expect(decoded.model?.createTime && Timestamp.toDate(decoded.model.createTime).toISOString()).toBe(
      "2024-06-01T12:00:00.000Z",
    );

    // protobuf-ts -> protobuf.js
    const back = createModel.requestDeserialize(
      Buffer.from(
        CreateModelRequest.toBinary({ model: Model.create({ name: "gpt", version: "2" }), requestId: "r" }),
      ),
    );
    expect(back).toMatchObject({ model: { name: "gpt", version: "2" }, request_id: "r" });
  });
});
