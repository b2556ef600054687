import * as grpc from "@grpc/grpc-js";
import {
  type ImportModelsResponse,
  ModelService,
  RegistryError,
  Status,
  type WatchModelsResponse,
} from "@modelreg/proto";

type Methods = (typeof ModelService.methods)[number];

/**
 * A minimal grpc-js client for ModelService's unary methods, for tests:
 * calls go over a real socket and failures come back as RegistryError
 * decoded from the wire status (code, message, grpc-status-details-bin).
 */
export function createTestClient(
  address: string,
  options: grpc.ChannelOptions = {},
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
) {
  const definition: Record<string, grpc.MethodDefinition<object | Buffer, object>> = {};
  for (const method of ModelService.methods) {
    definition[method.name] = {
      path: `/${ModelService.typeName}/${method.name}`,
      requestStream: method.clientStreaming,
      responseStream: method.serverStreaming,
      requestSerialize: (value: object | Buffer) =>
        Buffer.isBuffer(value) ? value : Buffer.from(method.I.toBinary(method.I.create(value as never))),
      requestDeserialize: (bytes: Buffer) => method.I.fromBinary(bytes),
      responseSerialize: (value: object) => Buffer.from(method.O.toBinary(value)),
      responseDeserialize: (bytes: Buffer) => method.O.fromBinary(bytes),
    };
  }
  const Client = grpc.makeGenericClientConstructor(
    definition as grpc.ServiceDefinition,
    ModelService.typeName,
  );
  const client = new Client(address, credentials, options);

  function call<T = Record<string, unknown>>(
    name: Methods["name"],
    request: object | Buffer,
    metadata: Record<string, string> = {},
    timeoutMs = 10_000,
  ): Promise<T> {
    const md = toMetadata(metadata);
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, grpc.requestCallback<T> | undefined>)[
        name
      ] as unknown as (
        request: object | Buffer,
        metadata: grpc.Metadata,
        options: grpc.CallOptions,
        callback: grpc.requestCallback<T>,
      ) => void;
      fn.call(client, request, md, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(toRegistryError(error));
        else resolve(response as T);
      });
    });
  }

  const stub = client as unknown as {
    WatchModels(
      request: object,
      metadata: grpc.Metadata,
      options: grpc.CallOptions,
    ): grpc.ClientReadableStream<WatchModelsResponse>;
    ImportModels(
      metadata: grpc.Metadata,
      options: grpc.CallOptions,
      callback: grpc.requestCallback<ImportModelsResponse>,
    ): grpc.ClientWritableStream<object | Buffer>;
  };

  /**
   * Opens WatchModels. `received` fills as messages arrive (unless paused);
   * `ended` resolves with the error that ended the stream, or `undefined`
   * for a clean end.
   */
  function watch(request: object, metadata: Record<string, string> = {}) {
    const stream = stub.WatchModels(request, toMetadata(metadata), {});
    const received: WatchModelsResponse[] = [];
    const ended = new Promise<RegistryError | undefined>((resolve) => {
      stream.on("data", (message: WatchModelsResponse) => received.push(message));
      stream.on("error", (error: grpc.ServiceError) => resolve(toRegistryError(error)));
      stream.on("end", () => resolve(undefined));
    });
    /** Waits until `count` messages have arrived (or the stream ended). */
    const waitFor = async (count: number, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      let done = false;
      void ended.then(() => {
        done = true;
      });
      while (received.length < count && !done) {
        if (Date.now() > deadline)
          throw new Error(`only ${received.length} of ${count} watch messages arrived`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return received.slice(0, count);
    };
    return { stream, received, ended, waitFor, cancel: () => stream.cancel() };
  }

  /** Runs ImportModels with these items (messages, or raw bytes for malformed ones). */
  function importModels(
    items: readonly (object | Buffer)[],
    timeoutMs = 30_000,
    metadata: Record<string, string> = {},
  ): Promise<ImportModelsResponse> {
    return new Promise((resolve, reject) => {
      const stream = stub.ImportModels(
        toMetadata(metadata),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) reject(toRegistryError(error));
          else resolve(response as ImportModelsResponse);
        },
      );
      for (const item of items) stream.write(item);
      stream.end();
    });
  }

  return { call, watch, importModels, close: () => client.close(), raw: client };
}

function toMetadata(entries: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return metadata;
}

/** The RegistryError a grpc-js ServiceError carries, details included. */
export function toRegistryError(error: grpc.ServiceError): RegistryError {
  const [details] = error.metadata?.get("grpc-status-details-bin") ?? [];
  if (Buffer.isBuffer(details)) return RegistryError.fromStatus(Status.fromBinary(details));
  return RegistryError.fromStatus(Status.create({ code: error.code, message: error.details }));
}
