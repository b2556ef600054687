import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import type { StorageCallOptions } from "../adapter";
import { abortedError } from "./call-errors";

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
      if (signal.aborted) throw abortedError(options);
      return args.node;
    },
    transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      return Promise.resolve(args.result);
    },
  };
}

/**
 * Sleeps `ms`, or less if `signal` aborts meanwhile (the caller then checks
 * it): a retry's pause should not outlast the call.
 */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
