import * as grpc from "@grpc/grpc-js";
import {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthListRequest,
  HealthListResponse,
  ModelService,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@modelreg/proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../../../test-support/waiting";
import { addHealthService, type HealthService } from "./health";
import { createRegistryServer } from "./server";
import { createMemoryStorage } from "./storage/memory";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function listen(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return `127.0.0.1:${port}`;
}

/** A grpc-js health client on the generated messages. */
function healthClient(address: string) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const serialize = (value: HealthCheckRequest) => Buffer.from(HealthCheckRequest.toBinary(value));
  return {
    check: (service: string) =>
      new Promise<ServingStatus>((resolve, reject) =>
        client.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          serialize,
          (bytes: Buffer) => HealthCheckResponse.fromBinary(bytes),
          { service },
          (error, response) => (error ? reject(error) : resolve(response?.status ?? ServingStatus.UNKNOWN)),
        ),
      ),
    list: () =>
      new Promise<HealthListResponse>((resolve, reject) =>
        client.makeUnaryRequest(
          "/grpc.health.v1.Health/List",
          (value: HealthListRequest) => Buffer.from(HealthListRequest.toBinary(value)),
          (bytes: Buffer) => HealthListResponse.fromBinary(bytes),
          {},
          (error, response) => (error || !response ? reject(error) : resolve(response)),
        ),
      ),
    /** Opens a Watch; `received` fills as statuses arrive, `ended` resolves with the final status. */
    watch(service: string) {
      const call = client.makeServerStreamRequest(
        "/grpc.health.v1.Health/Watch",
        serialize,
        (bytes: Buffer) => HealthCheckResponse.fromBinary(bytes),
        { service },
      );
      const received: ServingStatus[] = [];
      call.on("data", (response: HealthCheckResponse) => received.push(response.status));
      call.on("error", () => {}); // the status below says it all
      const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      return { received, ended, cancel: () => call.cancel() };
    },
    close: () => client.close(),
  };
}

describe("grpc.health.v1.Health", () => {
  let server: grpc.Server;
  let health: HealthService;
  let client: ReturnType<typeof healthClient>;

  beforeAll(async () => {
    server = new grpc.Server();
    health = addHealthService(server, { "": "SERVING", "svc.A": "NOT_SERVING" });
    client = healthClient(await listen(server));
  });
  afterEach(() => {
    health.setStatus("", "SERVING");
    health.setStatus("svc.A", "NOT_SERVING");
  });
  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  it("Check answers the status, and NOT_FOUND for an unknown service", async () => {
    expect(await client.check("")).toBe(ServingStatus.SERVING);
    expect(await client.check("svc.A")).toBe(ServingStatus.NOT_SERVING);
    health.setStatus("svc.A", "SERVING");
    expect(await client.check("svc.A")).toBe(ServingStatus.SERVING);
    await expect(client.check("svc.Nope")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("List answers every known service", async () => {
    expect((await client.list()).statuses).toEqual({
      "": { status: ServingStatus.SERVING },
      "svc.A": { status: ServingStatus.NOT_SERVING },
    });
  });

  it("Watch sends the status, then every change, and nothing for a status set again", async () => {
    const watch = client.watch("svc.A");
    try {
      await until(() => watch.received.length === 1, "the first status arrived");
      health.setStatus("svc.A", "SERVING");
      health.setStatus("svc.A", "SERVING");
      health.setStatus("", "NOT_SERVING"); // another service: not this watch's business
      health.setStatus("svc.A", "NOT_SERVING");
      await until(() => watch.received.length === 3, "both changes arrived");
      await new Promise((r) => setTimeout(r, 50));
      expect(watch.received).toEqual([
        ServingStatus.NOT_SERVING,
        ServingStatus.SERVING,
        ServingStatus.NOT_SERVING,
      ]);
    } finally {
      watch.cancel();
    }
  });

  it("Watch of an unknown service sends SERVICE_UNKNOWN and stays open until the service is known", async () => {
    const watch = client.watch("svc.Later");
    try {
      await until(() => watch.received.length === 1, "the first status arrived");
      expect(watch.received).toEqual([ServingStatus.SERVICE_UNKNOWN]);
      health.setStatus("svc.Later", "SERVING");
      await until(() => watch.received.length === 2, "the new status arrived");
      expect(watch.received[1]).toBe(ServingStatus.SERVING);
      expect(await client.check("svc.Later")).toBe(ServingStatus.SERVING);
    } finally {
      watch.cancel();
    }
  });
});

describe("closing the health service", () => {
  it("ends open and later Watch streams with UNAVAILABLE, so tryShutdown completes", async () => {
    const server = new grpc.Server();
    const health = addHealthService(server, { "": "SERVING" });
    const client = healthClient(await listen(server));
    try {
      const open = client.watch("");
      await until(() => open.received.length === 1, "the first status arrived");
      health.setStatus("", "NOT_SERVING");
      health.close();
      const status = await open.ended;
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(open.received).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);

      const later = client.watch("");
      expect((await later.ended).code).toBe(grpc.status.UNAVAILABLE);
      expect(later.received).toEqual([ServingStatus.NOT_SERVING]);
      expect(await client.check("")).toBe(ServingStatus.NOT_SERVING);
    } finally {
      client.close();
    }
    await new Promise<void>((resolve, reject) => server.tryShutdown((e) => (e ? reject(e) : resolve())));
  });

  it("a registry server's shutdown does not wait for a health watcher", async () => {
    const server = createRegistryServer({
      storage: createMemoryStorage(),
      insecure: true,
      host: "127.0.0.1",
      port: 0,
      logger: quiet,
    });
    const { port } = await server.listen();
    const client = healthClient(`127.0.0.1:${port}`);
    try {
      const watch = client.watch(ModelService.typeName);
      await until(() => watch.received.length === 1, "the first status arrived");
      const started = Date.now();
      await server.shutdown({ graceMs: 10_000 });
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await watch.ended).code).toBe(grpc.status.UNAVAILABLE);
      expect(watch.received).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    } finally {
      client.close();
    }
  });
});
