import { ChangeFeed } from "../changes";
import { AliasPolicyChecker } from "../policy/check";
import type { AliasPolicy } from "../policy/policy";
import type { StorageAdapter } from "../storage/adapter";
import { aliasHandlers } from "./aliases";
import type { ModelServiceHandlers, ServiceDeps } from "./deps";
import { editHandlers } from "./edits";
import { historyHandlers } from "./history";
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

/** What else shapes the service's behaviour. */
export interface ModelServiceOptions {
  /** The promotion policy: protected aliases and what moving them requires. Default: none. */
  readonly aliasPolicy?: AliasPolicy | undefined;
}

/**
 * The ModelService's behaviour, independent of gRPC: validates requests,
 * applies them to storage and returns protobuf messages. Throws only
 * `RegistryError` for expected failures; the transport maps anything else
 * to INTERNAL without revealing it. Throws TypeError for bad `settings` or
 * a bad `aliasPolicy`.
 */
export function createModelService(
  storage: StorageAdapter,
  settings: StreamSettings = {},
  options: ModelServiceOptions = {},
): ModelServiceImplementation {
  const resolved = resolveStreamSettings(settings);
  const policy = new AliasPolicyChecker(options.aliasPolicy);
  const feed = new ChangeFeed(storage, resolved.pollIntervalMs);
  const deps: ServiceDeps = { storage, settings: resolved, feed, policy };
  return {
    ...readHandlers(deps),
    ...writeHandlers(deps),
    ...editHandlers(deps),
    ...aliasHandlers(deps),
    ...historyHandlers(deps),
    ...watchHandlers(deps),
    ...importHandlers(deps),
    close: () => feed.close(),
  };
}
