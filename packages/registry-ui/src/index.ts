/**
 * `@modelreg/registry-ui`: the model registry's web page, prebuilt, as a
 * middleware to mount beside the REST gateway.
 *
 * CONTRACT (the lead's first cut; helper C owns and hardens it).
 */
export { createRegistryUi, type RegistryUiHandler, type RegistryUiOptions } from "./middleware";
