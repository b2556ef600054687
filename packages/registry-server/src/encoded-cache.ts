import { Model } from "@modelreg/proto";
import type { IMessageType } from "@protobuf-ts/runtime";

/**
 * Encoded responses of the unary methods that answer `{ model }`, kept per
 * (model id, etag) so a model read again and again is encoded once per
 * revision (encoding was a quarter of the server's CPU on GetModel). Every
 * write gives the model a new revision, hence a new etag, so an entry never
 * goes stale; ids are never reused. Bounded by bytes, oldest entries evicted
 * first.
 */
export class EncodedModelCache {
  readonly #entries = new Map<string, Buffer>();
  readonly #maxBytes: number;
  #bytes = 0;

  /** `maxBytes` 0 disables the cache. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
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
    const model = response.model;
    if (this.#maxBytes === 0 || !model || model.id === "" || model.etag === "") {
      return Buffer.from(type.toBinary(response));
    }
    // The update time too: a database restored from a backup (or failed over
    // to a replica that lost commits) can reuse a revision for other content.
    const key = `${model.id}\n${model.etag}\n${model.updateTime?.seconds}.${model.updateTime?.nanos}`;
    const cached = this.#entries.get(key);
    if (cached) return cached;
    const bytes = Buffer.from(type.toBinary(response));
    if (bytes.length <= this.#maxBytes) {
      this.#entries.set(key, bytes);
      this.#bytes += bytes.length;
      for (const [oldest, value] of this.#entries) {
        if (this.#bytes <= this.#maxBytes) break;
        this.#entries.delete(oldest);
        this.#bytes -= value.length;
      }
    }
    return bytes;
  }
}
