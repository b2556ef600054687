import * as grpc from "@grpc/grpc-js";
import { Code, ModelService, RegistryError, Status } from "@modelreg/proto";
import type { Logger } from "./logger";
import type { ModelServiceHandlers } from "./service";
import type { StorageCallOptions } from "./storage/adapter";

/** What an {@link Authorize} hook sees of a call. */
export interface CallInfo {
  /** The full method path, for example `/modelregistry.v1.ModelService/CreateModel`. */
  readonly method: string;
  /** The request headers; read `authorization` here. */
  readonly metadata: grpc.Metadata;
  /** The caller's address. */
  readonly peer: string;
}

/**
 * Runs before every ModelService call. Throw (or reject with) a
 * `RegistryError` with `Code.UNAUTHENTICATED` or `Code.PERMISSION_DENIED` to
 * refuse the call; anything else thrown refuses it as INTERNAL.
 */
export type Authorize = (call: CallInfo) => void | Promise<void>;

/** The call's deadline in `Date.now()` milliseconds, or `undefined` when the caller set none. */
function deadlineOf(call: grpc.ServerUnaryCall<Buffer, object>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Turns any error into what grpc-js sends: a numeric code, a safe message, and google.rpc.Status details. */
function toServiceError(error: unknown, method: string, logger: Logger): Partial<grpc.StatusObject> {
  const registryError = RegistryError.from(error);
  if (
    registryError !== error ||
    registryError.code === Code.INTERNAL ||
    registryError.code === Code.UNKNOWN
  ) {
    // Unexpected: the caller gets a generic message, the log gets the rest.
    logger.error({ method, err: error }, "unexpected error in handler");
  } else if (registryError.code === Code.UNAVAILABLE) {
    logger.warn({ method, err: registryError.cause ?? registryError }, registryError.message);
  }
  const metadata = new grpc.Metadata();
  if (registryError.details.length > 0) {
    metadata.set("grpc-status-details-bin", Buffer.from(Status.toBinary(registryError.toStatus())));
  }
  return { code: registryError.code as number as grpc.status, details: registryError.message, metadata };
}

/**
 * Builds the grpc-js service definition and handlers for ModelService from
 * the generated protobuf-ts description. Our own adapter instead of
 * @protobuf-ts/grpc-backend: errors must reach grpc-js as numeric codes with
 * details and never with a raw exception message, and a request that fails
 * to decode must be INVALID_ARGUMENT, not INTERNAL.
 */
export function bindModelService(
  handlers: ModelServiceHandlers,
  options: { logger: Logger; authorize?: Authorize | undefined },
): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  const { logger, authorize } = options;

  for (const method of ModelService.methods) {
    const path = `/${ModelService.typeName}/${method.name}`;
    definition[method.name] = {
      path,
      originalName: method.localName,
      requestStream: method.clientStreaming,
      responseStream: method.serverStreaming,
      // Decoded in the handler, so a malformed message becomes INVALID_ARGUMENT.
      requestSerialize: (value: object) => value as Buffer,
      requestDeserialize: (bytes: Buffer) => bytes as object,
      responseSerialize: (value: object) => Buffer.from(method.O.toBinary(value)),
      responseDeserialize: (bytes: Buffer) => method.O.fromBinary(bytes),
    };

    const handle = (
      handlers as unknown as Record<
        string,
        ((request: object, call: StorageCallOptions) => Promise<object>) | undefined
      >
    )[method.localName]?.bind(handlers);

    if (method.clientStreaming || method.serverStreaming || !handle) {
      // Streaming methods arrive with issue 8; until then they say so clearly.
      implementation[method.name] = (
        call: grpc.ServerWritableStream<Buffer, object> | grpc.ServerReadableStream<Buffer, object>,
        callback?: grpc.sendUnaryData<object>,
      ) => {
        const error = { code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not implemented yet.` };
        if (callback) callback(error);
        else (call as grpc.ServerWritableStream<Buffer, object>).emit("error", error);
      };
      continue;
    }

    implementation[method.name] = (
      call: grpc.ServerUnaryCall<Buffer, object>,
      callback: grpc.sendUnaryData<object>,
    ) => {
      const run = async () => {
        if (authorize) await authorize({ method: path, metadata: call.metadata, peer: call.getPeer() });
        let request: object;
        try {
          request = method.I.fromBinary(call.request);
        } catch (cause) {
          throw new RegistryError(
            Code.INVALID_ARGUMENT,
            `The request is not a valid ${method.I.typeName} message.`,
            {
              cause,
            },
          );
        }
        return handle(request, { deadline: deadlineOf(call) });
      };
      run().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error, path, logger)),
      );
    };
  }
  return { definition: definition as grpc.ServiceDefinition, implementation };
}
