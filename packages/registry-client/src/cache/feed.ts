/**
 * The cache's one watch: an unfiltered WatchModels stream that asks for a
 * progress notification every `progressIntervalMs`, resumes after the last
 * revision it saw (with backoff) when the stream fails, and starts again
 * from now after an OUT_OF_RANGE (the history it needed was pruned).
 *
 * @internal
 */
import {
  Code,
  Duration,
  type ModelEvent,
  type ModelServiceClient,
  RegistryError,
  WatchModelsRequest,
  type WatchModelsResponse,
} from "@modelreg/proto";

/** What the feed drives. */
export interface FeedSink {
  /** A change event, in revision order. */
  event(event: ModelEvent, revision: bigint): void;
  /** Everything up to `revision` was delivered (a progress notification). */
  progress(revision: bigint): void;
  /**
   * The feed starts over from `revision` (now, at the start or after an
   * OUT_OF_RANGE): what the cache holds may have missed changes before it.
   * `outOfRange`: the registry refused the revision it would have resumed
   * after (pruned, or from another database).
   */
  restart(revision: bigint, outOfRange: boolean): void;
  /** The stream failed (the feed resumes by itself); for logs. */
  broken(error: RegistryError): void;
  /** The feed caught up (again): the cache may answer. */
  caughtUp(): void;
}

/** When the feed counts as current: a message within twice the progress interval, after catching up. */
export class CacheFeed {
  /** Every change up to this revision was delivered to the sink. */
  applied = 0n;
  readonly #service: ModelServiceClient;
  readonly #sink: FeedSink;
  readonly #progressIntervalMs: number;
  readonly #controller = new AbortController();
  #after: bigint | undefined;
  #lastMessageAt = 0;
  #caughtUp = false;
  #streaming = false;
  /** When this process's own timer last ran: how long its event loop could not read the stream. */
  #tick = 0;
  #ticker: NodeJS.Timeout | undefined;
  get #tickMs(): number {
    return Math.max(10, Math.floor(this.#progressIntervalMs / 4));
  }
  /** The last stream ended with OUT_OF_RANGE. */
  #outOfRange = false;
  /** Counts streams: a head revision learnt for one stream does not count for the next. */
  #stream = 0;
  /** The running stream's own abort (a rewind ends it). */
  #streamController: AbortController | undefined;
  /** The stream was ended to start again from `#after` (not a failure). */
  #rewinding = false;
  /** The registry's head when the resumed stream started: the stream is caught up once it reaches it. */
  #head: bigint | undefined;

  constructor(service: ModelServiceClient, sink: FeedSink, progressIntervalMs: number) {
    this.#service = service;
    this.#sink = sink;
    this.#progressIntervalMs = progressIntervalMs;
  }

  /** Whether the cache may answer: the stream is up, caught up, and not silent for twice the interval. */
  current(now = Date.now()): boolean {
    if (!this.#streaming || !this.#caughtUp) return false;
    // Time this process could not read the stream (its event loop busy) is not the stream's silence.
    const stalled = Math.max(0, now - this.#tick - this.#tickMs);
    return now - this.#lastMessageAt - stalled <= 2 * this.#progressIntervalMs;
  }

  /** Starts following the registry after `after` (every change after it), or from now when undefined. */
  start(after: bigint | undefined): void {
    this.#after = after;
    if (after !== undefined) this.applied = after;
    this.#tick = Date.now();
    this.#ticker = setInterval(() => {
      this.#tick = Date.now();
    }, this.#tickMs);
    this.#ticker.unref?.();
    void this.#run();
  }

  /**
   * Starts again after `after` (below what was applied): every change
   * after it is delivered again, in order. The cache is not current until
   * the new stream has caught up.
   */
  rewind(after: bigint): void {
    this.#after = after;
    this.applied = after;
    this.#caughtUp = false;
    this.#rewinding = true;
    this.#stream++;
    this.#streamController?.abort();
  }

  /** Stops the watch. */
  stop(): void {
    clearInterval(this.#ticker);
    this.#controller.abort();
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const error = await this.#streamOnce(() => {
        attempt = 0;
      });
      this.#streaming = false;
      this.#caughtUp = false;
      if (signal.aborted) return;
      if (this.#rewinding) {
        this.#rewinding = false;
        continue;
      }
      this.#sink.broken(error);
      if (error.code === Code.OUT_OF_RANGE) {
        this.#after = undefined;
        this.#outOfRange = true;
      }
      attempt++;
      const ceiling = Math.min(5000, 100 * 2 ** Math.min(attempt - 1, 10));
      await delay(ceiling / 2 + (Math.random() * ceiling) / 2, signal);
    }
  }

  /** One stream; returns why it ended. `established` is called on its first message. */
  async #streamOnce(established: () => void): Promise<RegistryError> {
    const controller = new AbortController();
    this.#streamController = controller;
    this.#rewinding = false;
    const stop = () => controller.abort();
    this.#controller.signal.addEventListener("abort", stop, { once: true });
    const request = WatchModelsRequest.create({
      progressInterval: Duration.create({
        seconds: BigInt(Math.floor(this.#progressIntervalMs / 1000)),
        nanos: (this.#progressIntervalMs % 1000) * 1_000_000,
      }),
    });
    const resuming = this.#after !== undefined;
    if (this.#after !== undefined) request.afterRevision = this.#after;
    const stream = ++this.#stream;
    this.#head = undefined;
    if (resuming) void this.#learnHead(stream, controller.signal);
    try {
      const call = this.#service.watchModels(request, { abort: controller.signal });
      let first = true;
      for await (const response of call.responses) {
        // A rewind ended this stream: what it still delivers is not applied.
        if (stream !== this.#stream) break;
        if (first) established();
        this.#receive(response, first, resuming);
        first = false;
      }
      return new RegistryError(Code.UNAVAILABLE, "The registry ended the watch stream.");
    } catch (error) {
      return RegistryError.from(error, Code.UNKNOWN);
    } finally {
      this.#controller.signal.removeEventListener("abort", stop);
      controller.abort();
    }
  }

  /**
   * Learns the registry's head revision (the first message of a watch from
   * now) for a resumed stream: it is caught up once it has applied that
   * revision (or on a progress notification). Never from clocks: the
   * registry's commit times and this host's time are not comparable.
   */
  async #learnHead(stream: number, signal: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const stop = () => controller.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      const call = this.#service.watchModels(WatchModelsRequest.create({}), { abort: controller.signal });
      for await (const response of call.responses) {
        if (stream !== this.#stream) return;
        this.#head = response.revision;
        if (this.#streaming && this.applied >= response.revision) this.#markCaughtUp();
        return;
      }
    } catch {
      // Without the head, a progress notification marks the stream caught up.
    } finally {
      signal.removeEventListener("abort", stop);
      controller.abort();
    }
  }

  #markCaughtUp(): void {
    if (this.#caughtUp) return;
    this.#caughtUp = true;
    this.#sink.caughtUp();
  }

  #receive(response: WatchModelsResponse, first: boolean, resuming: boolean): void {
    const now = Date.now();
    this.#lastMessageAt = now;
    this.#streaming = true;
    const { event, revision } = response;
    if (first && !resuming) {
      // A watch from now: nothing before `revision` was seen, so the cache starts over.
      this.#after = revision;
      this.applied = revision;
      this.#markCaughtUp();
      this.#sink.restart(revision, this.#outOfRange);
      this.#outOfRange = false;
      return;
    }
    if (event === undefined) {
      // A resumed stream's first message repeats where it resumes; a later one means "nothing more".
      if (first) {
        if (this.#head !== undefined && revision >= this.#head) this.#markCaughtUp();
        return;
      }
      this.#markCaughtUp();
      if (revision <= this.applied) return;
      this.#after = revision;
      this.applied = revision;
      this.#sink.progress(revision);
      return;
    }
    if (revision <= this.applied) return;
    this.#after = revision;
    this.applied = revision;
    this.#sink.event(event, revision);
    // Reached the head the registry named when this stream resumed.
    if (this.#head !== undefined && revision >= this.#head) this.#markCaughtUp();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
