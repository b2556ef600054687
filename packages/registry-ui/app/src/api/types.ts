/**
 * The REST API's JSON, as the gateway writes it (proto3 JSON: lowerCamelCase
 * names, every field present, int64 as a decimal string, timestamps as RFC 3339).
 */

/** A lineage record: where a version came from. */
export interface Lineage {
  readonly runUri: string;
  readonly codeRevision: string;
  readonly datasetUris: readonly string[];
  readonly parentModelIds: readonly string[];
}

/** One model version. */
export interface Model {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly framework: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly artifactUri: string;
  readonly artifactDigest: string;
  /** A quoted string, e.g. `"3"`. */
  readonly etag: string;
  readonly createTime: string;
  readonly updateTime: string;
  /** Absent on models that never had one. */
  readonly lineage?: Lineage;
}

/** A named pointer `name@alias -> version`. */
export interface ModelAlias {
  readonly name: string;
  readonly alias: string;
  readonly version: string;
  readonly modelId: string;
  readonly etag: string;
  readonly updateTime?: string;
  readonly updatedBy: string;
}

/** The change types, as the JSON names them. */
export type ModelEventType =
  | "MODEL_EVENT_TYPE_UNSPECIFIED"
  | "MODEL_EVENT_TYPE_CREATED"
  | "MODEL_EVENT_TYPE_UPDATED"
  | "MODEL_EVENT_TYPE_DELETED"
  | "MODEL_EVENT_TYPE_ALIAS_SET"
  | "MODEL_EVENT_TYPE_ALIAS_DELETED"
  | "MODEL_EVENT_TYPE_LEFT_FILTER";

/** One committed change (a watch event). */
export interface ModelEvent {
  readonly type: ModelEventType;
  readonly model?: Model;
  readonly modelId: string;
  /** int64 as a decimal string. */
  readonly revision: string;
  readonly commitTime?: string;
  readonly alias?: ModelAlias;
}

/** One message of the watch stream: a change, or progress (no `event`). */
export interface WatchMessage {
  readonly event?: ModelEvent;
  readonly revision: string;
}

/** A `google.rpc.Status` as JSON (a refused promotion's error). */
export interface StatusJson {
  readonly code: number;
  readonly message: string;
  readonly details?: readonly Record<string, unknown>[];
}

/** One audit-trail entry (ListModelHistory). */
export interface HistoryEntry {
  readonly revision: string;
  readonly commitTime?: string;
  readonly actor: string;
  readonly requestId: string;
  readonly type: ModelEventType;
  readonly before?: Model;
  readonly after?: Model;
  readonly aliasBefore?: ModelAlias;
  readonly aliasAfter?: ModelAlias;
  /** Set when a promotion policy refused the move (nothing changed). */
  readonly refusal?: StatusJson;
}

/** A page of a list call. */
export interface Page<T> {
  readonly items: readonly T[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}
