import * as grpc from "@grpc/grpc-js";
import {
  Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListRequest,
  type HealthListResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@modelreg/proto";
import { grpcServiceDefinition } from "./grpc/definition";

// grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md)
// on the generated protobuf-ts description, so the server needs no .proto
// file at run time (grpc-health-check loads one with proto-loader at import).

/** A status the server sets for one of its services. */
export type HealthStatus = "SERVING" | "NOT_SERVING";

/** Controls the health service added by {@link addHealthService}. */
export interface HealthService {
  /**
   * Sets the status of `service` (`""` is the server as a whole), and sends
   * it to that service's open Watch streams when it changed. A name not
   * known before becomes known.
   */
  setStatus(service: string, status: HealthStatus): void;
  /**
   * Ends every open Watch with UNAVAILABLE, and every later Watch right
   * after its first answer: grpc-js's `tryShutdown` waits for open streams
   * forever. Check and List keep answering.
   */
  close(): void;
}

type WatchCall = grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

/**
 * Registers `grpc.health.v1.Health` on `server` with the `initial` status of
 * each service. Check answers NOT_FOUND for a service not in the map; Watch
 * answers SERVICE_UNKNOWN for it and stays open, then sends every change;
 * List answers every known service.
 */
export function addHealthService(server: grpc.Server, initial: Record<string, HealthStatus>): HealthService {
  const statuses = new Map<string, ServingStatus>(
    Object.entries(initial).map(([service, status]) => [service, ServingStatus[status]]),
  );
  const watches = new Set<WatchCall>();
  let closed = false;

  const endWatch = (call: WatchCall) => {
    call.emit("error", { code: grpc.status.UNAVAILABLE, details: "The server is shutting down." });
  };

  const check: grpc.handleUnaryCall<HealthCheckRequest, HealthCheckResponse> = (call, callback) => {
    const status = statuses.get(call.request.service);
    if (status === undefined) {
      callback({ code: grpc.status.NOT_FOUND, details: `unknown service: ${call.request.service}` });
    } else {
      callback(null, { status });
    }
  };

  const watch: grpc.handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse> = (call) => {
    call.write({ status: statuses.get(call.request.service) ?? ServingStatus.SERVICE_UNKNOWN });
    if (closed) {
      endWatch(call);
      return;
    }
    watches.add(call);
    call.on("cancelled", () => watches.delete(call));
  };

  const list: grpc.handleUnaryCall<HealthListRequest, HealthListResponse> = (_call, callback) => {
    const answer: HealthListResponse = { statuses: {} };
    for (const [service, status] of statuses) answer.statuses[service] = { status };
    callback(null, answer);
  };

  server.addService(grpcServiceDefinition(Health, "decoded"), { Check: check, Watch: watch, List: list });

  return {
    setStatus(service, status) {
      const value = ServingStatus[status];
      if (statuses.get(service) === value) return;
      statuses.set(service, value);
      for (const call of watches) {
        if (call.request.service === service) call.write({ status: value });
      }
    },
    close() {
      closed = true;
      for (const call of watches) endWatch(call);
      watches.clear();
    },
  };
}
