import * as grpc from "@grpc/grpc-js";
import {
  type CreateModelRequest,
  CreateModelResponse,
  type GetModelRequest,
  GetModelResponse,
  getFileDescriptorSet,
  Model,
  ModelService,
} from "@modelreg/proto";
import { BinaryReader, MessageType, ScalarType, WireType } from "@protobuf-ts/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeFor, runBufCurl } from "../../../test-support/buf-curl";
import { startTestRegistry } from "../../../test-support/registry";
import { addReflectionService } from "./reflection";

// ---------------------------------------------------------------- a test server

/** ModelService with two real methods (GetModel, CreateModel), just enough to call through reflection. */
function addTinyModelService(server: grpc.Server): void {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of ModelService.methods) {
    if (method.name !== "GetModel" && method.name !== "CreateModel") continue;
    definition[method.name] = {
      path: `/${ModelService.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: object) => Buffer.from(method.I.toBinary(value)),
      requestDeserialize: (bytes: Buffer) => method.I.fromBinary(bytes),
      responseSerialize: (value: object) => Buffer.from(method.O.toBinary(value)),
      responseDeserialize: (bytes: Buffer) => method.O.fromBinary(bytes),
    };
  }
  const getModel: grpc.handleUnaryCall<GetModelRequest, GetModelResponse> = (call, callback) => {
    const model = Model.create({
      id: call.request.id,
      name: "fixed",
      version: "1.0.0",
      metadata: { owner: "team-a" },
      createTime: { seconds: 1_700_000_000n, nanos: 0 },
    });
    callback(null, GetModelResponse.create({ model }));
  };
  const createModel: grpc.handleUnaryCall<CreateModelRequest, CreateModelResponse> = (call, callback) => {
    callback(null, CreateModelResponse.create({ model: { ...Model.create(call.request.model), id: "m-1" } }));
  };
  server.addService(definition, {
    GetModel: getModel,
    CreateModel: createModel,
  } as grpc.UntypedServiceImplementation);
}

let server: grpc.Server;
let address: string;

beforeAll(async () => {
  server = new grpc.Server();
  addTinyModelService(server);
  addReflectionService(server, {
    fileDescriptorSet: getFileDescriptorSet(),
    services: () => [ModelService.typeName],
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

// ---------------------------------------------------------------- the descriptor set, independently

/** File name -> original bytes, and file name -> imports, of the committed descriptor set. */
function splitDescriptorSet(set: Uint8Array) {
  const files = new Map<string, Uint8Array>();
  const imports = new Map<string, string[]>();
  const reader = new BinaryReader(set);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no !== 1) {
      reader.skip(wireType);
      continue;
    }
    const bytes = reader.bytes().slice();
    const file = new BinaryReader(bytes);
    let name = "";
    const deps: string[] = [];
    while (file.pos < file.len) {
      const [fno, fwt] = file.tag();
      if (fno === 1) name = file.string();
      else if (fno === 3) deps.push(file.string());
      else file.skip(fwt);
    }
    files.set(name, bytes);
    imports.set(name, deps);
  }
  return { files, imports };
}

const descriptorSet = splitDescriptorSet(getFileDescriptorSet());

function closure(file: string): Set<string> {
  const out = new Set<string>();
  const visit = (name: string) => {
    if (out.has(name)) return;
    out.add(name);
    for (const dep of descriptorSet.imports.get(name) ?? []) visit(dep);
  };
  visit(file);
  return out;
}

/** The `name` of a serialized FileDescriptorProto. */
function fileName(bytes: Uint8Array): string {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === 1 && wireType === WireType.LengthDelimited) return reader.string();
    reader.skip(wireType);
  }
  return "";
}

// ---------------------------------------------------------------- a reflection client, independently

interface Req {
  host?: string;
  messageRequest:
    | { oneofKind: "fileByFilename"; fileByFilename: string }
    | { oneofKind: "fileContainingSymbol"; fileContainingSymbol: string }
    | {
        oneofKind: "fileContainingExtension";
        fileContainingExtension: { containingType: string; extensionNumber: number };
      }
    | { oneofKind: "allExtensionNumbersOfType"; allExtensionNumbersOfType: string }
    | { oneofKind: "listServices"; listServices: string };
}
interface Resp {
  validHost: string;
  originalRequest?: Req;
  messageResponse:
    | { oneofKind: "fileDescriptorResponse"; fileDescriptorResponse: { fileDescriptorProto: Uint8Array[] } }
    | {
        oneofKind: "allExtensionNumbersResponse";
        allExtensionNumbersResponse: { baseTypeName: string; extensionNumber: number[] };
      }
    | { oneofKind: "listServicesResponse"; listServicesResponse: { service: { name: string }[] } }
    | { oneofKind: "errorResponse"; errorResponse: { errorCode: number; errorMessage: string } }
    | { oneofKind: undefined };
}

const S = ScalarType;
const ExtReq = new MessageType<object>("t.ExtensionRequest", [
  { no: 1, name: "containing_type", kind: "scalar", T: S.STRING },
  { no: 2, name: "extension_number", kind: "scalar", T: S.INT32 },
]);
const ReqType = new MessageType<Req>("t.Req", [
  { no: 1, name: "host", kind: "scalar", T: S.STRING },
  { no: 3, name: "file_by_filename", kind: "scalar", oneof: "messageRequest", T: S.STRING },
  { no: 4, name: "file_containing_symbol", kind: "scalar", oneof: "messageRequest", T: S.STRING },
  { no: 5, name: "file_containing_extension", kind: "message", oneof: "messageRequest", T: () => ExtReq },
  { no: 6, name: "all_extension_numbers_of_type", kind: "scalar", oneof: "messageRequest", T: S.STRING },
  { no: 7, name: "list_services", kind: "scalar", oneof: "messageRequest", T: S.STRING },
]);
const sub = (name: string, fields: ConstructorParameters<typeof MessageType>[1]) =>
  new MessageType<object>(name, fields);
const ServiceResp = sub("t.ServiceResponse", [{ no: 1, name: "name", kind: "scalar", T: S.STRING }]);
const RespType = new MessageType<Resp>("t.Resp", [
  { no: 1, name: "valid_host", kind: "scalar", T: S.STRING },
  { no: 2, name: "original_request", kind: "message", T: () => ReqType },
  {
    no: 4,
    name: "file_descriptor_response",
    kind: "message",
    oneof: "messageResponse",
    T: () =>
      sub("t.FileDescriptorResponse", [
        { no: 1, name: "file_descriptor_proto", kind: "scalar", repeat: 2, T: S.BYTES },
      ]),
  },
  {
    no: 5,
    name: "all_extension_numbers_response",
    kind: "message",
    oneof: "messageResponse",
    T: () =>
      sub("t.ExtensionNumberResponse", [
        { no: 1, name: "base_type_name", kind: "scalar", T: S.STRING },
        { no: 2, name: "extension_number", kind: "scalar", repeat: 1, T: S.INT32 },
      ]),
  },
  {
    no: 6,
    name: "list_services_response",
    kind: "message",
    oneof: "messageResponse",
    T: () =>
      sub("t.ListServiceResponse", [
        { no: 1, name: "service", kind: "message", repeat: 2, T: () => ServiceResp },
      ]),
  },
  {
    no: 7,
    name: "error_response",
    kind: "message",
    oneof: "messageResponse",
    T: () =>
      sub("t.ErrorResponse", [
        { no: 1, name: "error_code", kind: "scalar", T: S.INT32 },
        { no: 2, name: "error_message", kind: "scalar", T: S.STRING },
      ]),
  },
]);

/** One ServerReflectionInfo stream: `ask` sends a request and resolves with the next response. */
function openStream(client: grpc.Client, version: "v1" | "v1alpha") {
  const call = client.makeBidiStreamRequest(
    `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
    (value: Req) => Buffer.from(ReqType.toBinary(ReqType.create(value))),
    (bytes: Buffer) => RespType.fromBinary(bytes),
    new grpc.Metadata(),
    { deadline: Date.now() + 20_000 },
  );
  const pending: { resolve: (r: Resp) => void; reject: (e: Error) => void }[] = [];
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("data", (response: Resp) => pending.shift()?.resolve(response));
  call.on("error", (error: Error) => {
    for (const p of pending.splice(0)) p.reject(error);
  });
  return {
    ask(messageRequest: Req["messageRequest"], host = ""): Promise<Resp> {
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        call.write({ host, messageRequest });
      });
    },
    /** Half-closes the stream and resolves with its final status. */
    close(): Promise<grpc.StatusObject> {
      call.end();
      return status;
    },
    cancel: () => call.cancel(),
  };
}

function fileNames(response: Resp): string[] {
  if (response.messageResponse.oneofKind !== "fileDescriptorResponse") {
    throw new Error(`expected a file_descriptor_response, got ${JSON.stringify(RespType.toJson(response))}`);
  }
  return response.messageResponse.fileDescriptorResponse.fileDescriptorProto.map(fileName);
}

function files(response: Resp): Uint8Array[] {
  if (response.messageResponse.oneofKind !== "fileDescriptorResponse") throw new Error("no files");
  return response.messageResponse.fileDescriptorResponse.fileDescriptorProto;
}

// ---------------------------------------------------------------- the protocol

describe("server reflection protocol (grpc-js client)", () => {
  let client: grpc.Client;
  beforeAll(() => {
    client = new grpc.Client(address, grpc.credentials.createInsecure());
  });
  afterAll(() => client.close());

  it.each(["v1", "v1alpha"] as const)("%s lists the services, echoing host and request", async (version) => {
    const stream = openStream(client, version);
    try {
      const response = await stream.ask({ oneofKind: "listServices", listServices: "*" }, "example.test");
      expect(response.validHost).toBe("example.test");
      expect(response.originalRequest).toEqual({
        host: "example.test",
        messageRequest: { oneofKind: "listServices", listServices: "*" },
      });
      expect(response.messageResponse.oneofKind).toBe("listServicesResponse");
      const names =
        response.messageResponse.oneofKind === "listServicesResponse"
          ? response.messageResponse.listServicesResponse.service.map((s) => s.name)
          : [];
      expect(names.sort()).toEqual(
        [
          ModelService.typeName,
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ].sort(),
      );
      expect((await stream.close()).code).toBe(grpc.status.OK);
    } finally {
      stream.cancel();
    }
  });

  it("sends the file with a symbol and its transitive imports, original bytes, each once per stream", async () => {
    const stream = openStream(client, "v1");
    try {
      const first = await stream.ask({
        oneofKind: "fileContainingSymbol",
        fileContainingSymbol: ModelService.typeName,
      });
      const names = fileNames(first);
      expect(names[0]).toBe("modelregistry/v1/model_service.proto");
      expect(new Set(names).size).toBe(names.length);
      expect(new Set(names)).toEqual(closure("modelregistry/v1/model_service.proto"));
      expect(names).toEqual(
        expect.arrayContaining(["google/protobuf/timestamp.proto", "google/rpc/status.proto"]),
      );
      for (const [i, bytes] of files(first).entries()) {
        const name = names[i] ?? "";
        expect(Buffer.from(bytes).equals(Buffer.from(descriptorSet.files.get(name) ?? [])), name).toBe(true);
      }

      // Same stream: the requested file again (as grpc-go does), none of its imports.
      const again = await stream.ask({
        oneofKind: "fileContainingSymbol",
        fileContainingSymbol: `${ModelService.typeName}.GetModel`,
      });
      expect(fileNames(again)).toEqual(["modelregistry/v1/model_service.proto"]);
      const model = await stream.ask({
        oneofKind: "fileContainingSymbol",
        fileContainingSymbol: "modelregistry.v1.Model",
      });
      expect(fileNames(model)).toEqual(["modelregistry/v1/model.proto"]);
      const byName = await stream.ask({
        oneofKind: "fileByFilename",
        fileByFilename: "google/protobuf/timestamp.proto",
      });
      expect(fileNames(byName)).toEqual(["google/protobuf/timestamp.proto"]);
      expect((await stream.close()).code).toBe(grpc.status.OK);
    } finally {
      stream.cancel();
    }
  });

  it("a new stream sends the imports again", async () => {
    const stream = openStream(client, "v1alpha");
    try {
      const response = await stream.ask({
        oneofKind: "fileByFilename",
        fileByFilename: "modelregistry/v1/model.proto",
      });
      expect(new Set(fileNames(response))).toEqual(closure("modelregistry/v1/model.proto"));
      expect(fileNames(response)[0]).toBe("modelregistry/v1/model.proto");
    } finally {
      stream.cancel();
    }
  });

  it.each([
    ["modelregistry.v1.ModelService.CreateModel", "modelregistry/v1/model_service.proto"],
    ["modelregistry.v1.CreateModelRequest", "modelregistry/v1/model_service.proto"],
    [".modelregistry.v1.Model", "modelregistry/v1/model.proto"],
    ["modelregistry.v1.Model.create_time", "modelregistry/v1/model.proto"],
    ["modelregistry.v1.ModelEventType", "modelregistry/v1/model.proto"],
    ["google.protobuf.DescriptorProto.ExtensionRange", "google/protobuf/descriptor.proto"],
    ["google.protobuf.FieldDescriptorProto.Type", "google/protobuf/descriptor.proto"],
    ["google.protobuf.FieldDescriptorProto.TYPE_STRING", "google/protobuf/descriptor.proto"],
    ["google.api.http", "google/api/annotations.proto"],
    ["google.rpc.Status", "google/rpc/status.proto"],
  ])("finds the file containing %s", async (symbol, file) => {
    const stream = openStream(client, "v1");
    try {
      const response = await stream.ask({ oneofKind: "fileContainingSymbol", fileContainingSymbol: symbol });
      expect(fileNames(response)[0]).toBe(file);
    } finally {
      stream.cancel();
    }
  });

  it("answers NOT_FOUND for unknown files and symbols and keeps the stream open", async () => {
    const stream = openStream(client, "v1");
    try {
      const symbol = await stream.ask({
        oneofKind: "fileContainingSymbol",
        fileContainingSymbol: "nope.v1.Missing",
      });
      expect(symbol.messageResponse).toEqual({
        oneofKind: "errorResponse",
        errorResponse: { errorCode: 5, errorMessage: "symbol not found: nope.v1.Missing" },
      });
      const file = await stream.ask({ oneofKind: "fileByFilename", fileByFilename: "nope.proto" });
      expect(file.messageResponse).toEqual({
        oneofKind: "errorResponse",
        errorResponse: { errorCode: 5, errorMessage: "file not found: nope.proto" },
      });
      const after = await stream.ask({
        oneofKind: "fileContainingSymbol",
        fileContainingSymbol: "google.rpc.Status",
      });
      expect(fileNames(after)).toEqual(["google/rpc/status.proto", "google/protobuf/any.proto"]);
      expect((await stream.close()).code).toBe(grpc.status.OK);
    } finally {
      stream.cancel();
    }
  });

  it("answers extension requests from the extensions in the set", async () => {
    const stream = openStream(client, "v1");
    try {
      const numbers = await stream.ask({
        oneofKind: "allExtensionNumbersOfType",
        allExtensionNumbersOfType: "google.protobuf.MethodOptions",
      });
      expect(numbers.messageResponse).toEqual({
        oneofKind: "allExtensionNumbersResponse",
        allExtensionNumbersResponse: {
          baseTypeName: "google.protobuf.MethodOptions",
          extensionNumber: [72295728],
        },
      });
      const none = await stream.ask({
        oneofKind: "allExtensionNumbersOfType",
        allExtensionNumbersOfType: "google.rpc.Status",
      });
      expect(none.messageResponse).toEqual({
        oneofKind: "allExtensionNumbersResponse",
        allExtensionNumbersResponse: { baseTypeName: "google.rpc.Status", extensionNumber: [] },
      });
      const unknownType = await stream.ask({
        oneofKind: "allExtensionNumbersOfType",
        allExtensionNumbersOfType: "nope.T",
      });
      expect(
        unknownType.messageResponse.oneofKind === "errorResponse" &&
          unknownType.messageResponse.errorResponse.errorCode,
      ).toBe(5);

      const ext = await stream.ask({
        oneofKind: "fileContainingExtension",
        fileContainingExtension: { containingType: "google.protobuf.FieldOptions", extensionNumber: 1052 },
      });
      expect(fileNames(ext)[0]).toBe("google/api/field_behavior.proto");
      const missing = await stream.ask({
        oneofKind: "fileContainingExtension",
        fileContainingExtension: { containingType: "google.protobuf.FieldOptions", extensionNumber: 1 },
      });
      expect(
        missing.messageResponse.oneofKind === "errorResponse" &&
          missing.messageResponse.errorResponse.errorCode,
      ).toBe(5);
    } finally {
      stream.cancel();
    }
  });
});

describe("reflection and shutdown", () => {
  it("an open reflection stream (grpcui, a long-lived grpcurl) does not hold up the registry's shutdown", async () => {
    const registry = await startTestRegistry();
    const registryClient = new grpc.Client(registry.address, grpc.credentials.createInsecure());
    const stream = openStream(registryClient, "v1");
    try {
      const listed = await stream.ask({ oneofKind: "listServices", listServices: "*" });
      expect(listed.messageResponse.oneofKind).toBe("listServicesResponse");
      const started = Date.now();
      await registry.server.shutdown({ graceMs: 10_000 });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      stream.cancel();
      registryClient.close();
    }
  });
});

// ---------------------------------------------------------------- buf curl

describe("buf curl (connect-go, protodesc) through reflection", () => {
  const url = () => `http://${address}`;
  const run = async (...args: string[]) => {
    const result = await runBufCurl(args);
    return { ...result, show: `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}` };
  };

  it("lists the services", async () => {
    const result = await run("--list-services", url());
    expect(result.code, result.show).toBe(0);
    expect(result.stdout.trim().split("\n")).toEqual(
      [
        ModelService.typeName,
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ].sort(),
    );
  });

  // --list-methods resolves every listed service from the schema reflection
  // serves, so it fails if any of them is missing from the descriptor set.
  it.each(["grpc-v1", "grpc-v1alpha"])("lists every method of every service over %s", async (protocol) => {
    const result = await run("--reflect-protocol", protocol, "--list-methods", url());
    expect(result.code, result.show).toBe(0);
    const expected = ModelService.methods.map((m) => `${ModelService.typeName}/${m.name}`);
    expect(expected).toHaveLength(17);
    expect(result.stdout.trim().split("\n")).toEqual(
      [
        ...expected,
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      ].sort(),
    );
  });

  it("builds requests from the reflected types: a map and a Timestamp as proto3 JSON", async () => {
    // The map's entry type and the Timestamp's JSON form both need the
    // original descriptors (map_entry, google/protobuf/timestamp.proto as a
    // dependency): what @grpc/reflection's rebuilt descriptors lose.
    const result = await run(
      "-d",
      '{"model":{"name":"a","version":"1","metadata":{"k":"v"},"createTime":"2024-06-01T12:00:00Z"}}',
      `${url()}/${ModelService.typeName}/CreateModel`,
    );
    expect(result.code, result.show).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      model: { id: "m-1", name: "a", version: "1", metadata: { k: "v" }, createTime: "2024-06-01T12:00:00Z" },
    });
  });

  it("refuses a request field that the reflected type does not have", async () => {
    const result = await run("-d", '{"colour":"red"}', `${url()}/${ModelService.typeName}/GetModel`);
    expect(result.code, result.show).toBeGreaterThan(0);
    expect(result.code, result.show).toBeLessThan(8);
    expect(result.stderr).toContain("colour");
  });

  it("calls GetModel and prints the Timestamp as RFC 3339", async () => {
    const result = await run("-d", '{"id":"m-42"}', `${url()}/${ModelService.typeName}/GetModel`);
    expect(result.code, result.show).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      model: {
        id: "m-42",
        name: "fixed",
        version: "1.0.0",
        metadata: { owner: "team-a" },
        createTime: "2023-11-14T22:13:20Z",
      },
    });
  });

  it("reports a gRPC status as exit code N << 3 and a JSON error on stderr", async () => {
    const result = await run(`${url()}/${ModelService.typeName}/ListModels`);
    expect(result.code, result.show).toBe(exitCodeFor(grpc.status.UNIMPLEMENTED));
    expect(JSON.parse(result.stderr)).toMatchObject({ code: "unimplemented" });
  });

  it("fails with an exit code below 8 for an unknown service or method", async () => {
    const service = await run(`${url()}/nope.v1.Missing/Get`);
    expect(service.code, service.show).toBeGreaterThan(0);
    expect(service.code, service.show).toBeLessThan(8);
    expect(service.stderr).toContain("nope.v1.Missing");
    const method = await run(`${url()}/${ModelService.typeName}/Nope`);
    expect(method.code, method.show).toBeGreaterThan(0);
    expect(method.code, method.show).toBeLessThan(8);
    expect(method.stderr).toContain("contains no such method");
  });
});
