import type * as grpc from "@grpc/grpc-js";
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionV1alpha,
} from "@modelreg/proto";
import { BinaryReader, WireType } from "@protobuf-ts/runtime";
import { grpcServiceDefinition } from "./grpc/definition";

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

// v1alpha has the same messages as v1 in another package: one handler,
// typed with v1's messages, serves both.
const REFLECTION_SERVICES = [ServerReflection, ServerReflectionV1alpha];
const REFLECTION_SERVICE_NAMES = REFLECTION_SERVICES.map((service) => service.typeName);

const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const INTERNAL = 13;

// ---------------------------------------------------------------- descriptor index
// Read from the wire with field numbers of descriptor.proto, so the server
// needs no generated descriptor types (a large module) to serve reflection.

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

const utf8 = new TextDecoder();

/**
 * The fields of a serialized descriptor message (FileDescriptorProto,
 * DescriptorProto, ...) by field number: length-delimited ones (strings,
 * nested messages) as bytes, varints as numbers; others skipped.
 */
function readDescriptor(bytes: Uint8Array) {
  const delimited = new Map<number, Uint8Array[]>();
  const varints = new Map<number, number>();
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (wireType === WireType.LengthDelimited) {
      const values = delimited.get(no) ?? [];
      values.push(reader.bytes());
      delimited.set(no, values);
    } else if (wireType === WireType.Varint) {
      varints.set(no, reader.int32());
    } else {
      reader.skip(wireType);
    }
  }
  const messages = (no: number) => delimited.get(no) ?? [];
  const strings = (no: number) => messages(no).map((value) => utf8.decode(value));
  return { name: strings(1)[0] ?? "", messages, strings, varint: (no: number) => varints.get(no) ?? 0 };
}

const nameOf = (bytes: Uint8Array) => readDescriptor(bytes).name;
const qualify = (scope: string, local: string) => (scope ? `${scope}.${local}` : local);

function indexDescriptorSet(set: Uint8Array): DescriptorIndex {
  const index: DescriptorIndex = {
    files: new Map(),
    dependencies: new Map(),
    symbols: new Map(),
    messages: new Set(),
    extensions: new Map(),
  };
  // FileDescriptorSet.file = 1; each file is copied out of the set, byte for byte.
  for (const file of readDescriptor(set).messages(1)) indexFile(index, file.slice());
  return index;
}

function indexFile(index: DescriptorIndex, bytes: Uint8Array): void {
  // FileDescriptorProto: name 1, package 2, dependency 3, message_type 4,
  // enum_type 5, service 6, extension 7.
  const file = readDescriptor(bytes);
  if (index.files.has(file.name)) return; // first definition wins
  index.files.set(file.name, bytes);
  index.dependencies.set(file.name, file.strings(3));
  const pkg = file.strings(2)[0] ?? "";
  const symbols = new FileSymbols(index, file.name);
  for (const message of file.messages(4)) symbols.addMessage(pkg, message);
  for (const enumType of file.messages(5)) symbols.addEnum(pkg, enumType);
  for (const service of file.messages(6)) symbols.addService(pkg, service);
  for (const extension of file.messages(7)) symbols.addExtension(pkg, extension);
}

/** Adds the symbols one file defines to the index. */
class FileSymbols {
  constructor(
    private readonly index: DescriptorIndex,
    private readonly file: string,
  ) {}

  private add(symbol: string): void {
    if (!this.index.symbols.has(symbol)) this.index.symbols.set(symbol, this.file);
  }

  addMessage(scope: string, bytes: Uint8Array): void {
    // DescriptorProto: name 1, field 2, nested_type 3, enum_type 4,
    // extension 6, oneof_decl 8.
    const message = readDescriptor(bytes);
    const full = qualify(scope, message.name);
    this.add(full);
    this.index.messages.add(full);
    for (const member of [...message.messages(2), ...message.messages(8)])
      this.add(`${full}.${nameOf(member)}`);
    for (const child of message.messages(3)) this.addMessage(full, child);
    for (const child of message.messages(4)) this.addEnum(full, child);
    for (const child of message.messages(6)) this.addExtension(full, child);
  }

  addEnum(scope: string, bytes: Uint8Array): void {
    // EnumDescriptorProto: name 1, value 2 (EnumValueDescriptorProto.name 1).
    // Values are scoped like their enum's siblings (protobuf's C++ scoping
    // rule); they are also found under the enum's own name.
    const enumType = readDescriptor(bytes);
    const full = qualify(scope, enumType.name);
    this.add(full);
    const values = enumType.messages(2).map(nameOf);
    for (const value of values) this.add(qualify(scope, value));
    for (const value of values) this.add(`${full}.${value}`);
  }

  addService(scope: string, bytes: Uint8Array): void {
    // ServiceDescriptorProto: name 1, method 2 (MethodDescriptorProto.name 1).
    const service = readDescriptor(bytes);
    const full = qualify(scope, service.name);
    this.add(full);
    for (const method of service.messages(2)) this.add(`${full}.${nameOf(method)}`);
  }

  addExtension(scope: string, bytes: Uint8Array): void {
    // FieldDescriptorProto: name 1, extendee 2, number 3.
    const field = readDescriptor(bytes);
    this.add(qualify(scope, field.name));
    const type = (field.strings(2)[0] ?? "").replace(/^\./, "");
    const number = field.varint(3);
    const numbers = this.index.extensions.get(type) ?? new Map<number, string>();
    this.index.extensions.set(type, numbers);
    if (!numbers.has(number)) numbers.set(number, this.file);
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
export function addReflectionService(
  server: grpc.Server,
  options: ReflectionServiceOptions,
): {
  /** Ends open reflection streams, and any opened later at once (grpc-js's shutdown would wait for them). */ close(): void;
} {
  let index: DescriptorIndex;
  try {
    index = indexDescriptorSet(options.fileDescriptorSet);
  } catch (error) {
    throw new TypeError(`addReflectionService: invalid FileDescriptorSet (${String(error)})`);
  }

  type ReflectionCall = grpc.ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;
  const open = new Set<ReflectionCall>();
  let closed = false;
  const handler = (call: ReflectionCall) => {
    if (closed) {
      call.end();
      return;
    }
    open.add(call);
    call.on("close", () => open.delete(call));
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

  for (const service of REFLECTION_SERVICES) {
    server.addService(grpcServiceDefinition(service, "decoded"), { ServerReflectionInfo: handler });
  }
  return {
    close() {
      closed = true;
      for (const call of open) call.end();
      open.clear();
    },
  };
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
        names = [...new Set([...options.services(), ...REFLECTION_SERVICE_NAMES])];
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
