import { Code, type ModelEvent, ModelEventType, RegistryError, WatchModelsResponse } from "@modelreg/proto";
import { eventTypes, toModel, toModelAlias, toTimestamp } from "./convert";
import type { ChangeRecord, StorageAdapter } from "./storage/adapter";

/** Changes read per storage call, by the feed and by a watch catching up on its own. */
export const changePageSize = 256;

/** The window's bounds when the caller gives none: a few seconds of a heavy write load. */
const defaultWindowChanges = 4096;
const defaultWindowBytes = 16 * 1024 * 1024;

/** The WatchModels event of a committed change, as `type` (its own, or LEFT_FILTER). */
function toModelEvent(change: ChangeRecord, type: ModelEventType = eventTypes[change.type]): ModelEvent {
  return {
    type,
    model: toModel(change.model),
    modelId: change.model.id,
    revision: BigInt(change.revision),
    commitTime: toTimestamp(change.commitTime),
    ...(change.alias ? { alias: toModelAlias(change.alias) } : {}),
  };
}

/**
 * A change in the feed's window, with its WatchModels message encoded once
 * for every watcher it is sent to (the binding passes bytes through).
 */
export class FeedEntry {
  readonly change: ChangeRecord;
  /** `{ event, revision }` encoded; `undefined` for a refused alias move (never sent). */
  readonly encoded: Buffer | undefined;
  /**
   * Roughly what the entry holds in memory: the records (the model, and
   * `before` for an update or delete) are about twice their encoding, plus
   * the encoding itself and, for an update, the LEFT_FILTER one a filtered
   * watch may build. Fixed when the entry is made, so the window's count stays exact.
   */
  readonly bytes: number;
  #leftFilter: Buffer | undefined;

  constructor(change: ChangeRecord) {
    this.change = change;
    this.encoded = change.refusal ? undefined : encodeEvent(change, eventTypes[change.type]);
    const size = this.encoded?.length ?? 256;
    this.bytes = 3 * size + (change.before ? 2 * size : 0) + (change.type === "updated" ? size : 0);
  }

  /** The same change as a LEFT_FILTER event, encoded the first time a filtered watch needs it. */
  get leftFilter(): Buffer {
    this.#leftFilter ??= encodeEvent(this.change, ModelEventType.LEFT_FILTER);
    return this.#leftFilter;
  }
}

function encodeEvent(change: ChangeRecord, type: ModelEventType): Buffer {
  const message = { event: toModelEvent(change, type), revision: BigInt(change.revision) };
  return Buffer.from(WatchModelsResponse.toBinary(WatchModelsResponse.create(message)));
}

/** What {@link ChangeFeed.next} answers for a cursor. */
export type FeedStep =
  /** The change right after the cursor. */
  | { readonly kind: "change"; readonly entry: FeedEntry }
  /** Nothing after the cursor is known yet: wait for the feed. */
  | { readonly kind: "current" }
  /** The cursor is before the window: read storage to catch up. */
  | { readonly kind: "behind" };

/** Sizes of the shared window of recent changes. */
export interface ChangeFeedOptions {
  /** Most changes kept in memory. Default 4096. */
  readonly windowChanges?: number | undefined;
  /** Most bytes (estimated) kept in memory. Default 16 MiB. */
  readonly windowBytes?: number | undefined;
}

interface Waiter {
  readonly after: number;
  readonly wake: () => void;
}

/**
 * The change history as this server's watches see it: one reader of
 * storage for all of them. It reads each new page of changes once (at once
 * after a write of this process, `notify`, and every `pollIntervalMs` while
 * a watch waits, for writes of other replicas) and keeps a bounded window
 * of the latest changes, which every watch whose cursor is inside it is
 * served from. A watch before the window (resuming from an old revision, or
 * a watcher slower than the window is long) reads storage itself until it
 * reaches the window. The history in storage stays the truth: the window
 * is a contiguous copy of its latest part.
 */
export class ChangeFeed {
  readonly #storage: StorageAdapter;
  readonly #pollIntervalMs: number;
  /** How long one feed read (and a {@link sync}) may take before it counts as failed. */
  readonly #readTimeoutMs: number;
  readonly #maxChanges: number;
  readonly #maxBytes: number;
  readonly #waiters = new Set<Waiter>();
  /** Callers of {@link sync}: resolved once the poll numbered `target` answered. */
  readonly #syncs = new Set<{ readonly target: number; readonly done: (head: number | undefined) => void }>();
  /** The window: entries[i] has revision base + 1 + i; everything up to `#head` was read. */
  #entries: FeedEntry[] = [];
  #bytes = 0;
  #base = 0;
  #head = 0;
  #initialized = false;
  /** The latest revision the last successful poll saw (below `#head` after the history went back). */
  #latest = 0;
  /** Polls started so far, and the one whose answer `#latest` / `#failure` hold. */
  #pollsStarted = 0;
  #answeredBy = 0;
  #failure: unknown;
  #lastSuccessAt = 0;
  /** The latest times the history went back: the poll that saw it and the revision it went back to. */
  #resets: { readonly seq: number; readonly revision: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #pollAgain = false;
  #dirty = false;
  #closed = false;

  /** `pollIntervalMs`: how often to look for writes of other replicas while a watch waits. */
  constructor(storage: StorageAdapter, pollIntervalMs: number, options: ChangeFeedOptions = {}) {
    this.#storage = storage;
    this.#pollIntervalMs = pollIntervalMs;
    this.#readTimeoutMs = Math.max(2000, 4 * pollIntervalMs);
    this.#maxChanges = options.windowChanges ?? defaultWindowChanges;
    this.#maxBytes = options.windowBytes ?? defaultWindowBytes;
  }

  /** This process committed a write: look now rather than at the next poll. */
  notify(): void {
    if (this.#waiters.size > 0) void this.#poll();
    else this.#dirty = true;
  }

  /** A mark to pass to {@link answeredSince}: the polls started so far. */
  get pollsStarted(): number {
    return this.#pollsStarted;
  }

  /** How many changes the window holds (for tests and metrics). */
  get windowSize(): number {
    return this.#entries.length;
  }

  /**
   * What the feed learnt from polls started after `mark` (taken with
   * {@link pollsStarted} once the caller's own view of the history was
   * read), or `undefined`: the latest revision, the error of the last poll
   * when it failed, and the lowest revision the history went back to in
   * those polls (`undefined` if it did not), even if it moved forward again
   * since: a watcher past that revision holds changes that were lost.
   */
  answeredSince(
    mark: number,
  ):
    | { readonly latest: number; readonly failure: unknown; readonly wentBackTo: number | undefined }
    | undefined {
    if (this.#answeredBy <= mark) return undefined;
    let wentBackTo: number | undefined;
    for (const reset of this.#resets) {
      if (reset.seq > mark && (wentBackTo === undefined || reset.revision < wentBackTo)) {
        wentBackTo = reset.revision;
      }
    }
    return { latest: this.#latest, failure: this.#failure, wentBackTo };
  }

  /**
   * Polls now (or right after the poll in progress) and resolves with the
   * revision the window then reaches, the latest one (after as many pages
   * as a burst of writes takes): every change up to it is either in
   * the window or before it, so a watch may start there. `undefined` when
   * that poll failed, did not answer within the feed's read timeout
   * (max(2 s, 4 x `pollIntervalMs`): the caller reads storage itself), the
   * feed closed or `signal` aborted. Concurrent callers share one storage read.
   */
  sync(signal: AbortSignal): Promise<number | undefined> {
    if (this.#closed || signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const entry = {
        target: this.#pollsStarted + 1,
        done: (head: number | undefined) => {
          clearTimeout(timeout);
          signal.removeEventListener("abort", onAbort);
          this.#syncs.delete(entry);
          resolve(head);
        },
      };
      const onAbort = () => entry.done(undefined);
      const timeout = setTimeout(onAbort, this.#readTimeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#syncs.add(entry);
      void this.#poll();
    });
  }

  /**
   * Whether the window holds every change after `revision` up to its head:
   * a watch resuming there can be served without reading storage first.
   */
  covers(revision: number): boolean {
    return this.#initialized && revision >= this.#base && revision <= this.#head;
  }

  /**
   * Whether a poll succeeded within the last `ms`: the feed is following the
   * history (one failed poll since then does not change that).
   */
  followedWithin(ms: number): boolean {
    return this.#lastSuccessAt > 0 && Date.now() - this.#lastSuccessAt <= ms;
  }

  /** The change right after `cursor` if the window has it; else whether to wait or to read storage. */
  next(cursor: number): FeedStep {
    // Not polled yet: wait for the first poll (one read) rather than every watch reading.
    if (!this.#initialized) return { kind: "current" };
    if (cursor < this.#base) return { kind: "behind" };
    if (cursor >= this.#head) return { kind: "current" };
    const entry = this.#entries[cursor - this.#base];
    if (!entry) return { kind: "behind" };
    return { kind: "change", entry };
  }

  /**
   * Resolves once the feed has something after `after` (or learnt that the
   * history went back below it), after `timeoutMs`, or when `signal`
   * aborts, whichever comes first. Never rejects.
   */
  waitForChange(after: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    // A closed feed still waits out the timeout: a watch looping on it must not spin.
    if (signal.aborted || (this.#initialized && this.#head > after)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter = {
        after,
        wake: () => {
          clearTimeout(timeout);
          signal.removeEventListener("abort", waiter.wake);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      const timeout = setTimeout(waiter.wake, Math.max(0, timeoutMs));
      signal.addEventListener("abort", waiter.wake, { once: true });
      this.#waiters.add(waiter);
      if (this.#dirty) void this.#poll();
      else this.#schedule();
    });
  }

  /** Stops polling and releases every waiter. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of [...this.#waiters]) waiter.wake();
    for (const entry of [...this.#syncs]) entry.done(undefined);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#polling || this.#closed || this.#waiters.size === 0) return;
    // At most one poll per interval, and at once when the last is older.
    const delay = Math.max(0, this.#lastPollAt + this.#pollIntervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, delay);
    this.#timer.unref();
  }

  #lastPollAt = 0;

  async #poll(): Promise<void> {
    if (this.#closed) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      do {
        this.#pollAgain = false;
        this.#dirty = false;
        this.#lastPollAt = Date.now();
        const more = await this.#readOnce();
        this.#wakeWaiters();
        // A sync is answered once the window reached the latest revision (not after a first page of many).
        if (!more) this.#answerSyncs();
        if (more) this.#pollAgain = true;
      } while (this.#pollAgain && !this.#closed);
    } finally {
      this.#polling = false;
      this.#schedule();
    }
  }

  /** One storage call: the next page of changes (or the bounds, the first time). Whether more are waiting. */
  async #readOnce(): Promise<boolean> {
    const seq = ++this.#pollsStarted;
    try {
      const page = await this.#read(this.#head, this.#initialized ? changePageSize : 0);
      this.#answeredBy = seq;
      this.#failure = undefined;
      this.#lastSuccessAt = Date.now();
      this.#latest = page.latestRevision;
      if (!this.#initialized || page.latestRevision < this.#head) {
        // The first poll, or the history went back (a database restored or
        // failed over to one that lost commits): start an empty window at
        // the latest revision. Watches past it end when they look.
        if (this.#initialized) this.#wentBack(seq, page.latestRevision);
        this.#initialized = true;
        this.#reset(page.latestRevision);
        return false;
      }
      const first = page.changes[0];
      // Consecutive or nothing: a gap means the feed fell behind the retained history.
      if (first && first.revision !== this.#head + 1) this.#reset(first.revision - 1);
      for (const change of page.changes) this.#append(new FeedEntry(change));
      this.#trim();
      return this.#head < page.latestRevision && page.changes.length > 0;
    } catch (error) {
      this.#answeredBy = seq;
      this.#failure = error;
      return false;
    }
  }

  /**
   * `readChanges` with the feed's read timeout: a read that hangs (a
   * half-open connection, a lock wait) fails UNAVAILABLE then, and its late
   * answer is ignored, so the feed polls again and the watches find out.
   */
  async #read(after: number, limit: number) {
    const controller = new AbortController();
    const deadline = Date.now() + this.#readTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error("timed out"));
      }, this.#readTimeoutMs);
    });
    const read = this.#storage.readChanges(after, limit, { deadline, signal: controller.signal });
    read.catch(() => {});
    try {
      return await Promise.race([read, timedOut]);
    } catch (error) {
      if (Date.now() < deadline && !controller.signal.aborted) throw error;
      throw new RegistryError(
        Code.UNAVAILABLE,
        `The change history could not be read within ${this.#readTimeoutMs} ms; watch again.`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Remembers (a bounded number of) times the history went back, for watchers checking later. */
  #wentBack(seq: number, revision: number): void {
    this.#resets.push({ seq, revision });
    if (this.#resets.length > 64) this.#resets.shift();
  }

  #reset(revision: number): void {
    this.#entries = [];
    this.#bytes = 0;
    this.#base = revision;
    this.#head = revision;
  }

  #append(entry: FeedEntry): void {
    this.#entries.push(entry);
    this.#bytes += entry.bytes;
    this.#head = entry.change.revision;
  }

  #trim(): void {
    let drop = 0;
    while (
      drop < this.#entries.length - 1 &&
      (this.#entries.length - drop > this.#maxChanges || this.#bytes > this.#maxBytes)
    ) {
      this.#bytes -= this.#entries[drop]?.bytes ?? 0;
      drop++;
    }
    if (drop === 0) return;
    this.#entries.splice(0, drop);
    this.#base += drop;
  }

  #answerSyncs(): void {
    const head = this.#failure === undefined && this.#initialized ? this.#head : undefined;
    for (const entry of [...this.#syncs]) {
      if (entry.target <= this.#answeredBy) entry.done(head);
    }
  }

  #wakeWaiters(): void {
    if (!this.#initialized) return;
    for (const waiter of [...this.#waiters]) {
      if (this.#head > waiter.after || this.#latest < waiter.after) waiter.wake();
    }
  }
}
