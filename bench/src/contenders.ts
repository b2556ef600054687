import type { ServerKind } from "./servers/serve";

/** How a contender is loaded. */
export type Driver =
  /** h2load POSTs the framed GetModelRequest to the gRPC method (HTTP/2, h2c). */
  | { readonly type: "h2load" }
  /** wrk GETs `/api/v1/models/{id}` over HTTP/1.1 keep-alive. */
  | { readonly type: "wrk" }
  /** A client process on the load core keeps calls in flight against the backend registry. */
  | { readonly type: "client"; readonly client: "ours" | "grpcjs"; readonly pool: number };

export interface Contender {
  readonly id: string;
  readonly label: string;
  readonly group: "gRPC server" | "REST" | "client";
  readonly driver: Driver;
  /** The contender's own server process; absent for client loops (they call the backend registry). */
  readonly server?: ServerKind;
  /** Also counts the backend registry's CPU (the gateway's registry behind it, or the client loops' server). */
  readonly usesBackend?: boolean;
}

/** Every contender, in table order. The backend registry is the `registry-memory` contender's process. */
export const contenders: readonly Contender[] = [
  {
    id: "ceiling",
    label: "bare node:http2, fixed bytes (ceiling)",
    group: "gRPC server",
    driver: { type: "h2load" },
    server: "ceiling",
  },
  {
    id: "grpcjs",
    label: "grpc-js + proto-loader",
    group: "gRPC server",
    driver: { type: "h2load" },
    server: "grpcjs",
  },
  {
    id: "connect",
    label: "connect-node (gRPC protocol)",
    group: "gRPC server",
    driver: { type: "h2load" },
    server: "connect",
  },
  {
    id: "registry-memory",
    label: "registry-server, memory store",
    group: "gRPC server",
    driver: { type: "h2load" },
    server: "registry-memory",
  },
  {
    id: "registry-sqlite",
    label: "registry-server, SQLite store",
    group: "gRPC server",
    driver: { type: "h2load" },
    server: "registry-sqlite",
  },
  {
    id: "express-json",
    label: "Express + JSON, direct",
    group: "REST",
    driver: { type: "wrk" },
    server: "express-json",
  },
  {
    id: "gateway",
    label: "gateway-express -> client -> registry (memory)",
    group: "REST",
    driver: { type: "wrk" },
    server: "gateway",
    usesBackend: true,
  },
  {
    id: "express-grpcjs",
    label: "Express route -> raw grpc-js client -> registry",
    group: "REST",
    driver: { type: "wrk" },
    server: "express-grpcjs",
    usesBackend: true,
  },
  {
    id: "client-pool1",
    label: "registry-client, poolSize 1",
    group: "client",
    driver: { type: "client", client: "ours", pool: 1 },
    usesBackend: true,
  },
  {
    id: "client-pool2",
    label: "registry-client, poolSize 2",
    group: "client",
    driver: { type: "client", client: "ours", pool: 2 },
    usesBackend: true,
  },
  {
    id: "client-pool4",
    label: "registry-client, poolSize 4",
    group: "client",
    driver: { type: "client", client: "ours", pool: 4 },
    usesBackend: true,
  },
  {
    id: "grpcjs-client",
    label: "raw grpc-js + proto-loader client, 1 channel",
    group: "client",
    driver: { type: "client", client: "grpcjs", pool: 1 },
    usesBackend: true,
  },
];
