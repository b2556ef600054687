import type * as grpc from "@grpc/grpc-js";
import type { IMessageType } from "@protobuf-ts/runtime";
import type { CallContext, MethodInfo } from "../context";
import { type RequestStream, serveClientStream } from "./client-stream";
import { grpcServiceDefinition } from "./definition";
import type { BindingRuntime, MethodBinding } from "./runtime";
import { type ResponseStream, serveServerStream } from "./server-stream";
import { serveUnary } from "./unary";

/** Binds a unary handler taking requests of type `input`. */
export function unary<I extends object, O extends object>(
  input: IMessageType<I>,
  handle: (request: I, context: CallContext) => Promise<O>,
): MethodBinding {
  return { kind: "unary", input, implement: (method, runtime) => serveUnary(method, runtime, input, handle) };
}

/** Binds a server-streaming handler taking a request of type `input`. */
export function serverStreaming<I extends object, O extends object>(
  input: IMessageType<I>,
  handle: (request: I, responses: ResponseStream<O>, context: CallContext) => Promise<void>,
): MethodBinding {
  return {
    kind: "serverStreaming",
    input,
    implement: (method, runtime) => serveServerStream(method, runtime, input, handle),
  };
}

/** Binds a client-streaming handler reading requests of type `input`. */
export function clientStreaming<I extends object, O extends object>(
  input: IMessageType<I>,
  handle: (requests: RequestStream<I>, context: CallContext) => Promise<O>,
): MethodBinding {
  return {
    kind: "clientStreaming",
    input,
    implement: (method, runtime) => serveClientStream(method, runtime, input, handle),
  };
}

function kindOf(method: MethodInfo): MethodBinding["kind"] {
  if (method.clientStreaming && method.serverStreaming) {
    throw new Error(`bindService: ${method.name} streams both ways, which the binding does not serve`);
  }
  if (method.clientStreaming) return "clientStreaming";
  return method.serverStreaming ? "serverStreaming" : "unary";
}

/**
 * The grpc-js definition and implementation of `service` from `table`, one
 * binding per method keyed by its proto name. Checked against the
 * generated description, so a server is never created with a method left
 * out, bound with the wrong streaming kind, or decoding another method's
 * request type: each of those throws here.
 */
export function bindService(
  service: { readonly typeName: string; readonly methods: readonly MethodInfo[] },
  table: Readonly<Record<string, MethodBinding>>,
  runtime: BindingRuntime,
): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const implementation: grpc.UntypedServiceImplementation = {};
  const names = new Set(service.methods.map((method) => method.name));
  const extra = Object.keys(table).filter((name) => !names.has(name));
  if (extra.length > 0) throw new Error(`bindService: ${service.typeName} has no method ${extra.join(", ")}`);
  for (const method of service.methods) {
    const binding = Object.hasOwn(table, method.name) ? table[method.name] : undefined;
    if (!binding) throw new Error(`bindService: no handler for ${service.typeName}/${method.name}`);
    const kind = kindOf(method);
    if (binding.kind !== kind) {
      throw new Error(`bindService: ${method.name} is ${kind}, but its handler is bound as ${binding.kind}`);
    }
    if (binding.input !== method.I) {
      throw new Error(
        `bindService: ${method.name} takes ${method.I.typeName}, not ${binding.input.typeName}`,
      );
    }
    implementation[method.name] = binding.implement(method, runtime);
  }
  return { definition: grpcServiceDefinition(service, "raw"), implementation };
}
