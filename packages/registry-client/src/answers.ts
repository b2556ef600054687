/**
 * The resource a single-resource response carries, which the contract always
 * sets; INTERNAL if the registry answered without it.
 *
 * @internal
 */
import { Code, type Model, type ModelAlias, RegistryError } from "@modelreg/proto";

/** The model a single-model response carries. */
export function modelOf(response: { model?: Model | undefined }): Model {
  if (response.model) return response.model;
  throw new RegistryError(Code.INTERNAL, "The registry answered without the model.");
}

/** The alias a single-alias response carries. */
export function aliasOf(response: { alias?: ModelAlias | undefined }): ModelAlias {
  if (response.alias) return response.alias;
  throw new RegistryError(Code.INTERNAL, "The registry answered without the alias.");
}
