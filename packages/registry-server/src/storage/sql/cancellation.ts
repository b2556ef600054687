import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import type { StorageCallOptions } from "../adapter";
import { stoppedError } from "../stopped";

/**
 * A Kysely plugin that fails a transaction's next statement once the call's
 * signal has aborted: Kysely runs `transformQuery` as it compiles each
 * statement, before it is sent, so nothing more reaches the database and the
 * transaction's error rolls it back. A statement already running finishes.
 * Installed only on calls that carry a signal.
 */
export function stopOnAbort(signal: AbortSignal, options: StorageCallOptions): KyselyPlugin {
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      if (signal.aborted) throw stoppedError(options);
      return args.node;
    },
    transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      return Promise.resolve(args.result);
    },
  };
}
