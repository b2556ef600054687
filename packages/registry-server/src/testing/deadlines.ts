import { Code } from "@modelreg/proto";
import { defineCallOptionsTests } from "./call-options";
import type { TestFn } from "./harness";

/**
 * Registers the tests of `capabilities.deadlines`: a call whose `deadline`
 * has passed rejects with DEADLINE_EXCEEDED and changes nothing, while a
 * deadline still ahead changes nothing about the call.
 */
export function defineDeadlineTests(test: TestFn): void {
  defineCallOptionsTests(test, {
    code: Code.DEADLINE_EXCEEDED,
    refusedWhen: "with a deadline already past",
    refused: () => ({ deadline: Date.now() - 1_000 }),
    allowedWhen: "with a deadline a minute ahead",
    allowed: () => ({ deadline: Date.now() + 60_000 }),
  });
}
