import { request as httpRequest } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { createRegistryClient } from "@modelreg/registry-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { within } from "../../../test-support/waiting";
import { expectError, expressVersions, Resources, startGateway } from "./test-support/harness";

/** A GetModel call the bare server received and never answers. */
interface HangingCall {
  readonly requestId: string | undefined;
  /** Resolves when the server sees the call cancelled. */
  readonly cancelled: Promise<void>;
}

describe.each(expressVersions)("an HTTP client that goes away on $name", ({ express }) => {
  const resources = new Resources();
  const arrived: HangingCall[] = [];
  const waiting: ((call: HangingCall) => void)[] = [];
  let base: string;

  /** The next GetModel call the server receives. */
  const nextCall = () =>
    within(
      new Promise<HangingCall>((resolve) => {
        const call = arrived.shift();
        if (call) resolve(call);
        else waiting.push(resolve);
      }),
      3000,
      "the GetModel call reaching the server",
    );

  beforeAll(async () => {
    // Not the registry: a bare grpc-js server whose GetModel never answers.
    const server = new grpc.Server();
    server.register<Buffer, Buffer>(
      "/modelregistry.v1.ModelService/GetModel",
      (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
        const [requestId] = call.metadata.get("x-request-id");
        const hanging: HangingCall = {
          requestId: typeof requestId === "string" ? requestId : undefined,
          cancelled: new Promise((resolve) => call.on("cancelled", () => resolve())),
        };
        const waiter = waiting.shift();
        if (waiter) waiter(hanging);
        else arrived.push(hanging);
      },
      (response: Buffer) => response,
      (request: Buffer) => request,
      "unary",
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    resources.add(() => server.forceShutdown());
    const client = createRegistryClient({ target: `127.0.0.1:${port}`, insecure: true, retry: false });
    resources.add(() => client.close());
    base = await startGateway(resources, express, { client });
  });
  afterAll(() => resources.closeAll());

  it("fetch aborted mid-call: the server sees the gRPC call cancelled", async () => {
    const controller = new AbortController();
    const pending = fetch(`${base}/api/v1/models/some-model`, {
      headers: { "x-request-id": "abort-fetch" },
      signal: controller.signal,
    }).then(
      () => "answered",
      (error: unknown) => (error as Error).name,
    );
    const call = await nextCall();
    expect(call.requestId).toBe("abort-fetch");
    controller.abort();
    expect(await pending).toBe("AbortError");
    await within(call.cancelled, 3000, "the server seeing the cancellation");
  });

  it("http.request destroyed mid-call: the server sees the gRPC call cancelled", async () => {
    const url = new URL(`${base}/api/v1/models/another-model`);
    const request = httpRequest({
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: { "x-request-id": "destroy-request" },
    });
    const closed = new Promise<boolean>((resolve) => {
      request.on("response", () => resolve(true));
      request.on("error", () => resolve(false));
      request.on("close", () => resolve(false));
    });
    request.end();
    const call = await nextCall();
    expect(call.requestId).toBe("destroy-request");
    request.destroy();
    expect(await closed).toBe(false);
    await within(call.cancelled, 3000, "the server seeing the cancellation");
  });

  it("a client that stays gets its answer: 504 at its Grpc-Timeout", async () => {
    const pending = fetch(`${base}/api/v1/models/patient-model`, { headers: { "grpc-timeout": "200m" } });
    const call = await nextCall();
    const response = await pending;
    await expectError(response, 504, "DEADLINE_EXCEEDED");
    // The deadline, not a disconnect, ended it; the server sees that as a cancellation too.
    await within(call.cancelled, 3000, "the server seeing the deadline");
  });
});
