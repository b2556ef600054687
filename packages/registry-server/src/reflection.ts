import type * as grpc from "@grpc/grpc-js";
import { BinaryReader, MessageType, ScalarType, WireType } from "@protobuf-ts/runtime";

// gRPC server reflection (grpc.reflection.v1 and v1alpha) served straight
// from a serialized FileDescriptorSet. Every file goes out as the ORIGINAL
// bytes it has in the set: @grpc/reflection rebuilds descriptors and loses
// dependency lists and map entry names (grpc-node#2595, grpcurl#519), which
// breaks grpcurl for messages that use well-known types or maps.

/** Options of {@link addReflectionService}. */
export interface ReflectionServiceOptions {
  /**
   * A serialized `google.protobuf.FileDescriptorSet` holding every file the
   * server's services are defined in, plus all of their imports.
   */
  fileDescriptorSet: Uint8Array;
  /**
   * The fully-qualified names of the services the server exposes, asked on
   * every `list_services` request. The two reflection services registered
   * by {@link addReflectionService} are added when missing.
   */
  services: () => string[];
}

const REFLECTION_SERVICES = [
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const INTERNAL = 13;

// ---------------------------------------------------------------- messages
// reflection.proto (v1; v1alpha has the same wire shape), as protobuf-ts
// reflection-based message types.

interface ExtensionRequest {
  containingType: string;
  extensionNumber: number;
}

interface ServerReflectionRequest {
  host: string;
  messageRequest:
    | { oneofKind: "fileByFilename"; fileByFilename: string }
    | { oneofKind: "fileContainingSymbol"; fileContainingSymbol: string }
    | { oneofKind: "fileContainingExtension"; fileContainingExtension: ExtensionRequest }
    | { oneofKind: "allExtensionNumbersOfType"; allExtensionNumbersOfType: string }
    | { oneofKind: "listServices"; listServices: string }
    | { oneofKind: undefined };
}

interface ServerReflectionResponse {
  validHost: string;
  originalRequest?: ServerReflectionRequest;
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

const ExtensionRequestType = new MessageType<ExtensionRequest>("grpc.reflection.v1.ExtensionRequest", [
  { no: 1, name: "containing_type", kind: "scalar", T: ScalarType.STRING },
  { no: 2, name: "extension_number", kind: "scalar", T: ScalarType.INT32 },
]);

const RequestType = new MessageType<ServerReflectionRequest>("grpc.reflection.v1.ServerReflectionRequest", [
  { no: 1, name: "host", kind: "scalar", T: ScalarType.STRING },
  { no: 3, name: "file_by_filename", kind: "scalar", oneof: "messageRequest", T: ScalarType.STRING },
  { no: 4, name: "file_containing_symbol", kind: "scalar", oneof: "messageRequest", T: ScalarType.STRING },
  {
    no: 5,
    name: "file_containing_extension",
    kind: "message",
    oneof: "messageRequest",
    T: () => ExtensionRequestType,
  },
  {
    no: 6,
    name: "all_extension_numbers_of_type",
    kind: "scalar",
    oneof: "messageRequest",
    T: ScalarType.STRING,
  },
  { no: 7, name: "list_services", kind: "scalar", oneof: "messageRequest", T: ScalarType.STRING },
]);

const FileDescriptorResponseType = new MessageType<{ fileDescriptorProto: Uint8Array[] }>(
  "grpc.reflection.v1.FileDescriptorResponse",
  [{ no: 1, name: "file_descriptor_proto", kind: "scalar", repeat: 2, T: ScalarType.BYTES }],
);

const ExtensionNumberResponseType = new MessageType<{ baseTypeName: string; extensionNumber: number[] }>(
  "grpc.reflection.v1.ExtensionNumberResponse",
  [
    { no: 1, name: "base_type_name", kind: "scalar", T: ScalarType.STRING },
    { no: 2, name: "extension_number", kind: "scalar", repeat: 1, T: ScalarType.INT32 },
  ],
);

const ServiceResponseType = new MessageType<{ name: string }>("grpc.reflection.v1.ServiceResponse", [
  { no: 1, name: "name", kind: "scalar", T: ScalarType.STRING },
]);

const ListServiceResponseType = new MessageType<{ service: { name: string }[] }>(
  "grpc.reflection.v1.ListServiceResponse",
  [{ no: 1, name: "service", kind: "message", repeat: 2, T: () => ServiceResponseType }],
);

const ErrorResponseType = new MessageType<{ errorCode: number; errorMessage: string }>(
  "grpc.reflection.v1.ErrorResponse",
  [
    { no: 1, name: "error_code", kind: "scalar", T: ScalarType.INT32 },
    { no: 2, name: "error_message", kind: "scalar", T: ScalarType.STRING },
  ],
);

const ResponseType = new MessageType<ServerReflectionResponse>(
  "grpc.reflection.v1.ServerReflectionResponse",
  [
    { no: 1, name: "valid_host", kind: "scalar", T: ScalarType.STRING },
    { no: 2, name: "original_request", kind: "message", T: () => RequestType },
    {
      no: 4,
      name: "file_descriptor_response",
      kind: "message",
      oneof: "messageResponse",
      T: () => FileDescriptorResponseType,
    },
    {
      no: 5,
      name: "all_extension_numbers_response",
      kind: "message",
      oneof: "messageResponse",
      T: () => ExtensionNumberResponseType,
    },
    {
      no: 6,
      name: "list_services_response",
      kind: "message",
      oneof: "messageResponse",
      T: () => ListServiceResponseType,
    },
    { no: 7, name: "error_response", kind: "message", oneof: "messageResponse", T: () => ErrorResponseType },
  ],
);

// ---------------------------------------------------------------- descriptor index

interface DescriptorIndex {
  /** File name -> original serialized FileDescriptorProto. */
  files: Map<string, Uint8Array>;
  /** File name -> names of the files it imports. */
  dependencies: Map<string, string[]>;
  /** Fully-qualified symbol (no leading dot) -> name of the file defining it. */
  symbols: Map<string, string>;
  /** Fully-qualified names of the messages (nested ones too). */
  messages: Set<string>;
  /** Fully-qualified message name -> extension number -> file defining the extension. */
  extensions: Map<string, Map<number, string>>;
}

/** Calls `onField(fieldNumber, reader)` for each field of `bytes`; unread values are skipped. */
function readFields(bytes: Uint8Array, onField: (no: number, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (wireType !== WireType.LengthDelimited || !onField(no, reader)) reader.skip(wireType);
  }
}

/** The `name` (field 1) of a DescriptorProto, EnumDescriptorProto, FieldDescriptorProto etc. */
function readName(bytes: Uint8Array): string {
  let name = "";
  readFields(bytes, (no, r) => {
    if (no !== 1) return false;
    name = r.string();
    return true;
  });
  return name;
}

function indexDescriptorSet(set: Uint8Array): DescriptorIndex {
  const index: DescriptorIndex = {
    files: new Map(),
    dependencies: new Map(),
    symbols: new Map(),
    messages: new Set(),
    extensions: new Map(),
  };
  // FileDescriptorSet.file = 1
  readFields(set, (no, r) => {
    if (no !== 1) return false;
    indexFile(index, r.bytes().slice());
    return true;
  });
  return index;
}

function indexFile(index: DescriptorIndex, bytes: Uint8Array): void {
  let name = "";
  let pkg = "";
  const dependencies: string[] = [];
  const messages: Uint8Array[] = [];
  const enums: Uint8Array[] = [];
  const services: Uint8Array[] = [];
  const extensions: Uint8Array[] = [];
  // FileDescriptorProto: name 1, package 2, dependency 3, message_type 4,
  // enum_type 5, service 6, extension 7.
  readFields(bytes, (no, r) => {
    if (no === 1) name = r.string();
    else if (no === 2) pkg = r.string();
    else if (no === 3) dependencies.push(r.string());
    else if (no === 4) messages.push(r.bytes());
    else if (no === 5) enums.push(r.bytes());
    else if (no === 6) services.push(r.bytes());
    else if (no === 7) extensions.push(r.bytes());
    else return false;
    return true;
  });
  if (index.files.has(name)) return; // first definition wins
  index.files.set(name, bytes);
  index.dependencies.set(name, dependencies);

  const add = (symbol: string) => {
    if (!index.symbols.has(symbol)) index.symbols.set(symbol, name);
  };
  const qualify = (scope: string, local: string) => (scope ? `${scope}.${local}` : local);

  const addEnum = (scope: string, enumBytes: Uint8Array) => {
    // EnumDescriptorProto: name 1, value 2 (EnumValueDescriptorProto.name 1).
    // Values are scoped like their enum's siblings (protobuf's C++ scoping
    // rule); they are also found under the enum's own name.
    let enumName = "";
    const values: string[] = [];
    readFields(enumBytes, (no, r) => {
      if (no === 1) enumName = r.string();
      else if (no === 2) values.push(readName(r.bytes()));
      else return false;
      return true;
    });
    const full = qualify(scope, enumName);
    add(full);
    for (const value of values) add(qualify(scope, value));
    for (const value of values) add(`${full}.${value}`);
  };

  const addExtension = (scope: string, fieldBytes: Uint8Array) => {
    // FieldDescriptorProto: name 1, extendee 2, number 3.
    let fieldName = "";
    let extendee = "";
    let number = 0;
    const reader = new BinaryReader(fieldBytes);
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      if (no === 1 && wireType === WireType.LengthDelimited) fieldName = reader.string();
      else if (no === 2 && wireType === WireType.LengthDelimited) extendee = reader.string();
      else if (no === 3 && wireType === WireType.Varint) number = reader.int32();
      else reader.skip(wireType);
    }
    add(qualify(scope, fieldName));
    const type = extendee.replace(/^\./, "");
    const numbers = index.extensions.get(type) ?? new Map<number, string>();
    index.extensions.set(type, numbers);
    if (!numbers.has(number)) numbers.set(number, name);
  };

  const addMessage = (scope: string, messageBytes: Uint8Array) => {
    // DescriptorProto: name 1, field 2, nested_type 3, enum_type 4,
    // extension 6, oneof_decl 8.
    let messageName = "";
    const fields: string[] = [];
    const oneofs: string[] = [];
    const nested: Uint8Array[] = [];
    const nestedEnums: Uint8Array[] = [];
    const nestedExtensions: Uint8Array[] = [];
    readFields(messageBytes, (no, r) => {
      if (no === 1) messageName = r.string();
      else if (no === 2) fields.push(readName(r.bytes()));
      else if (no === 3) nested.push(r.bytes());
      else if (no === 4) nestedEnums.push(r.bytes());
      else if (no === 6) nestedExtensions.push(r.bytes());
      else if (no === 8) oneofs.push(readName(r.bytes()));
      else return false;
      return true;
    });
    const full = qualify(scope, messageName);
    add(full);
    index.messages.add(full);
    for (const field of [...fields, ...oneofs]) add(`${full}.${field}`);
    for (const child of nested) addMessage(full, child);
    for (const child of nestedEnums) addEnum(full, child);
    for (const child of nestedExtensions) addExtension(full, child);
  };

  for (const message of messages) addMessage(pkg, message);
  for (const enumBytes of enums) addEnum(pkg, enumBytes);
  for (const extension of extensions) addExtension(pkg, extension);
  for (const service of services) {
    // ServiceDescriptorProto: name 1, method 2 (MethodDescriptorProto.name 1).
    let serviceName = "";
    const methods: string[] = [];
    readFields(service, (no, r) => {
      if (no === 1) serviceName = r.string();
      else if (no === 2) methods.push(readName(r.bytes()));
      else return false;
      return true;
    });
    const full = qualify(pkg, serviceName);
    add(full);
    for (const method of methods) add(`${full}.${method}`);
  }
}

// ---------------------------------------------------------------- the service

/**
 * Registers gRPC server reflection, both `grpc.reflection.v1.ServerReflection`
 * and `grpc.reflection.v1alpha.ServerReflection`, on `server`.
 *
 * Answers come from `options.fileDescriptorSet`, indexed once here: file
 * answers carry the requested file and its transitive imports as the
 * original serialized `FileDescriptorProto` bytes (never re-serialized), and,
 * as grpc-go does, an import already sent on the same stream is not sent
 * again (the requested file itself always is). Symbols are found by
 * fully-qualified name: services, methods, messages (nested too),
 * fields, oneofs, enums, enum values and extensions. Extension requests are
 * answered from the extensions declared in the set. Unknown files, symbols
 * and types get an `error_response` with code 5 (NOT_FOUND) and the stream
 * stays open.
 *
 * @throws TypeError if `fileDescriptorSet` is not a valid FileDescriptorSet.
 */
export function addReflectionService(server: grpc.Server, options: ReflectionServiceOptions): void {
  let index: DescriptorIndex;
  try {
    index = indexDescriptorSet(options.fileDescriptorSet);
  } catch (error) {
    throw new TypeError(`addReflectionService: invalid FileDescriptorSet (${String(error)})`);
  }

  const handler = (call: grpc.ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>) => {
    const sent = new Set<string>();
    call.on("data", (request: ServerReflectionRequest) => {
      let messageResponse: MessageResponse;
      try {
        messageResponse = answer(index, options, request, sent);
      } catch (cause) {
        messageResponse = error(INTERNAL, `reflection failed: ${String(cause)}`);
      }
      call.write({ validHost: request.host, originalRequest: request, messageResponse });
    });
    call.on("end", () => call.end());
    call.on("error", () => {}); // cancelled by the client: nothing to clean up
  };

  for (const name of REFLECTION_SERVICES) {
    const definition: grpc.ServiceDefinition = {
      ServerReflectionInfo: {
        path: `/${name}/ServerReflectionInfo`,
        requestStream: true,
        responseStream: true,
        requestSerialize: (value: ServerReflectionRequest) => Buffer.from(RequestType.toBinary(value)),
        requestDeserialize: (bytes: Buffer) => RequestType.fromBinary(bytes),
        responseSerialize: (value: ServerReflectionResponse) => Buffer.from(ResponseType.toBinary(value)),
        responseDeserialize: (bytes: Buffer) => ResponseType.fromBinary(bytes),
      },
    };
    server.addService(definition, { ServerReflectionInfo: handler });
  }
}

type MessageResponse = ServerReflectionResponse["messageResponse"];

function error(errorCode: number, errorMessage: string): MessageResponse {
  return { oneofKind: "errorResponse", errorResponse: { errorCode, errorMessage } };
}

function answer(
  index: DescriptorIndex,
  options: ReflectionServiceOptions,
  request: ServerReflectionRequest,
  sent: Set<string>,
): MessageResponse {
  const req = request.messageRequest;
  switch (req.oneofKind) {
    case "listServices": {
      let names: string[];
      try {
        names = [...new Set([...options.services(), ...REFLECTION_SERVICES])];
      } catch (cause) {
        return error(INTERNAL, `cannot list services: ${String(cause)}`);
      }
      return {
        oneofKind: "listServicesResponse",
        listServicesResponse: { service: names.map((name) => ({ name })) },
      };
    }
    case "fileByFilename": {
      const name = req.fileByFilename;
      if (!index.files.has(name)) return error(NOT_FOUND, `file not found: ${name}`);
      return files(index, name, sent);
    }
    case "fileContainingSymbol": {
      const symbol = req.fileContainingSymbol.replace(/^\./, "");
      const file = index.symbols.get(symbol);
      if (file === undefined) return error(NOT_FOUND, `symbol not found: ${symbol}`);
      return files(index, file, sent);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = req.fileContainingExtension;
      const type = containingType.replace(/^\./, "");
      const file = index.extensions.get(type)?.get(extensionNumber);
      if (file === undefined) {
        return error(NOT_FOUND, `extension not found: ${extensionNumber} of type ${type}`);
      }
      return files(index, file, sent);
    }
    case "allExtensionNumbersOfType": {
      const type = req.allExtensionNumbersOfType.replace(/^\./, "");
      if (index.messages.has(type)) {
        const numbers = [...(index.extensions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
        return {
          oneofKind: "allExtensionNumbersResponse",
          allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: numbers },
        };
      }
      return error(NOT_FOUND, `type not found: ${type}`);
    }
    default:
      return error(INVALID_ARGUMENT, "invalid reflection request: no message_request set");
  }
}

/** `file` and its transitive imports (breadth first), imports sent before on this stream left out. */
function files(index: DescriptorIndex, file: string, sent: Set<string>): MessageResponse {
  const out: Uint8Array[] = [];
  const seen = new Set<string>([file]);
  const queue = [file];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const bytes = index.files.get(name);
    if (!bytes) continue; // an import missing from the set: nothing to send
    if (name === file || !sent.has(name)) {
      out.push(bytes);
      sent.add(name);
    }
    for (const dependency of index.dependencies.get(name) ?? []) {
      if (!seen.has(dependency)) {
        seen.add(dependency);
        queue.push(dependency);
      }
    }
  }
  return { oneofKind: "fileDescriptorResponse", fileDescriptorResponse: { fileDescriptorProto: out } };
}
