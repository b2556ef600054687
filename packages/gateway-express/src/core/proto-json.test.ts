import {
  Code,
  GetModelResponse,
  ImportModelsResponse,
  ImportOutcome,
  Model,
  RegistryError,
  WatchModelsResponse,
} from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { messageToJson } from "./proto-json";

describe("messageToJson", () => {
  it("leaves an unset message field out instead of writing null", () => {
    expect(messageToJson(WatchModelsResponse, WatchModelsResponse.create({ revision: 41n }))).toEqual({
      revision: "41",
    });
  });

  it("keeps scalar, list and map defaults", () => {
    const json = messageToJson(
      GetModelResponse,
      GetModelResponse.create({ model: Model.create({ id: "m" }) }),
    );
    expect(json).toEqual({
      model: {
        id: "m",
        name: "",
        version: "",
        framework: "",
        description: "",
        tags: [],
        metadata: {},
        artifactUri: "",
        etag: "",
        artifactDigest: "",
      },
    });
    expect(messageToJson(GetModelResponse, GetModelResponse.create())).toEqual({});
  });

  it("cleans repeated messages and the messages packed in google.protobuf.Any details", () => {
    const status = new RegistryError(Code.INVALID_ARGUMENT, "Invalid request: model.name: is required", {
      violations: [{ field: "model.name", description: "is required" }],
    }).toStatus();
    const summary = ImportModelsResponse.create({
      failedCount: 1,
      alreadyExistsCount: 1,
      results: [
        { index: 0, outcome: ImportOutcome.FAILED, error: status },
        { index: 1, outcome: ImportOutcome.ALREADY_EXISTS, modelId: "x" },
      ],
    });
    const json = messageToJson(ImportModelsResponse, summary);
    expect(JSON.stringify(json)).not.toContain("null");
    expect(json.results).toEqual([
      {
        index: 0,
        outcome: "IMPORT_OUTCOME_FAILED",
        modelId: "",
        error: {
          code: Code.INVALID_ARGUMENT,
          message: "Invalid request: model.name: is required",
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.BadRequest",
              fieldViolations: [{ field: "model.name", description: "is required", reason: "" }],
            },
          ],
        },
      },
      { index: 1, outcome: "IMPORT_OUTCOME_ALREADY_EXISTS", modelId: "x" },
    ]);
  });
});
