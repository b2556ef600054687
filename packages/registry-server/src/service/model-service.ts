import { ChangeFeed } from "../changes";
import type { StorageAdapter } from "../storage/adapter";
import type { ModelServiceHandlers, ServiceDeps } from "./deps";
import { editHandlers } from "./edits";
import { importHandlers } from "./import";
import { readHandlers } from "./reads";
import { resolveStreamSettings, type StreamSettings } from "./settings";
import { watchHandlers } from "./watch";
import { writeHandlers } from "./writes";

/** The ModelService handlers, plus the change feed's lifetime. */
export interface ModelServiceImplementation extends ModelServiceHandlers {
  /** Stops the change feed's polling and wakes every watch (they then see their signal). */
  close(): void;
}

/**
 * The ModelService's behaviour, independent of gRPC: validates requests,
 * applies them to storage and returns protobuf messages. Throws only
 * `RegistryError` for expected failures; the transport maps anything else
 * to INTERNAL without revealing it. Throws TypeError for bad `settings`.
 */
export function createModelService(
  storage: StorageAdapter,
  settings: StreamSettings = {},
): ModelServiceImplementation {
  const resolved = resolveStreamSettings(settings);
  const feed = new ChangeFeed(storage, resolved.pollIntervalMs);
  const deps: ServiceDeps = { storage, settings: resolved, feed };
  return {
    ...readHandlers(deps),
    ...writeHandlers(deps),
    ...editHandlers(deps),
    ...watchHandlers(deps),
    ...importHandlers(deps),
    close: () => feed.close(),
  };
}
