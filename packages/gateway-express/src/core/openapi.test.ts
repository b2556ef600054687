import {
  Any,
  Code,
  GetModelResponse,
  HistoryEntry,
  ImportModelsResponse,
  ImportModelsResult,
  ImportOutcome,
  ListModelAliasesResponse,
  ListModelHistoryResponse,
  ListModelsResponse,
  Model,
  ModelAlias,
  ModelEvent,
  ModelEventType,
  ModelLineage,
  PreconditionFailure,
  RegistryError,
  SetModelAliasResponse,
  Status,
  Timestamp,
  WatchModelsResponse,
} from "@modelreg/proto";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { errorBody } from "./http-status";
import { buildOpenApiDocument, openApiDocumentOf } from "./openapi";
import { buildRoutes, type Route } from "./routes";
import { toResponseJson } from "./transcode";

type Json = Record<string, unknown>;

const routes = buildRoutes();
const doc = openApiDocumentOf(routes);

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `value[key]` as an object, failing the test if it is not one. */
function obj(value: unknown, ...keys: string[]): Json {
  let node = value;
  for (const key of keys) {
    if (!isObject(node)) throw new Error(`not an object at ${key} in ${keys.join(" > ")}`);
    node = node[key];
  }
  if (!isObject(node)) throw new Error(`not an object: ${keys.join(" > ")}`);
  return node;
}

/** Resolves a local `$ref` (`#/a/b~1c`). */
function resolveRef(ref: string): unknown {
  if (!ref.startsWith("#/")) throw new Error(`not a local $ref: ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function collectRefs(node: unknown, into: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) collectRefs(item, into);
  else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") into.push(value);
      else collectRefs(value, into);
    }
  }
  return into;
}

const operationOf = (route: Route): Json => obj(doc, "paths", route.template, route.httpMethod.toLowerCase());
const route = (rpc: string): Route => {
  const found = routes.find((r) => r.rpc === rpc);
  if (!found) throw new Error(`no route for ${rpc}`);
  return found;
};
const parametersOf = (rpc: string): Json[] => {
  const parameters = operationOf(route(rpc)).parameters;
  return Array.isArray(parameters) ? parameters.filter(isObject) : [];
};
const parameter = (rpc: string, name: string, location: string): Json => {
  const found = parametersOf(rpc).find((p) => p.name === name && p.in === location);
  if (!found) throw new Error(`${rpc} has no ${location} parameter ${name}`);
  return found;
};
const schemaOf = (name: string): Json => obj(doc, "components", "schemas", name);
const modelRef = "#/components/schemas/modelregistry.v1.Model";

/**
 * A small JSON Schema checker for the keywords the document uses. It treats
 * `properties` without `additionalProperties` as closed, so a property name
 * that differs from what protobuf-ts writes is caught.
 */
function violations(schema: unknown, value: unknown, at = "$"): string[] {
  if (schema === true || schema === undefined) return [];
  if (!isObject(schema)) return [`${at}: bad schema`];
  const errors: string[] = [];
  if (typeof schema.$ref === "string") errors.push(...violations(resolveRef(schema.$ref), value, at));
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((s) => violations(s, value, at).length === 0)) {
    errors.push(`${at}: matches no anyOf branch`);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual =
      value === null
        ? "null"
        : Array.isArray(value)
          ? "array"
          : typeof value === "number" && Number.isInteger(value)
            ? "integer"
            : typeof value;
    if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) {
      return [...errors, `${at}: ${JSON.stringify(value)} is not ${types.join("|")}`];
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: ${value} not in enum`);
  if (typeof value === "string") {
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push(`${at}: "${value}" does not match ${schema.pattern}`);
    }
    if (
      schema.format === "date-time" &&
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)
    ) {
      errors.push(`${at}: "${value}" is not an RFC 3339 date-time`);
    }
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      errors.push(...violations(schema.items, item, `${at}[${i}]`));
    });
  }
  if (isObject(value)) {
    const properties = isObject(schema.properties) ? schema.properties : undefined;
    for (const [key, item] of Object.entries(value)) {
      if (properties && key in properties) errors.push(...violations(properties[key], item, `${at}.${key}`));
      else if (isObject(schema.additionalProperties)) {
        errors.push(...violations(schema.additionalProperties, item, `${at}.${key}`));
      } else if (properties && schema.additionalProperties !== true) errors.push(`${at}.${key}: unexpected`);
    }
    if (Array.isArray(schema.required)) {
      for (const key of schema.required) if (!(key in value)) errors.push(`${at}.${key}: missing`);
    }
  }
  return errors;
}

/** The schema of the 200 response of a route, for a content type. */
const responseSchema = (rpc: string, type = "application/json") =>
  obj(operationOf(route(rpc)), "responses", "200", "content", type).schema;
const requestSchema = (rpc: string, type = "application/json") =>
  obj(operationOf(route(rpc)), "requestBody", "content", type).schema;

const model = Model.create({
  id: "3f1c",
  name: "bert-base",
  version: "1.0.0",
  framework: "pytorch",
  description: "A model",
  tags: ["nlp", "production"],
  metadata: { owner: "ana" },
  artifactUri: "s3://bucket/bert/1.0.0/model.onnx",
  etag: '"3"',
  createTime: Timestamp.fromDate(new Date("2024-06-01T12:00:00.250Z")),
  updateTime: Timestamp.fromDate(new Date("2024-06-02T08:30:00Z")),
});

describe("buildOpenApiDocument", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result).toEqual({ valid: true });
    expect(validator.version).toBe("3.1");
    expect(doc.openapi).toBe("3.1.0");
  });

  it("has one operation per route, with the RPC as operationId", () => {
    const operations = Object.entries(obj(doc, "paths")).flatMap(([path, item]) =>
      Object.entries(obj(item)).map(
        ([method, op]) => `${method.toUpperCase()} ${path} ${obj(op).operationId}`,
      ),
    );
    expect(operations.sort()).toEqual(routes.map((r) => `${r.httpMethod} ${r.template} ${r.rpc}`).sort());
    expect(operations).toHaveLength(17);
    expect(operationOf(route("AddModelTags"))).toMatchObject({ operationId: "AddModelTags" });
    expect(obj(doc, "paths")).toHaveProperty(["/api/v1/models/{id}:addTags", "post"]);
    expect(operationOf(route("BatchGetModels")).summary).toBe("Batch get models");
  });

  it("declares exactly the template's variables as required path parameters", () => {
    for (const r of routes) {
      const names = [...r.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = parametersOf(r.rpc).filter((p) => p.in === "path");
      expect(declared.map((p) => p.name)).toEqual(names);
      for (const p of declared) expect(p.required).toBe(true);
    }
  });

  it("POST /api/v1/models takes a Model and returns one", () => {
    const op = operationOf(route("CreateModel"));
    expect(obj(op, "requestBody").required).toBe(true);
    expect(requestSchema("CreateModel")).toEqual({ $ref: modelRef, required: ["name", "version"] });
    expect(responseSchema("CreateModel")).toEqual({ $ref: modelRef });
    expect(parameter("CreateModel", "requestId", "query").schema).toEqual({ type: "string" });
    expect(parameter("CreateModel", "Idempotency-Key", "header").required).toBe(false);
    expect(obj(op, "responses", "200", "headers")).toHaveProperty("ETag");
  });

  it("PATCH /api/v1/models/{model.id} binds model.id and takes updateMask", () => {
    expect(parameter("UpdateModel", "model.id", "path")).toMatchObject({
      required: true,
      schema: { type: "string" },
    });
    expect(parameter("UpdateModel", "updateMask", "query").schema).toMatchObject({ type: "string" });
    // A partial update (AIP-134): the Model's REQUIRED fields are not required here.
    expect(requestSchema("UpdateModel")).toEqual({ $ref: modelRef });
    expect(responseSchema("UpdateModel")).toEqual({ $ref: modelRef });
    expect(parameter("UpdateModel", "If-Match", "header").description).toContain("model.etag");
  });

  it("GET /api/v1/models takes the paging, filter and order parameters", () => {
    expect(parameter("ListModels", "pageSize", "query").schema).toEqual({ type: "integer", format: "int32" });
    expect(parameter("ListModels", "pageToken", "query").schema).toEqual({ type: "string" });
    expect(parameter("ListModels", "filter", "query").schema).toEqual({ type: "string" });
    expect(parameter("ListModels", "orderBy", "query").schema).toEqual({ type: "string" });
    expect(parametersOf("ListModels").map((p) => p.name)).toEqual([
      "pageSize",
      "pageToken",
      "filter",
      "orderBy",
    ]);
    expect(operationOf(route("ListModels")).requestBody).toBeUndefined();
  });

  it("GET /api/v1/models:batchGet takes ids as an exploded array", () => {
    expect(parameter("BatchGetModels", "ids", "query")).toEqual({
      name: "ids",
      in: "query",
      required: true,
      schema: { type: "array", items: { type: "string" } },
      style: "form",
      explode: true,
    });
    expect(parameter("LookupModel", "name", "query").required).toBe(true);
    expect(parameter("DeleteModel", "etag", "query").required).toBeUndefined();
  });

  it("takes no query parameters with body *, and leaves path fields out of the body", () => {
    for (const rpc of ["AddModelTags", "RemoveModelTags", "UpdateModelMetadata", "ImportModels"]) {
      expect(parametersOf(rpc).filter((p) => p.in === "query")).toEqual([]);
    }
    expect(requestSchema("AddModelTags")).toEqual({
      type: "object",
      properties: { tags: { type: "array", items: { type: "string" } }, etag: { type: "string" } },
      required: ["tags"],
    });
    const metadata = obj(requestSchema("UpdateModelMetadata"), "properties");
    expect(Object.keys(metadata)).toEqual(["set", "removeKeys", "etag"]);
    expect(metadata.set).toEqual({ type: "object", additionalProperties: { type: "string" } });
  });

  it("the alias routes: alias in the path, name in the query, the rest in PUT's body", () => {
    expect(obj(doc, "paths", "/api/v1/aliases/{alias}")).toHaveProperty("put");
    expect(parametersOf("SetModelAlias").map((p) => [p.name, p.in])).toEqual([
      ["alias", "path"],
      ["Idempotency-Key", "header"],
    ]);
    expect(obj(operationOf(route("SetModelAlias")), "requestBody").required).toBe(true);
    expect(requestSchema("SetModelAlias")).toEqual({
      type: "object",
      properties: {
        name: { type: "string" },
        version: { type: "string" },
        expectedVersion: { type: "string" },
        requestId: { type: "string" },
      },
      required: ["name", "version"],
    });
    const aliasRef = { $ref: "#/components/schemas/modelregistry.v1.ModelAlias" };
    expect(responseSchema("SetModelAlias")).toEqual(aliasRef);
    expect(responseSchema("GetModelAlias")).toEqual(aliasRef);
    expect(obj(operationOf(route("GetModelAlias")), "responses", "200", "headers")).toHaveProperty("ETag");
    expect(parametersOf("GetModelAlias").map((p) => [p.name, p.in, p.required])).toEqual([
      ["alias", "path", true],
      ["name", "query", true],
    ]);
    expect(parametersOf("DeleteModelAlias").map((p) => [p.name, p.in])).toEqual([
      ["alias", "path"],
      ["name", "query"],
      ["expectedVersion", "query"],
    ]);
    expect(parametersOf("ListModelAliases").map((p) => p.name)).toEqual(["name", "pageSize", "pageToken"]);
    expect(parameter("ListModelAliases", "name", "query").required).toBeUndefined();
    expect(parametersOf("ListModelHistory").map((p) => p.name)).toEqual([
      "name",
      "alias",
      "modelId",
      "filter",
      "pageSize",
      "pageToken",
    ]);
    expect(parameter("LookupModel", "alias", "query").schema).toEqual({ type: "string" });
    expect(parameter("LookupModel", "readTime", "query").schema).toMatchObject({ format: "date-time" });
    expect(parameter("DeleteModel", "force", "query").schema).toEqual({ type: "boolean" });
  });

  it("documents X-Modelreg-Revision: a response header of every write, a request header of the cached reads", () => {
    const writes = routes.filter((r) => !r.serverStreaming && r.method.idempotency !== "NO_SIDE_EFFECTS");
    expect(writes.map((r) => r.rpc).sort()).toEqual([
      "AddModelTags",
      "CreateModel",
      "DeleteModel",
      "DeleteModelAlias",
      "ImportModels",
      "RemoveModelTags",
      "SetModelAlias",
      "UpdateModel",
      "UpdateModelMetadata",
    ]);
    for (const write of writes) {
      expect(
        obj(operationOf(write), "responses", "200", "headers")["X-Modelreg-Revision"],
        write.rpc,
      ).toEqual({
        $ref: "#/components/headers/X-Modelreg-Revision",
      });
    }
    expect(obj(doc, "components", "headers", "X-Modelreg-Revision").description).toContain(
      "consistency token",
    );
    const tokenTakers = routes.filter((r) =>
      parametersOf(r.rpc).some((p) => p.name === "X-Modelreg-Revision"),
    );
    expect(tokenTakers.map((r) => r.rpc)).toEqual(["GetModel", "LookupModel", "BatchGetModels"]);
    for (const read of tokenTakers) {
      expect(parameter(read.rpc, "X-Modelreg-Revision", "header")).toMatchObject({
        required: false,
        schema: { type: "string", pattern: "^[0-9]{1,19}$" },
      });
      const headers = operationOf(read).responses as Json;
      expect(obj(headers, "200").headers ?? {}).not.toHaveProperty("X-Modelreg-Revision");
    }
  });

  it("describes ModelAlias, HistoryEntry and ModelLineage", () => {
    const alias = obj(schemaOf("modelregistry.v1.ModelAlias"), "properties");
    expect(Object.keys(alias)).toEqual([
      "name",
      "alias",
      "version",
      "modelId",
      "etag",
      "updateTime",
      "updatedBy",
    ]);
    for (const key of ["modelId", "etag", "updateTime", "updatedBy"])
      expect(obj(alias, key).readOnly).toBe(true);
    const entry = obj(schemaOf("modelregistry.v1.HistoryEntry"), "properties");
    expect(Object.keys(entry)).toEqual([
      "revision",
      "commitTime",
      "actor",
      "requestId",
      "type",
      "before",
      "after",
      "aliasBefore",
      "aliasAfter",
      "refusal",
    ]);
    expect(entry.after).toEqual({ $ref: modelRef });
    expect(entry.aliasAfter).toEqual({ $ref: "#/components/schemas/modelregistry.v1.ModelAlias" });
    expect(entry.type).toEqual({ $ref: "#/components/schemas/modelregistry.v1.ModelEventType" });
    expect(entry.refusal).toEqual({ $ref: "#/components/schemas/google.rpc.Status" });
    expect(obj(schemaOf("modelregistry.v1.ModelLineage"), "properties")).toEqual({
      runUri: { type: "string" },
      codeRevision: { type: "string" },
      datasetUris: { type: "array", items: { type: "string" } },
      parentModelIds: { type: "array", items: { type: "string" } },
    });
    const sse = obj(operationOf(route("WatchModels")), "responses", "200", "content", "text/event-stream");
    expect(obj(sse, "schema").description).toContain("`alias_set`, `alias_deleted` or `left_filter`");
    expect(obj(doc, "components", "responses", "Conflict").description).toContain("ALIAS_CHANGED");
    expect(obj(doc, "components", "responses", "BadRequest").description).toContain("PreconditionFailure");
  });

  it("maps Model's fields to proto3 JSON types with field behaviors", () => {
    const properties = obj(schemaOf("modelregistry.v1.Model"), "properties");
    expect(Object.keys(properties)).toEqual([
      "id",
      "name",
      "version",
      "framework",
      "description",
      "tags",
      "metadata",
      "artifactUri",
      "etag",
      "createTime",
      "updateTime",
      "artifactDigest",
      "lineage",
    ]);
    expect(properties.lineage).toEqual({ $ref: "#/components/schemas/modelregistry.v1.ModelLineage" });
    expect(properties.id).toEqual({ type: "string", readOnly: true });
    const createTime = obj(properties, "createTime");
    expect(createTime.format).toBe("date-time");
    expect(createTime.readOnly).toBe(true);
    expect(createTime.type).toContain("string");
    expect(properties.etag).toEqual({ type: "string" });
    expect(schemaOf("modelregistry.v1.Model").required).toBeUndefined();
    expect(obj(schemaOf("modelregistry.v1.WatchModelsResponse"), "properties").revision).toMatchObject({
      type: "string",
      format: "int64",
    });
    expect(schemaOf("modelregistry.v1.ModelEventType")).toEqual({
      type: "string",
      enum: [
        "MODEL_EVENT_TYPE_UNSPECIFIED",
        "MODEL_EVENT_TYPE_CREATED",
        "MODEL_EVENT_TYPE_UPDATED",
        "MODEL_EVENT_TYPE_DELETED",
        "MODEL_EVENT_TYPE_ALIAS_SET",
        "MODEL_EVENT_TYPE_ALIAS_DELETED",
        "MODEL_EVENT_TYPE_LEFT_FILTER",
      ],
    });
  });

  it("names component schemas by full proto type name, and only the referenced ones", () => {
    const names = Object.keys(obj(doc, "components", "schemas"));
    expect(names).toEqual([
      "Error",
      "google.protobuf.Any",
      "google.rpc.Status",
      "modelregistry.v1.BatchGetModelsResponse",
      "modelregistry.v1.DeleteModelAliasResponse",
      "modelregistry.v1.DeleteModelResponse",
      "modelregistry.v1.HistoryEntry",
      "modelregistry.v1.ImportModelsResponse",
      "modelregistry.v1.ImportModelsResult",
      "modelregistry.v1.ImportOutcome",
      "modelregistry.v1.ListModelAliasesResponse",
      "modelregistry.v1.ListModelHistoryResponse",
      "modelregistry.v1.ListModelsResponse",
      "modelregistry.v1.Model",
      "modelregistry.v1.ModelAlias",
      "modelregistry.v1.ModelEvent",
      "modelregistry.v1.ModelEventType",
      "modelregistry.v1.ModelLineage",
      "modelregistry.v1.WatchModelsResponse",
    ]);
    const referenced = new Set(collectRefs(doc));
    for (const name of names) expect(referenced).toContain(`#/components/schemas/${name}`);
  });

  it("resolves every $ref within the document", () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of new Set(refs)) expect(resolveRef(ref), ref).toBeDefined();
  });

  it("shares one error response shape", () => {
    const op = operationOf(route("GetModel"));
    for (const status of ["400", "404", "409", "429", "500", "503", "default"]) {
      const ref = obj(op, "responses", status).$ref;
      expect(typeof ref).toBe("string");
      expect(obj(resolveRef(String(ref)), "content", "application/json").schema).toEqual({
        $ref: "#/components/schemas/Error",
      });
    }
    expect(obj(op, "responses")).not.toHaveProperty("415");
    expect(obj(operationOf(route("CreateModel")), "responses")).toHaveProperty("415");
    const body = errorBody(
      new RegistryError(Code.INVALID_ARGUMENT, "Invalid request: name: is required", {
        violations: [{ field: "name", description: "is required" }],
      }),
    );
    expect(violations({ $ref: "#/components/schemas/Error" }, body)).toEqual([]);
    expect(violations({ $ref: "#/components/schemas/Error" }, { error: { code: 400 } })).not.toEqual([]);
  });

  it("describes the streaming routes", () => {
    const watch = operationOf(route("WatchModels"));
    expect(watch.description).toMatch(/stream/i);
    expect(Object.keys(obj(watch, "responses", "200", "content"))).toEqual([
      "application/x-ndjson",
      "text/event-stream",
    ]);
    expect(responseSchema("WatchModels", "application/x-ndjson")).toEqual({
      $ref: "#/components/schemas/modelregistry.v1.WatchModelsResponse",
    });
    expect(parameter("WatchModels", "afterRevision", "query").schema).toMatchObject({
      type: "string",
      format: "int64",
    });
    expect(parameter("WatchModels", "Last-Event-ID", "header").schema).toEqual({
      type: "string",
      pattern: "^[0-9]+$",
    });
    expect(obj(watch, "responses", "200", "headers")).toHaveProperty("X-Accel-Buffering");

    const importOp = operationOf(route("ImportModels"));
    expect(importOp.description).toMatch(/stream/i);
    expect(Object.keys(obj(importOp, "requestBody", "content"))).toEqual(["application/x-ndjson"]);
    expect(obj(importOp, "responses", "415").description).toMatch(/application\/x-ndjson/);
    expect(requestSchema("ImportModels", "application/x-ndjson")).toEqual({
      type: "object",
      properties: {
        model: { $ref: modelRef, required: ["name", "version"] },
        requestId: { type: "string" },
      },
      required: ["model"],
    });
    expect(responseSchema("ImportModels")).toEqual({
      $ref: "#/components/schemas/modelregistry.v1.ImportModelsResponse",
    });
  });

  it("matches the JSON the gateway writes", () => {
    const check = (rpc: string, response: object, type?: string) =>
      violations(responseSchema(rpc, type), toResponseJson(route(rpc), response));
    expect(check("GetModel", GetModelResponse.create({ model }))).toEqual([]);
    expect(check("GetModel", GetModelResponse.create({ model: Model.create() }))).toEqual([]);
    expect(check("ListModels", ListModelsResponse.create({ models: [model], nextPageToken: "t" }))).toEqual(
      [],
    );
    const event = ModelEvent.create({
      type: ModelEventType.UPDATED,
      model,
      modelId: model.id,
      revision: 12345678901234n,
      commitTime: Timestamp.fromDate(new Date("2024-06-02T08:30:00Z")),
    });
    expect(
      check(
        "WatchModels",
        WatchModelsResponse.create({ event, revision: 12345678901234n }),
        "application/x-ndjson",
      ),
    ).toEqual([]);
    // A progress notification: no event, left out.
    expect(
      check("WatchModels", WatchModelsResponse.create({ revision: 7n }), "application/x-ndjson"),
    ).toEqual([]);
    const summary = ImportModelsResponse.create({
      createdCount: 1,
      alreadyExistsCount: 1,
      failedCount: 1,
      results: [
        ImportModelsResult.create({ index: 1, outcome: ImportOutcome.ALREADY_EXISTS, modelId: "x" }),
        ImportModelsResult.create({
          index: 2,
          outcome: ImportOutcome.FAILED,
          error: Status.create({ code: Code.INVALID_ARGUMENT, message: "bad name" }),
        }),
      ],
    });
    expect(check("ImportModels", summary)).toEqual([]);
    const alias = ModelAlias.create({
      name: "bert-base",
      alias: "champion",
      version: "1.0.0",
      modelId: model.id,
      etag: '"7"',
      updateTime: Timestamp.fromDate(new Date("2024-06-03T10:00:00Z")),
      updatedBy: "ana",
    });
    expect(check("SetModelAlias", SetModelAliasResponse.create({ alias }))).toEqual([]);
    expect(check("ListModelAliases", ListModelAliasesResponse.create({ aliases: [alias] }))).toEqual([]);
    const refusal = new RegistryError(Code.FAILED_PRECONDITION, "needs evidence", {
      reason: "PROMOTION_REQUIREMENTS_UNMET",
      details: [
        Any.pack(
          PreconditionFailure.create({
            violations: [{ type: "METADATA", subject: "eval.passed", description: "must be true" }],
          }),
          PreconditionFailure,
        ),
      ],
    }).toStatus();
    const entries = [
      HistoryEntry.create({
        revision: 9n,
        commitTime: alias.updateTime,
        actor: "ana",
        requestId: "r-1",
        type: ModelEventType.ALIAS_SET,
        after: {
          ...model,
          lineage: ModelLineage.create({ runUri: "mlflow://runs/1", datasetUris: ["s3://b/d"] }),
        },
        aliasBefore: alias,
        aliasAfter: { ...alias, version: "1.1.0" },
        refusal,
      }),
      HistoryEntry.create({ revision: 8n, type: ModelEventType.UPDATED, before: model, after: model }),
    ];
    expect(
      check("ListModelHistory", ListModelHistoryResponse.create({ entries, nextPageToken: "t" })),
    ).toEqual([]);
    // The checker does catch a mismatch.
    expect(
      violations(responseSchema("GetModel"), { ...obj(Model.toJson(model)), createTime: 5 }),
    ).not.toEqual([]);
  });

  it("checks request bodies against REQUIRED fields", () => {
    const create = requestSchema("CreateModel");
    expect(violations(create, { name: "bert", version: "1", tags: ["a"] })).toEqual([]);
    expect(violations(create, { name: "bert" })).toEqual(["$.version: missing"]);
    expect(violations(requestSchema("UpdateModel"), { description: "new" })).toEqual([]);
    expect(violations(requestSchema("AddModelTags"), { etag: '"3"' })).toEqual(["$.tags: missing"]);
  });

  it("is deterministic and takes the info it is given", () => {
    const again = buildOpenApiDocument();
    expect(again).toEqual(doc);
    expect(JSON.stringify(again)).toBe(JSON.stringify(doc));
    const custom = buildOpenApiDocument({
      title: "Registry",
      version: "1.2.3",
      serverUrl: "https://registry.example.com",
    });
    expect(custom.info).toMatchObject({ title: "Registry", version: "1.2.3" });
    expect(custom.servers).toEqual([{ url: "https://registry.example.com" }]);
    expect(doc.servers).toBeUndefined();
  });
});
