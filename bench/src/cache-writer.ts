/**
 * Client B of the staleness measurement (`cache.ts`): another process that
 * writes through its own client, without a cache. `cache-writer.ts --target
 * host:port`; IPC `{ type: "write", id, seq }` -> UpdateModelMetadata
 * `{ set: { seq } }` -> `{ type: "written", seq, etag, ackAt }`, `ackAt`
 * being `performance.timeOrigin + performance.now()` when the answer
 * arrived (comparable across processes of this machine).
 */
import { parseArgs } from "node:util";
import { createRegistryClient } from "@modelreg/registry-client";

const { values } = parseArgs({ options: { target: { type: "string" } } });
const client = createRegistryClient({ target: values.target ?? "", insecure: true });

process.on("message", (message: { type?: string; id?: string; seq?: number }) => {
  if (message.type !== "write" || message.id === undefined || message.seq === undefined) return;
  const seq = message.seq;
  client.updateModelMetadata({ id: message.id, set: { seq: String(seq) } }).then(
    (model) =>
      process.send?.({
        type: "written",
        seq,
        etag: model.etag,
        ackAt: performance.timeOrigin + performance.now(),
      }),
    (error: unknown) => {
      process.stderr.write(`writer: write ${seq} failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
});
process.on("disconnect", () => {
  client.close();
  process.exit(0);
});
process.send?.({ type: "ready" });
