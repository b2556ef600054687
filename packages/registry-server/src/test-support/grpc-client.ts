import * as grpc from "@grpc/grpc-js";
import { ModelService, RegistryError, Status } from "@modelreg/proto";

type Methods = (typeof ModelService.methods)[number];

/**
 * A minimal grpc-js client for ModelService's unary methods, for tests:
 * calls go over a real socket and failures come back as RegistryError
 * decoded from the wire status (code, message, grpc-status-details-bin).
 */
export function createTestClient(address: string, options: grpc.ChannelOptions = {}) {
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
  const client = new Client(address, grpc.credentials.createInsecure(), options);

  function call<T = Record<string, unknown>>(
    name: Methods["name"],
    request: object | Buffer,
    metadata: Record<string, string> = {},
    timeoutMs = 10_000,
  ): Promise<T> {
    const md = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata)) md.set(key, value);
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

  return { call, close: () => client.close(), raw: client };
}

/** The RegistryError a grpc-js ServiceError carries, details included. */
export function toRegistryError(error: grpc.ServiceError): RegistryError {
  const [details] = error.metadata?.get("grpc-status-details-bin") ?? [];
  if (Buffer.isBuffer(details)) return RegistryError.fromStatus(Status.fromBinary(details));
  return RegistryError.fromStatus(Status.create({ code: error.code, message: error.details }));
}
