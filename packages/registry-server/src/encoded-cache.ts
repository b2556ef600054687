import { Model, modelRevisionKey } from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";
import { LRUCache } from "lru-cache";

/**
 * Encoded responses of the unary methods that answer `{ model }`, kept per
 * model revision (`modelRevisionKey`) so a model read again and again is
 * encoded once per revision (encoding was a quarter of the server's CPU on
 * GetModel). Every write gives the model a new etag, so an entry never goes
 * stale. Bounded by bytes, least recently used entries evicted first.
 */
export class EncodedModelCache {
  readonly #entries: LRUCache<string, Buffer> | undefined;

  /** `maxBytes` 0 disables the cache. */
  constructor(maxBytes: number) {
    this.#entries =
      maxBytes > 0
        ? new LRUCache<string, Buffer>({
            maxSize: maxBytes,
            // lru-cache wants a positive size; no { model } encoding is empty anyway.
            sizeCalculation: (bytes) => Math.max(1, bytes.length),
          })
        : undefined;
  }

  /**
   * Whether responses of `type` can be cached: messages whose only field is
   * `Model model = 1` (GetModelResponse, CreateModelResponse, ...). Their
   * encoding depends on the model alone, so they share entries.
   */
  static canCache(type: IMessageType<object>): boolean {
    const [field, ...others] = type.fields;
    return (
      others.length === 0 &&
      field?.no === 1 &&
      field.kind === "message" &&
      field.repeat === 0 &&
      field.T() === Model
    );
  }

  /** The encoding of `response` (a `{ model }` message of `type`), from the cache when it has it. */
  encode(type: IMessageType<object>, response: { model?: Model | undefined }): Buffer {
    const key = this.#entries && modelRevisionKey(response.model);
    if (key === undefined) return Buffer.from(type.toBinary(response));
    const cached = this.#entries?.get(key);
    if (cached) return cached;
    const bytes = Buffer.from(type.toBinary(response));
    // Larger than the whole budget: lru-cache declines it.
    this.#entries?.set(key, bytes);
    return bytes;
  }
}
