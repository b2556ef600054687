import { expect } from "vitest";
import { RegistryError } from "../index";

/** The RegistryError `promise` rejects with; fails the test if it fulfils or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}
