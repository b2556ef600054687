/**
 * Entry point of one contender's server process: `serve.ts --kind K --port P
 * [--target host:port]`. The parent starts it pinned to the server core, waits
 * for `{ type: "ready" }` on the IPC channel, and asks for `{ type: "stats" }`
 * (CPU time and RSS of this process) around each measurement.
 */
import { parseArgs } from "node:util";
import { startCeiling } from "./ceiling";
import { answerParent } from "./child";
import { startConnect } from "./connect";
import { startExpressGrpcJs } from "./express-grpcjs";
import { startExpressJson } from "./express-json";
import { startGateway } from "./gateway";
import { startGrpcJs } from "./grpcjs";
import { startRegistry } from "./registry";

export type ServerKind =
  | "ceiling"
  | "grpcjs"
  | "connect"
  | "registry-memory"
  | "registry-sqlite"
  | "express-json"
  | "gateway"
  | "express-grpcjs";

export interface StatsMessage {
  type: "stats";
  /** User + system CPU time of this process so far, in microseconds. */
  cpuMicros: number;
  rssBytes: number;
}

const { values } = parseArgs({
  options: { kind: { type: "string" }, port: { type: "string" }, target: { type: "string" } },
});
const kind = values.kind as ServerKind;
const port = Number(values.port);
const target = values.target ?? "";
let cleanup = () => {};

switch (kind) {
  case "ceiling":
    await startCeiling(port);
    break;
  case "grpcjs":
    await startGrpcJs(port);
    break;
  case "connect":
    await startConnect(port);
    break;
  case "registry-memory":
    cleanup = await startRegistry(port, "memory");
    break;
  case "registry-sqlite":
    cleanup = await startRegistry(port, "sqlite");
    break;
  case "express-json":
    await startExpressJson(port);
    break;
  case "gateway":
    await startGateway(port, target);
    break;
  case "express-grpcjs":
    await startExpressGrpcJs(port, target);
    break;
  default:
    throw new Error(`unknown server kind ${String(kind)}`);
}

answerParent(() => cleanup());
