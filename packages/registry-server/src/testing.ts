/**
 * `@modelreg/registry-server/testing`: the storage conformance suite. Run it
 * against your own adapter to check it keeps every rule of `StorageAdapter`
 * and every capability it claims.
 *
 * @packageDocumentation
 */

/** The contract the suite checks: what `createAdapter` returns, and what it claims. */
export type { ModelRecord, StorageAdapter, StorageCapabilities } from "./storage/adapter";
/** Registers the suite with your framework's `describe` and `it`; `makeModelRecord` makes valid records for your own tests. */
export { defineStorageConformanceSuite, makeModelRecord } from "./testing/conformance";
/** The suite's options, and the part of your framework's test context it uses to mark tests skipped. */
export type { StorageConformanceOptions, StorageTestContext, StorageTestSettings } from "./testing/options";
