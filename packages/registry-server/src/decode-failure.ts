import type { RegistryError } from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";

/**
 * Items of a client stream that could not be decoded. The stream's type
 * (`RpcOutputStream<ImportModelsRequest>`) has room for messages only, so
 * the binding yields an empty message in place of the bytes and records
 * here why; the handler asks {@link decodeFailureOf} and reports that item
 * alone. Weak: an item forgotten by the handler is forgotten here too.
 */
const failures = new WeakMap<object, RegistryError>();

/** A placeholder message of `type` standing for an item that failed to decode with `error`. */
export function undecodable<T extends object>(type: IMessageType<T>, error: RegistryError): T {
  const placeholder = type.create();
  failures.set(placeholder, error);
  return placeholder;
}

/** Why `item` could not be decoded, when it is such a placeholder; `undefined` for a real message. */
export function decodeFailureOf(item: object): RegistryError | undefined {
  return failures.get(item);
}
