/**
 * `@modelreg/registry-server/testing`: the storage conformance suite. Run it
 * against your own adapter to check it keeps every rule of `StorageAdapter`.
 *
 * @packageDocumentation
 */
export { defineStorageConformanceSuite, makeModelRecord } from "./testing/conformance";
