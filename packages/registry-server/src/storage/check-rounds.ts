import { Code, RegistryError } from "@modelreg/proto";

/**
 * How many times an adapter runs a policy-checked alias move or delete
 * again when the alias or its target changed while the check ran (see
 * `SetAliasRequest.check`), before it gives up with {@link keptChanging}.
 */
export const maxCheckRounds = 5;

/** The error of a move or delete whose alias or target kept changing while the policy checked it. */
export function keptChanging(): RegistryError {
  return new RegistryError(
    Code.ABORTED,
    "The alias or the model it points at kept changing while the promotion policy was checked; nothing was changed. Retry the request.",
    { reason: "TRANSACTION_CONFLICT" },
  );
}
