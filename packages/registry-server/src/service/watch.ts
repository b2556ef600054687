import { Code, RegistryError, type WatchModelsRequest, type WatchModelsResponse } from "@modelreg/proto";
import { type ChangeFeed, changePageSize, FeedEntry } from "../changes";
import type { CallContext } from "../context";
import type { FilterExpression } from "../filter/ast";
import { evaluateFilter } from "../filter/evaluate";
import { FilterSyntaxError, parseFilter } from "../filter/parse";
import type { StorageAdapter } from "../storage/adapter";
import { invalidArgument } from "../validation";
import { type ModelServiceHandlers, type ServiceDeps, storageOptions } from "./deps";

/** The shortest `progress_interval` a watcher may ask for. */
const minProgressIntervalMs = 100;

const pruned = (after: number, prunedThrough: number) =>
  new RegistryError(
    Code.OUT_OF_RANGE,
    `after_revision ${after} is older than the retained change history (changes up to ${prunedThrough} were pruned); list the models again and watch from the latest revision.`,
    { reason: "REVISION_PRUNED" },
  );

const historyBehind = (cursor: number, latest: number) =>
  new RegistryError(
    Code.OUT_OF_RANGE,
    `The change history went back from revision ${cursor} to ${latest} (the database was restored or failed over); list the models again and watch from the latest revision.`,
    { reason: "REVISION_AHEAD" },
  );

function watchFilter(request: WatchModelsRequest): FilterExpression | undefined {
  try {
    return request.filter ? parseFilter(request.filter) : undefined;
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw invalidArgument("filter", error.description);
    throw error;
  }
}

/**
 * The watch's progress interval: `progress_interval` when given (at least
 * 100 ms), capped at the server's own; unset, the server's.
 */
function progressInterval(request: WatchModelsRequest, serverMs: number): number {
  const asked = request.progressInterval;
  if (asked === undefined) return serverMs;
  const ms = Number(asked.seconds) * 1000 + asked.nanos / 1e6;
  if (asked.seconds < 0n || asked.nanos < 0 || asked.nanos > 999_999_999 || !(ms >= minProgressIntervalMs)) {
    throw invalidArgument(
      "progress_interval",
      `must be at least ${minProgressIntervalMs} ms (for example 0.25 s), or unset for the server's own interval (${serverMs} ms)`,
    );
  }
  return Math.min(ms, serverMs);
}

/**
 * The revision the watch starts after: `after_revision` when given and
 * servable, else the latest. The feed answers when it can (a poll shared by
 * every watch starting at the same time, or its window holding the
 * revision), so a crowd of watches reconnecting at once makes one storage
 * read, not one each; else storage does.
 */
async function startRevision(
  { storage, feed }: ServiceDeps,
  request: WatchModelsRequest,
  context: CallContext,
): Promise<number> {
  if (request.afterRevision === undefined) {
    const head = await feed.sync(context.signal);
    if (head !== undefined) return head;
  } else if (request.afterRevision <= BigInt(Number.MAX_SAFE_INTEGER)) {
    if (feed.covers(Number(request.afterRevision))) return Number(request.afterRevision);
  }
  const options = storageOptions(context);
  const bounds = await storage.readChanges(0, 0, options);
  if (request.afterRevision === undefined) return bounds.latestRevision;
  const after = request.afterRevision;
  if (after < 0n) throw invalidArgument("after_revision", "must be 0 or more");
  if (after > BigInt(bounds.latestRevision)) {
    throw new RegistryError(
      Code.OUT_OF_RANGE,
      `after_revision ${after} is ahead of the latest revision ${bounds.latestRevision}; it belongs to another registry database. List the models again and watch from there.`,
      { reason: "REVISION_AHEAD" },
    );
  }
  const cursor = Number(after);
  if (cursor < bounds.prunedThrough) throw pruned(cursor, bounds.prunedThrough);
  return cursor;
}

/**
 * What a change is sent as to a watch with `filter`: its own event when the
 * model matches (or there is no filter); LEFT_FILTER for an update after
 * which the model no longer matches although it did before (or the state
 * before was pruned and cannot be checked: sent, to be safe); else nothing.
 * Refused alias moves are history, not events: never sent.
 */
function encodedEventFor(entry: FeedEntry, filter: FilterExpression | undefined): Buffer | undefined {
  const { change, encoded } = entry;
  if (encoded === undefined) return undefined;
  if (filter === undefined || evaluateFilter(filter, change.model)) return encoded;
  if (change.type !== "updated") return undefined;
  const matchedBefore = change.before === undefined || evaluateFilter(filter, change.before);
  return matchedBefore ? entry.leftFilter : undefined;
}

type WatchHandlers = Pick<ModelServiceHandlers, "watchModels">;
type Responses = Parameters<ModelServiceHandlers["watchModels"]>[1];

/** A message already encoded: the binding sends bytes as they are (grpc/definition.ts). */
const preEncoded = (bytes: Buffer) => bytes as unknown as WatchModelsResponse;

/** Where a watch starts and how it is served. */
interface FollowStart {
  readonly cursor: number;
  readonly filter: FilterExpression | undefined;
  readonly intervalMs: number;
  readonly responses: Responses;
  readonly context: CallContext;
}

/**
 * One watch after its first message: sends every change after the cursor
 * that passes the filter, in order, once, and a progress notification when
 * nothing was sent for the interval. Changes come from the feed's shared
 * window while the cursor is in it, else from storage a page at a time
 * (memory per watch stays one page, however slow the watcher).
 */
class Follower {
  readonly #storage: StorageAdapter;
  readonly #feed: ChangeFeed;
  readonly #pollIntervalMs: number;
  readonly #filter: FilterExpression | undefined;
  readonly #intervalMs: number;
  readonly #responses: Responses;
  readonly #context: CallContext;
  /** Every change up to this revision was sent or left out. */
  #cursor: number;
  /** The feed's poll count when this watch last read storage itself: later polls' answers are comparable. */
  #mark: number;
  #lastSentAt = Date.now();
  /** The last storage read of this watch returned less than a page: the next changes are the feed's. */
  #readToEnd = false;

  constructor({ storage, feed, settings }: ServiceDeps, start: FollowStart) {
    this.#storage = storage;
    this.#feed = feed;
    this.#pollIntervalMs = settings.pollIntervalMs;
    this.#filter = start.filter;
    this.#intervalMs = start.intervalMs;
    this.#responses = start.responses;
    this.#context = start.context;
    this.#cursor = start.cursor;
    this.#mark = feed.pollsStarted;
  }

  /** Runs until the call's signal aborts, a send fails or the history cannot be served. */
  async run(): Promise<void> {
    const { signal } = this.#context;
    while (!signal.aborted) {
      this.#checkHistory();
      const step = this.#feed.next(this.#cursor);
      if (step.kind === "change") {
        this.#readToEnd = false;
        await this.#deliver(step.entry);
      } else if (step.kind === "behind" && !this.#readToEnd) {
        await this.#catchUp();
      } else {
        this.#readToEnd = false;
        await this.#idle();
      }
    }
  }

  /**
   * A poll that started after this watch's own last read saw a latest
   * revision below the cursor, now or at any time since (the history went
   * back, then forward again while this watch was busy sending: the changes
   * it holds past that revision are not the history's any more).
   */
  #checkHistory(): void {
    const answer = this.#feed.answeredSince(this.#mark);
    if (answer === undefined) return;
    if (answer.wentBackTo !== undefined && answer.wentBackTo < this.#cursor) {
      throw historyBehind(this.#cursor, answer.wentBackTo);
    }
    if (answer.failure === undefined && answer.latest < this.#cursor) {
      throw historyBehind(this.#cursor, answer.latest);
    }
  }

  async #deliver(entry: FeedEntry): Promise<void> {
    this.#context.signal.throwIfAborted();
    this.#cursor = entry.change.revision;
    const bytes = encodedEventFor(entry, this.#filter);
    if (bytes === undefined) return;
    await this.#responses.send(preEncoded(bytes));
    this.#lastSentAt = Date.now();
  }

  /** One page from storage, as every watch read before the feed kept a window. */
  async #catchUp(): Promise<void> {
    const cursor = this.#cursor;
    // Polls started from here on may have seen a later state than this read.
    const mark = this.#feed.pollsStarted;
    const page = await this.#storage.readChanges(cursor, changePageSize, storageOptions(this.#context));
    this.#mark = mark;
    if (cursor < page.prunedThrough) throw pruned(cursor, page.prunedThrough);
    if (page.latestRevision < cursor) throw historyBehind(cursor, page.latestRevision);
    // Consecutive or nothing: anything else means history was lost under us.
    const first = page.changes[0];
    if (first && first.revision !== cursor + 1) throw pruned(cursor, first.revision - 1);
    for (const change of page.changes) await this.#deliver(new FeedEntry(change));
    this.#readToEnd = page.changes.length < changePageSize;
  }

  /**
   * Nothing to send: a progress notification once the watch was quiet for
   * its interval, if the feed is following the history (a feed whose
   * polls fail ends the watch with their error, so the watcher reconnects
   * and finds out); else wait for the feed.
   */
  async #idle(): Promise<void> {
    const quietMs = Date.now() - this.#lastSentAt;
    if (quietMs >= this.#intervalMs) {
      if (this.#feed.followedWithin(this.#intervalMs + 2 * this.#pollIntervalMs)) {
        await this.#responses.send({ revision: BigInt(this.#cursor) });
        this.#lastSentAt = Date.now();
        return;
      }
      // No poll succeeded for that long (one failing now and then does
      // not end thousands of watches at once); a poll hanging: no progress.
      const answer = this.#feed.answeredSince(this.#mark);
      if (answer?.failure !== undefined) throw answer.failure;
    }
    const waitMs = quietMs >= this.#intervalMs ? this.#intervalMs : this.#intervalMs - quietMs;
    await this.#feed.waitForChange(this.#cursor, waitMs, this.#context.signal);
  }
}

/**
 * WatchModels: sends a progress notification with the starting revision,
 * then every change after it in order, each once (those the filter leaves
 * out are skipped, and an update after which a model stops matching is
 * sent as LEFT_FILTER), and a progress notification when nothing was sent
 * for the watch's progress interval. Runs until the call's signal aborts or
 * `responses.send` rejects. Changes come from the server's one
 * {@link ChangeFeed}, which reads each new page of the history once for
 * every watch; a watch behind its window reads storage itself, a page at a
 * time, only as fast as the transport takes messages.
 */
export function watchHandlers(deps: ServiceDeps): WatchHandlers {
  return {
    async watchModels(request, responses, context) {
      const filter = watchFilter(request);
      const intervalMs = progressInterval(request, deps.settings.progressIntervalMs);
      try {
        const cursor = await startRevision(deps, request, context);
        const follower = new Follower(deps, { cursor, filter, intervalMs, responses, context });
        await responses.send({ revision: BigInt(cursor) });
        await follower.run();
      } catch (error) {
        // Once aborted, the watch ends with the signal's reason (the server
        // shutting down, say), not with what storage made of the abort.
        context.signal.throwIfAborted();
        throw error;
      }
      context.signal.throwIfAborted();
    },
  };
}
