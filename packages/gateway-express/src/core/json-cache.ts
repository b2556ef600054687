import { Model, modelRevisionKey } from "@modelreg/proto";
import { LRUCache } from "lru-cache";
import { findField, type Route } from "./routes";

/** A single-model answer as sent: its JSON body and its etag. */
export interface CachedJson {
  readonly body: string;
  readonly etag: string;
}

/**
 * The JSON of single-model answers per model revision, bounded by size
 * (least recently used out first). Writing a model's JSON costs more than
 * the gRPC call's share of a GET; an entry never goes stale, since every
 * write makes a new revision key (`modelRevisionKey`).
 */
export class JsonCache {
  readonly #entries: LRUCache<string, CachedJson>;
  /** Whether a route answers with its response's `model` field. */
  readonly #answersModel = new WeakMap<Route, boolean>();

  constructor(maxBytes: number) {
    this.#entries = new LRUCache<string, CachedJson>({
      maxSize: maxBytes,
      // UTF-16 strings: two bytes per code unit.
      sizeCalculation: (value, key) => (value.body.length + value.etag.length + key.length) * 2,
    });
  }

  /** The key of a response whose route answers with its `model` field; undefined for other answers. */
  keyOf(route: Route, response: object): string | undefined {
    let answersModel = this.#answersModel.get(route);
    if (answersModel === undefined) {
      const field = route.responseBody === "model" ? findField(route.output, "model") : undefined;
      answersModel = field?.kind === "message" && field.T().typeName === Model.typeName;
      this.#answersModel.set(route, answersModel);
    }
    // The route's output was checked to carry a Model in `model`.
    return answersModel ? modelRevisionKey((response as { model?: Model }).model) : undefined;
  }

  get(key: string): CachedJson | undefined {
    return this.#entries.get(key);
  }

  set(key: string, value: CachedJson): void {
    this.#entries.set(key, value);
  }
}
