// The README's gated-promotion example, run as its own process with the
// README's own policy file: issue 15's promotion acceptance through it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Code, type Model } from "@modelreg/proto";
import { afterAll, expect, it } from "vitest";
import { spawnReadmeExample } from "../../../test-support/readme-examples";
import {
  as,
  expectError,
  preconditionViolations,
  subjects,
  writeAuthFile,
} from "./test-support/alias-registry";
import { createTestClient } from "./test-support/grpc-client";

const readme = resolve(import.meta.dirname, "../README.md");
const tmp = mkdtempSync(join(tmpdir(), "modelreg-readme-aliases-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The README's policy file: the ```yaml block of its Gated promotion section. */
function readmePolicy(): string {
  const text = readFileSync(readme, "utf8");
  const section = text.slice(text.indexOf("### Gated promotion"));
  const match = /```yaml\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error("the README's Gated promotion section has no yaml block");
  return match[1];
}

it("runs the README's promotion example with its policy file: role first, then evidence, then the move", async () => {
  const policyFile = join(tmp, "alias-policy.yaml");
  writeFileSync(policyFile, readmePolicy());
  const authFile = join(tmp, "auth.json");
  writeAuthFile(authFile, ["writer", "admin"]);
  const child = spawnReadmeExample(readme, "promotion", {
    PORT: "0",
    AUTH_FILE: authFile,
    ALIAS_POLICY_FILE: policyFile,
  });
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        const log = JSON.parse(line) as Record<string, unknown>;
        if (log.msg === "gRPC server listening") resolvePort(Number(log.port));
      });
      child.once("exit", (code) => reject(new Error(`example exited early (${code})`)));
    });
    const client = createTestClient(`127.0.0.1:${port}`);
    try {
      const digest = `sha256:${"e".repeat(64)}`;
      const { model } = await client.call<{ model: Model }>(
        "CreateModel",
        {
          model: { name: "bert", version: "1.1.0", artifactDigest: digest, metadata: { "eval.auc": "0.93" } },
        },
        as("writer"),
      );
      const move = { name: "bert", alias: "production", version: "1.1.0" };
      await expectError(
        client.call("SetModelAlias", move, as("writer")),
        Code.PERMISSION_DENIED,
        "ALIAS_PROTECTED",
      );
      const unmet = await expectError(
        client.call("SetModelAlias", move, as("admin")),
        Code.FAILED_PRECONDITION,
      );
      expect(preconditionViolations(unmet.details).map((v) => v.subject)).toEqual(["metadata.eval.passed"]);
      await client.call(
        "UpdateModelMetadata",
        { id: model.id, set: { "eval.passed": "true" } },
        as("writer"),
      );
      const { alias } = await client.call<{ alias: { version: string; updatedBy: string } }>(
        "SetModelAlias",
        move,
        as("admin"),
      );
      expect(alias).toMatchObject({ version: "1.1.0", updatedBy: subjects.admin });
    } finally {
      client.close();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  }
  expect(await exited).toBe(0);
}, 30_000);
