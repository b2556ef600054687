import { Code } from "@modelreg/proto";
import { defineCallOptionsTests } from "./call-options";
import type { TestFn } from "./harness";

/**
 * Registers the tests of `capabilities.cancellation`: a call whose `signal`
 * is already aborted rejects with CANCELLED and changes nothing, while a
 * signal not aborted changes nothing about the call.
 */
export function defineCancellationTests(test: TestFn): void {
  defineCallOptionsTests(test, {
    code: Code.CANCELLED,
    refusedWhen: "with an aborted signal",
    refused: () => ({ signal: AbortSignal.abort() }),
    allowedWhen: "with a signal not aborted",
    allowed: () => ({ signal: new AbortController().signal }),
  });
}
