/**
 * `@modelreg/registry-ui`: the model registry's web page, prebuilt, as a
 * middleware to mount beside the REST gateway (Express 4/5, Connect or
 * plain `node:http`).
 */
export { createRegistryUi, type RegistryUiHandler, type RegistryUiOptions } from "./middleware";
