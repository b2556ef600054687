import {
  CreateModelResponse,
  GetModelResponse,
  ListModelsResponse,
  type Model,
  UpdateModelResponse,
} from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { EncodedModelCache } from "./encoded-cache";

const model = (id: string, etag: string, description = ""): Model => ({
  id,
  name: "bert",
  version: "1",
  framework: "pytorch",
  description,
  tags: ["prod"],
  metadata: { k: "v" },
  artifactUri: "",
  artifactDigest: "",
  etag,
  createTime: { seconds: 1n, nanos: 0 },
  updateTime: { seconds: 2n, nanos: 0 },
});

describe("EncodedModelCache", () => {
  it("applies to the { model } responses only", () => {
    expect(EncodedModelCache.canCache(GetModelResponse)).toBe(true);
    expect(EncodedModelCache.canCache(UpdateModelResponse)).toBe(true);
    expect(EncodedModelCache.canCache(ListModelsResponse)).toBe(false);
  });

  it("encodes exactly as protobuf-ts does, once per (id, etag), shared by the response types", () => {
    const cache = new EncodedModelCache(1 << 20);
    const response = { model: model("a", '"1"') };
    const first = cache.encode(GetModelResponse, response);
    expect(Buffer.from(GetModelResponse.toBinary(response)).equals(first)).toBe(true);
    expect(cache.encode(GetModelResponse, { model: model("a", '"1"') })).toBe(first);
    expect(cache.encode(CreateModelResponse, { model: model("a", '"1"') })).toBe(first);
    // A new revision is a new etag: encoded afresh, with its own content.
    const second = cache.encode(GetModelResponse, { model: model("a", '"2"', "changed") });
    expect(second).not.toBe(first);
    expect(GetModelResponse.fromBinary(second).model?.description).toBe("changed");
  });

  it("stays within its byte budget, dropping the oldest entries; 0 disables it", () => {
    const one = Buffer.from(GetModelResponse.toBinary({ model: model("m0", '"1"') })).length;
    const cache = new EncodedModelCache(one * 3);
    const encoded = Array.from({ length: 5 }, (_, i) =>
      cache.encode(GetModelResponse, { model: model(`m${i}`, '"1"') }),
    );
    expect(cache.encode(GetModelResponse, { model: model("m4", '"1"') })).toBe(encoded[4]);
    expect(cache.encode(GetModelResponse, { model: model("m0", '"1"') })).not.toBe(encoded[0]);
    const off = new EncodedModelCache(0);
    const a = off.encode(GetModelResponse, { model: model("x", '"1"') });
    expect(off.encode(GetModelResponse, { model: model("x", '"1"') })).not.toBe(a);
  });
});
