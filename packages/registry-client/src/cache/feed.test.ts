// The cache's watch on its own (review of issue 16, finding 4): a resumed watch counts as caught up only
// once the registry says so (its head revision, or a progress notification), never by comparing an event's
// commit time with this host's clock. The service is an in-memory fake of WatchModels.
import {
  type ModelEvent,
  ModelEventType,
  type ModelServiceClient,
  Timestamp,
  type WatchModelsRequest,
  type WatchModelsResponse,
} from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { until } from "../../../../test-support/waiting";
import { CacheFeed, type FeedSink } from "./feed";

/** A stream the test pushes messages into. */
class Stream {
  readonly #queue: WatchModelsResponse[] = [];
  #wake: (() => void) | undefined;
  #error: Error | undefined;
  fail(error: Error): void {
    this.#error = error;
    this.#wake?.();
  }
  push(message: WatchModelsResponse): void {
    this.#queue.push(message);
    this.#wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<WatchModelsResponse> {
    for (;;) {
      if (this.#error) throw this.#error;
      const next = this.#queue.shift();
      if (next) yield next;
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/** A fake registry whose watches are streams the test drives; `head` answers a watch from now. */
function fakeService(head: bigint) {
  const resumed: Stream[] = [];
  const afters: bigint[] = [];
  const service = {
    watchModels(request: WatchModelsRequest, options?: { abort?: AbortSignal }) {
      const stream = new Stream();
      if (request.afterRevision === undefined) stream.push({ revision: head });
      else {
        resumed.push(stream);
        afters.push(request.afterRevision);
      }
      options?.abort?.addEventListener("abort", () => stream.fail(new Error("cancelled")));
      return { responses: stream };
    },
  } as unknown as ModelServiceClient;
  return { service, resumed, afters };
}

const sink: FeedSink = { event() {}, progress() {}, restart() {}, broken() {}, caughtUp() {} };

/** An event committed "now" by this host's clock (as when the registry's clock is behind). */
function freshEvent(revision: bigint): WatchModelsResponse {
  const event = {
    type: ModelEventType.UPDATED,
    commitTime: Timestamp.fromDate(new Date()),
  } as unknown as ModelEvent;
  return { event, revision };
}

describe("the cache's watch", () => {
  it("after resuming, is current only once it reached the registry's head, whatever the commit times", async () => {
    const { service, resumed } = fakeService(10n);
    const feed = new CacheFeed(service, sink, 250);
    feed.start(5n);
    await until(() => resumed.length === 1, "the watch resumed");
    const stream = resumed[0] as Stream;
    stream.push({ revision: 5n });
    for (const revision of [6n, 7n, 8n]) stream.push(freshEvent(revision));
    await until(() => feed.applied === 8n, "the backlog up to 8 applied");
    // Still replaying: revisions 9 and 10 are behind, though every event looked fresh by this clock.
    expect(feed.current()).toBe(false);
    stream.push(freshEvent(9n));
    stream.push(freshEvent(10n));
    await until(() => feed.current(), "current once the head (10) was applied");
    feed.stop();
  });

  it("after resuming, is current on a progress notification", async () => {
    const { service, resumed } = fakeService(100n);
    const feed = new CacheFeed(service, sink, 250);
    feed.start(5n);
    await until(() => resumed.length === 1, "the watch resumed");
    const stream = resumed[0] as Stream;
    stream.push({ revision: 5n });
    stream.push(freshEvent(6n));
    await until(() => feed.applied === 6n, "applied 6");
    expect(feed.current()).toBe(false);
    stream.push({ revision: 7n });
    await until(() => feed.current(), "current after the registry said nothing more up to 7");
    feed.stop();
  });

  it("after a rewind, delivers every change after the given revision again, and none of the old stream's", async () => {
    const { service, resumed, afters } = fakeService(9n);
    const seen: bigint[] = [];
    const feed = new CacheFeed(service, { ...sink, event: (_e, revision) => seen.push(revision) }, 250);
    feed.start(5n);
    await until(() => resumed.length === 1, "the watch resumed");
    const old = resumed[0] as Stream;
    old.push({ revision: 5n });
    old.push(freshEvent(8n));
    await until(() => feed.applied === 8n, "applied 8");
    feed.rewind(6n);
    old.push(freshEvent(9n)); // the old stream's, after the rewind: not applied
    await until(() => resumed.length === 2, "the watch started again");
    expect(afters).toEqual([5n, 6n]);
    const again = resumed[1] as Stream;
    again.push({ revision: 6n });
    for (const revision of [7n, 8n, 9n]) again.push(freshEvent(revision));
    await until(() => feed.current(), "caught up again at the head");
    expect(seen).toEqual([8n, 7n, 8n, 9n]);
    feed.stop();
  });
});
