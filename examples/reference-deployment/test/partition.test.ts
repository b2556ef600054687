// The registry process on PostgreSQL through a TCP proxy that goes silent
// (packets dropped, nothing reset), with the gateway process in front and
// the defaults an operator gets: REST answers 503 and /readyz turns 503
// within 2 s of the partition; both recover within 1 s of the network
// returning; no acknowledged write is lost.
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { startTcpProxy, type TcpProxy } from "../../../test-support/tcp-proxy";
import { msUntil } from "../../../test-support/waiting";
import {
  connectPostgres,
  http,
  postgresUrl,
  type StartedProcess,
  startGateway,
  startRegistry,
} from "./processes";

const admin = await connectPostgres("partition.test.ts");
const schema = `partition_${randomBytes(5).toString("hex")}`;
let proxy: TcpProxy | undefined;
const started: StartedProcess[] = [];

/**
 * REST answering again after the heal: the acceptance's 1 s plus a margin for
 * two processes and a PostgreSQL reconnect on a loaded CI machine (see its use).
 */
const recoverWithinMs = 2000;

afterAll(async () => {
  for (const process of started) process.child.kill("SIGKILL");
  await proxy?.close();
  await admin?.query(`drop schema if exists "${schema}" cascade`);
  await admin?.end();
});

(admin ? describe : describe.skip)(
  "the reference deployment through a silent partition from PostgreSQL",
  () => {
    it("answers 503 and /readyz 503 within 2 s, and 200 again within 1 s of the network returning", async () => {
      const target = new URL(postgresUrl);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const viaProxy = new URL(postgresUrl);
      viaProxy.port = String(proxy.port);
      const registry = startRegistry(viaProxy.toString(), {
        DATABASE_SCHEMA: schema,
        REGISTRY_HTTP_PORT: "0",
      });
      started.push(registry);
      const ready = await registry.ready;
      const readyz = `http://127.0.0.1:${Number(ready.httpPort)}/readyz`;
      // A generous deadline: what bounds the answer must be the registry failing fast, not the deadline.
      // No read cache: this is the database outage as the registry reports it, not what a cache still knows.
      const gateway = startGateway(`127.0.0.1:${Number(ready.port)}`, {
        REGISTRY_TIMEOUT_MS: "20000",
        CACHE_URL: "off",
      });
      started.push(gateway);
      const base = `http://127.0.0.1:${(await gateway.ready).port}`;
      const readiness = async () => (await fetch(readyz)).status;

      const created = await http(base, "POST", "/api/v1/models", {
        name: "through-a-partition",
        version: "1",
        description: "acknowledged",
      });
      expect(created.status).toBe(200);
      const id = String((created.json.model as { id: string } | undefined)?.id ?? created.json.id);
      expect((await http(base, "GET", `/api/v1/models/${id}`)).status).toBe(200);
      expect(await readiness()).toBe(200);

      const partitionedAt = Date.now();
      proxy.partition();
      const timed = (answer: Promise<Awaited<ReturnType<typeof http>>>) =>
        answer.then((a) => ({ ...a, ms: Date.now() - partitionedAt }));
      // A read (retried by the gateway's client on UNAVAILABLE) and a write; /readyz watched meanwhile.
      const [read, write, notReadyMs] = await Promise.all([
        timed(http(base, "GET", `/api/v1/models/${id}`)),
        timed(http(base, "POST", "/api/v1/models", { name: "through-a-partition", version: "2" })),
        msUntil(partitionedAt, async () => (await readiness()) === 503, "/readyz 503", 5000),
      ]);
      for (const answer of [read, write]) {
        expect(answer.status).toBe(503);
        expect(answer.json).toMatchObject({
          error: { status: "UNAVAILABLE", message: expect.stringMatching(/database is unreachable/) },
        });
        expect(JSON.stringify(answer.json)).not.toMatch(/127\.0\.0\.1|postgres|select|stack/i);
        expect(answer.ms, "503 within 2 s of the partition").toBeLessThan(2000);
      }
      expect(notReadyMs, "/readyz 503 within 2 s of the partition").toBeLessThan(2000);

      const healedAt = Date.now();
      proxy.heal();
      const [readMs, readyMs] = await Promise.all([
        msUntil(
          healedAt,
          async () => (await http(base, "GET", `/api/v1/models/${id}`)).status === 200,
          "a REST read answering 200",
          5000,
        ),
        msUntil(healedAt, async () => (await readiness()) === 200, "/readyz 200", 5000),
      ]);
      process.stdout.write(
        `[partition REST PostgreSQL] GET 503 after ${read.ms} ms, POST 503 after ${write.ms} ms, /readyz 503 ` +
          `${notReadyMs} ms after the partition; GET 200 ${readMs} ms, /readyz 200 ${readyMs} ms after the heal\n`,
      );
      // The acceptance is 1 s (asserted in process by packages/registry-server/src/partition.test.ts);
      // here two processes, an HTTP hop and a PostgreSQL reconnect share a loaded
      // 2-core CI machine, so the bound has a margin. The measured times are printed above.
      expect(readMs, "REST 200 within 2 s of the heal").toBeLessThan(recoverWithinMs);
      expect(readyMs, "/readyz 200 within 2 s of the heal").toBeLessThan(recoverWithinMs);
      const after = await http(base, "GET", `/api/v1/models/${id}`);
      expect(after.json).toMatchObject({ description: "acknowledged" });
    }, 60_000);
  },
);
