/**
 * What an HTTP request's headers become for the gRPC call: its metadata
 * (the forwarded headers and the request id) and its deadline.
 */
import { Code, parseRevision, RegistryError } from "@modelreg/proto";
import type { GatewayRequest } from "./types";

/** A header's value, repeated headers joined as HTTP allows. */
export function header(headers: GatewayRequest["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `X-Request-Id` when it is a sensible one (it goes into logs and metadata), else a new one. */
export function requestIdOf(headers: GatewayRequest["headers"]): string {
  const incoming = header(headers, "x-request-id");
  return incoming && requestIdPattern.test(incoming) ? incoming : crypto.randomUUID();
}

const timeoutUnits: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/** `Grpc-Timeout` (gRPC over HTTP/2 spec: 1-8 digits and a unit H M S m u n) in milliseconds. */
function parseGrpcTimeout(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value.trim());
  if (!match?.[1] || !match[2]) {
    throw new RegistryError(
      Code.INVALID_ARGUMENT,
      'Grpc-Timeout must be digits and a unit, such as "5S" or "250m".',
      {
        violations: [
          { field: "Grpc-Timeout", description: "must be 1-8 digits followed by H, M, S, m, u or n" },
        ],
      },
    );
  }
  return Number(match[1]) * (timeoutUnits[match[2]] ?? 1);
}

/** `Grpc-Timeout` in ms, capped by `maxTimeoutMs`; undefined without the header. */
export function timeoutOf(request: GatewayRequest, maxTimeoutMs: number): number | undefined {
  const grpcTimeout = header(request.headers, "grpc-timeout");
  return grpcTimeout === undefined ? undefined : Math.min(parseGrpcTimeout(grpcTimeout), maxTimeoutMs);
}

/**
 * The request's consistency token: `X-Modelreg-Revision`, the revision a
 * write answered with, as the client's `minRevision`. Any route takes it
 * (only reads use it); a value that is not a revision is refused (400).
 */
export function minRevisionOf(request: GatewayRequest): bigint | undefined {
  const value = request.headers["x-modelreg-revision"];
  if (value === undefined) return undefined;
  const revision = typeof value === "string" ? parseRevision(value.trim()) : undefined;
  if (revision !== undefined) return revision;
  throw new RegistryError(
    Code.INVALID_ARGUMENT,
    "The X-Modelreg-Revision header must be one revision: a decimal integer from 0 to 9223372036854775807, as a write's X-Modelreg-Revision answered.",
    {
      violations: [
        { field: "X-Modelreg-Revision", description: "must be a decimal integer from 0 to 2^63-1" },
      ],
    },
  );
}

/**
 * grpc-js throws (a 500) on metadata it cannot send: keys outside
 * `[0-9a-z_.-]`, `-bin` keys with string values, values that are not
 * printable ASCII. Those come from the client's headers, so refuse them as 400.
 */
function checkForwardable(header: string, key: string, value: string): void {
  let problem: string | undefined;
  if (!/^[0-9a-z_.-]+$/.test(key)) problem = "its name may contain only a-z, 0-9, _ . and -";
  else if (key.endsWith("-bin")) problem = "binary (-bin) metadata cannot be forwarded";
  else if (!/^[ -~]*$/.test(value)) problem = "its value must be printable ASCII";
  if (problem === undefined) return;
  throw new RegistryError(
    Code.INVALID_ARGUMENT,
    `The ${header} header cannot be forwarded as gRPC metadata: ${problem}.`,
    { violations: [{ field: header, description: `cannot be forwarded as gRPC metadata: ${problem}` }] },
  );
}

/**
 * Metadata that only its own HTTP header may set: a proxy in front of the
 * gateway that checks `Authorization` (or strips `Cookie`) must not be
 * bypassed by the same credential sent as `Grpc-Metadata-Authorization`.
 */
const reservedKeys: ReadonlySet<string> = new Set(["authorization", "cookie"]);

/**
 * The gRPC metadata of a call: the request id, `Authorization`,
 * `Grpc-Metadata-<name>` as `<name>`, and `Cookie` if `forwardCookies`.
 * Nothing else is forwarded; `Grpc-Metadata-Authorization` and
 * `Grpc-Metadata-Cookie` are refused (400).
 */
export function metadataOf(
  request: GatewayRequest,
  requestId: string,
  forwardCookies: boolean,
): Record<string, string> {
  const metadata: Record<string, string> = { "x-request-id": requestId };
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(", ") : value;
    let key: string;
    if (name === "authorization" || (name === "cookie" && forwardCookies)) key = name;
    else if (name.startsWith("grpc-metadata-") && name.length > 14) {
      key = name.slice(14);
      if (reservedKeys.has(key)) {
        const own = key === "authorization" ? "Authorization" : "Cookie";
        throw new RegistryError(
          Code.INVALID_ARGUMENT,
          `The ${name} header is not forwarded: send ${key} in the ${own} header itself.`,
          { violations: [{ field: name, description: `send ${key} in the ${own} header` }] },
        );
      }
    } else continue;
    // The request id is the gateway's to set: logs on both sides must agree.
    if (key === "x-request-id") continue;
    checkForwardable(name, key, text);
    metadata[key] = text;
  }
  return metadata;
}
