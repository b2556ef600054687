/** Test helper for calls that must fail, in any package. */
import { RegistryError } from "@modelreg/proto";

/** What `promise` rejects with, as a RegistryError; throws if it fulfils. */
export async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    return RegistryError.from(error);
  }
  throw new Error("the call succeeded");
}
