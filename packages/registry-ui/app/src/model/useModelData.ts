/**
 * The model page's data: the model, then the live feed of its name, then,
 * once the feed is open, its versions, aliases and the first page of its
 * audit trail (in parallel), which the feed keeps current.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type FeedGate, useFeedGate } from "../api/feed-gate";
import type { ApiError } from "../api/http";
import { getModel, listAliases, listHistory, listVersions, quoteFilterValue } from "../api/registry";
import type { HistoryEntry, Model, ModelAlias, ModelEvent, Page } from "../api/types";
import { useWatch } from "../api/watch";

/** Versions loaded at most (the newest, one page of the API); the table shows fewer until asked. */
export const versionLimit = 1000;
/** Audit-trail entries per page. */
export const trailPageSize = 50;

/** What the page knows about one model name. */
export interface ModelData {
  readonly model: Model | undefined;
  /** The model's own load failed (e.g. NOT_FOUND). */
  readonly error: ApiError | Error | undefined;
  readonly versions: readonly Model[] | undefined;
  readonly aliases: readonly ModelAlias[] | undefined;
  readonly trail: readonly HistoryEntry[] | undefined;
  readonly trailNext: string;
  /** A failure of the versions, aliases or trail calls. */
  readonly partError: ApiError | Error | undefined;
  /** Ids of versions that appeared live. */
  readonly newIds: ReadonlySet<string>;
  /** The model was changed by someone else while shown. */
  readonly changed: boolean;
  /** The model was deleted while shown. */
  readonly deleted: boolean;
  /** Bumped on every alias change, so per-alias histories reload. */
  readonly aliasRevision: number;
  reloadAliases(): Promise<void>;
  reloadTrail(): Promise<void>;
  loadMoreTrail(): Promise<void>;
}

function asError(error: unknown): ApiError | Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Pages a reload reads to reach the entries shown before it starts over from the first page. */
const catchUpPages = 10;

/** `fresh` (newest first) on top of `shown`, without the entries `shown` already has. */
function prepend(fresh: readonly HistoryEntry[], shown: readonly HistoryEntry[]): readonly HistoryEntry[] {
  const have = new Set(shown.map((e) => e.revision));
  const added = fresh.filter((e) => !have.has(e.revision));
  return added.length === 0 ? shown : [...added, ...shown];
}

/** What a reload of the trail found: entries newer than the ones shown, or a fresh start. */
type TrailCatchUp =
  | { readonly kind: "newer"; readonly entries: readonly HistoryEntry[] }
  | { readonly kind: "restart"; readonly entries: readonly HistoryEntry[]; readonly next: string };

/**
 * Reads the name's trail, newest first, until an entry of `known` (the ones shown); past
 * {@link catchUpPages}, or with nothing shown, the first page replaces what is shown.
 */
async function catchUp(name: string, known: ReadonlySet<string>): Promise<TrailCatchUp> {
  const fresh: HistoryEntry[] = [];
  let pageToken = "";
  let first: Page<HistoryEntry> | undefined;
  for (let i = 0; i < catchUpPages; i++) {
    const page = await listHistory({ name, pageSize: trailPageSize, ...(pageToken ? { pageToken } : {}) });
    first ??= page;
    if (known.size === 0) break;
    const reached = page.items.findIndex((e) => known.has(e.revision));
    fresh.push(...(reached < 0 ? page.items : page.items.slice(0, reached)));
    if (reached >= 0) return { kind: "newer", entries: fresh };
    pageToken = page.nextPageToken;
    // The end of the trail without meeting a shown entry: what is shown is gone; show what is there.
    if (pageToken === "") return { kind: "restart", entries: fresh, next: "" };
  }
  return { kind: "restart", entries: first?.items ?? [], next: first?.nextPageToken ?? "" };
}

/** Orders the reads of one part of the page: an answer older than the one shown is dropped. */
interface ReadOrder {
  /** Numbers a read as it starts. */
  start(): number;
  /** Whether the answer of read `read` may be shown (no read started after it was shown first); records it. */
  accept(read: number): boolean;
}

/**
 * A {@link ReadOrder}: the first read of a part and the reloads after live events or the page's own
 * writes can overlap, and the one that started first can answer last (it must not undo the newer one).
 */
function useReadOrder(): ReadOrder {
  const order = useRef({ started: 0, shown: 0 });
  return useMemo(
    () => ({
      start: () => ++order.current.started,
      accept: (read: number) => {
        if (read < order.current.shown) return false;
        order.current.shown = read;
        return true;
      },
    }),
    [],
  );
}

/**
 * The name's audit trail: its first page, "Load more", and reloads that add only the entries
 * newer than the top one shown (so what "Load more" added stays).
 */
function useTrail(name: string | undefined, ready: boolean, setError: (error: ApiError | Error) => void) {
  const [trail, setTrail] = useState<readonly HistoryEntry[]>();
  const [trailNext, setTrailNext] = useState("");
  const nameRef = useRef(name);
  nameRef.current = name;
  const trailRef = useRef(trail);
  trailRef.current = trail;
  const reads = useReadOrder();
  useEffect(() => {
    setTrail(undefined);
    if (name === undefined || !ready) return;
    const abort = new AbortController();
    const read = reads.start();
    listHistory({ name, pageSize: trailPageSize }, abort.signal).then(
      (page) => {
        if (abort.signal.aborted || !reads.accept(read)) return;
        setTrail(page.items);
        setTrailNext(page.nextPageToken);
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setError(asError(e));
      },
    );
    return () => abort.abort();
  }, [name, ready, setError, reads]);
  const reloadTrail = useCallback(async () => {
    const current = nameRef.current;
    if (current === undefined) return;
    const read = reads.start();
    const found = await catchUp(current, new Set((trailRef.current ?? []).map((e) => e.revision)));
    if (nameRef.current !== current || !reads.accept(read)) return;
    if (found.kind === "newer") {
      setTrail((shown) => prepend(found.entries, shown ?? []));
    } else {
      setTrail(found.entries);
      setTrailNext(found.next);
    }
  }, [reads]);
  const loadMoreTrail = useCallback(async () => {
    const current = nameRef.current;
    if (current === undefined || trailNext === "") return;
    const page = await listHistory({ name: current, pageSize: trailPageSize, pageToken: trailNext });
    setTrail((entries) => {
      const have = new Set((entries ?? []).map((e) => e.revision));
      return [...(entries ?? []), ...page.items.filter((e) => !have.has(e.revision))];
    });
    setTrailNext(page.nextPageToken);
  }, [trailNext]);
  return { trail, trailNext, reloadTrail, loadMoreTrail };
}

/** The shortest time between two reloads after live events, in ms. */
export const reloadGap = 500;

/**
 * `work` run at most once every `gap` ms and never twice at a time: the first call at once, the
 * calls meanwhile once after (trailing). A burst of live events so costs a few reloads, not one each.
 */
function useCoalesced(work: () => Promise<void>, gap: number): () => void {
  const workRef = useRef(work);
  workRef.current = work;
  const state = useRef({
    running: false,
    pending: false,
    last: Number.NEGATIVE_INFINITY,
    timer: undefined as ReturnType<typeof setTimeout> | undefined,
    gone: false,
  });
  useEffect(() => {
    const s = state.current;
    s.gone = false;
    return () => {
      s.gone = true;
      clearTimeout(s.timer);
      s.timer = undefined;
    };
  }, []);
  const run = useCallback(() => {
    const s = state.current;
    if (s.gone) return;
    if (s.running || s.timer !== undefined) {
      s.pending = true;
      return;
    }
    const wait = s.last + gap - Date.now();
    if (wait > 0) {
      s.timer = setTimeout(() => {
        s.timer = undefined;
        run();
      }, wait);
      return;
    }
    s.running = true;
    s.pending = false;
    s.last = Date.now();
    workRef.current().finally(() => {
      s.running = false;
      if (s.pending) run();
    });
  }, [gap]);
  return run;
}

/** The state a live event changes. */
interface LiveSetters {
  setVersions: StateUpdater<readonly Model[] | undefined>;
  setNewIds: StateUpdater<ReadonlySet<string>>;
  setModel: StateUpdater<Model | undefined>;
  setChanged: StateUpdater<boolean>;
  setDeleted: StateUpdater<boolean>;
}

type StateUpdater<T> = (update: T | ((previous: T) => T)) => void;

/** Applies one live event of the name to the page's state; true when the aliases need a reload. */
function applyEvent(id: string, event: ModelEvent, own: boolean, live: LiveSetters): boolean {
  const changedModel = event.model;
  switch (event.type) {
    case "MODEL_EVENT_TYPE_CREATED":
      if (changedModel === undefined) return false;
      live.setVersions((list) =>
        list === undefined || list.some((v) => v.id === changedModel.id) ? list : [changedModel, ...list],
      );
      live.setNewIds((ids) => new Set([...ids, changedModel.id]));
      return false;
    case "MODEL_EVENT_TYPE_UPDATED":
      if (changedModel === undefined) return false;
      live.setVersions((list) => list?.map((v) => (v.id === changedModel.id ? changedModel : v)));
      if (changedModel.id === id) {
        live.setModel(changedModel);
        if (!own) live.setChanged(true);
      }
      return false;
    case "MODEL_EVENT_TYPE_DELETED":
      live.setVersions((list) => list?.filter((v) => v.id !== event.modelId));
      if (event.modelId === id) live.setDeleted(true);
      return false;
    case "MODEL_EVENT_TYPE_ALIAS_SET":
    case "MODEL_EVENT_TYPE_ALIAS_DELETED":
      return true;
    default:
      return false;
  }
}

/** What {@link useLiveEvents} reloads, and where its failures go. */
interface Reloads {
  reloadAliases(): Promise<void>;
  reloadTrail(): Promise<void>;
  failed(error: ApiError | Error): void;
}

/**
 * The handler of the name's live events: versions and the model change in place; the aliases
 * (after an alias event) and the trail are reloaded, coalesced over a burst.
 */
function useLiveEvents(id: string, live: LiveSetters, reloads: Reloads) {
  const reloadsRef = useRef(reloads);
  reloadsRef.current = reloads;
  const liveRef = useRef(live);
  liveRef.current = live;
  const aliasesStale = useRef(false);
  const reloadLater = useCoalesced(async () => {
    const { reloadAliases, reloadTrail, failed } = reloadsRef.current;
    const report = (e: unknown) => failed(asError(e));
    const aliasesToo = aliasesStale.current;
    aliasesStale.current = false;
    await Promise.all([aliasesToo ? reloadAliases().catch(report) : undefined, reloadTrail().catch(report)]);
  }, reloadGap);
  return useCallback(
    (event: ModelEvent, own: boolean) => {
      if (applyEvent(id, event, own, liveRef.current)) aliasesStale.current = true;
      reloadLater();
    },
    [id, reloadLater],
  );
}

/** A live event of the name. */
type LiveHandler = (event: ModelEvent, own: boolean) => void;

/** What {@link useHeldEvents} gives. */
interface HeldEvents {
  /** The watch's handler: holds the event, or applies it once released. */
  readonly onEvent: LiveHandler;
  /** Applies the held events in order (they are all newer than the feed's start); later ones at once. */
  release(): void;
  /** Holds the events again (a new model is loading). */
  hold(): void;
}

/** The name's live events, held until the versions are there (applied to no list, they would be lost). */
function useHeldEvents(apply: LiveHandler): HeldEvents {
  const applyRef = useRef(apply);
  applyRef.current = apply;
  const held = useRef<{ readonly event: ModelEvent; readonly own: boolean }[] | null>([]);
  return useMemo(
    () => ({
      onEvent: (event, own) => {
        if (held.current !== null) held.current.push({ event, own });
        else applyRef.current(event, own);
      },
      release: () => {
        const events = held.current ?? [];
        held.current = null;
        for (const { event, own } of events) applyRef.current(event, own);
      },
      hold: () => {
        held.current = [];
      },
    }),
    [],
  );
}

/**
 * Whether the parts of `name` may be read: once the watch of `filter` (its feed) has settled, or after
 * `feedWaitMs`. Read before, a change made in between would be in neither.
 */
function useFeedReady(name: string | undefined, filter: string, gate: FeedGate): boolean {
  const [readyName, setReadyName] = useState<string>();
  useEffect(() => {
    if (name === undefined) {
      // Another model is loading: its feed restarts, even for the same name.
      setReadyName(undefined);
      return;
    }
    const abort = new AbortController();
    gate.whenOpen(filter, abort.signal, () => setReadyName(name));
    return () => abort.abort();
  }, [name, filter, gate]);
  return name !== undefined && readyName === name;
}

/** What {@link useFirstReads} sets. */
interface FirstReadSetters {
  setVersions(versions: readonly Model[]): void;
  setModel: StateUpdater<Model | undefined>;
  setAliases(aliases: readonly ModelAlias[]): void;
  setPartError(error: ApiError | Error): void;
}

/** Reads the name's versions and aliases once `ready`, then releases the held events onto them. */
function useFirstReads(
  name: string | undefined,
  ready: boolean,
  set: FirstReadSetters,
  aliasReads: ReadOrder,
  events: HeldEvents,
): void {
  const setRef = useRef(set);
  setRef.current = set;
  useEffect(() => {
    if (name === undefined || !ready) return;
    const abort = new AbortController();
    const { setVersions, setModel, setAliases, setPartError } = setRef.current;
    const failed = (e: unknown) => {
      if (!abort.signal.aborted) setPartError(asError(e));
    };
    listVersions(name, versionLimit, abort.signal).then(
      (list) => {
        if (abort.signal.aborted) return;
        setVersions(list);
        // Read after the model: a change made to it before the feed opened is shown (when it is among
        // the versions read).
        setModel((shown) => list.find((v) => v.id === shown?.id && v.etag !== shown.etag) ?? shown);
        events.release();
      },
      (e: unknown) => {
        failed(e);
        if (!abort.signal.aborted) events.release();
      },
    );
    const aliasRead = aliasReads.start();
    listAliases(name, abort.signal).then((list) => {
      if (!abort.signal.aborted && aliasReads.accept(aliasRead)) setAliases(list);
    }, failed);
    return () => abort.abort();
  }, [name, ready, aliasReads, events]);
}

/** Loads and watches the model `id` and its name's versions, aliases and trail. */
export function useModelData(id: string): ModelData {
  const [model, setModel] = useState<Model>();
  const [error, setError] = useState<ApiError | Error>();
  const [versions, setVersions] = useState<readonly Model[]>();
  const [aliases, setAliases] = useState<readonly ModelAlias[]>();
  const [partError, setPartError] = useState<ApiError | Error>();
  const [newIds, setNewIds] = useState<ReadonlySet<string>>(new Set());
  const [changed, setChanged] = useState(false);
  const [deleted, setDeleted] = useState(false);
  const [aliasRevision, setAliasRevision] = useState(0);
  const name = model?.name;
  const nameRef = useRef<string | undefined>(undefined);
  nameRef.current = name;
  const filter = name === undefined ? "" : `name = ${quoteFilterValue(name)}`;
  // Before the reads: a new watch's reads wait for it.
  const gate = useFeedGate(filter);
  const ready = useFeedReady(name, filter, gate);
  const { trail, trailNext, reloadTrail, loadMoreTrail } = useTrail(name, ready, setPartError);
  const aliasReads = useReadOrder();
  const reloadAliases = useCallback(async () => {
    const current = nameRef.current;
    if (current === undefined) return;
    const read = aliasReads.start();
    const list = await listAliases(current);
    if (nameRef.current !== current || !aliasReads.accept(read)) return;
    setAliases(list);
    setAliasRevision((n) => n + 1);
  }, [aliasReads]);
  const applyLive = useLiveEvents(
    id,
    { setVersions, setNewIds, setModel, setChanged, setDeleted },
    { reloadAliases, reloadTrail, failed: setPartError },
  );
  const events = useHeldEvents(applyLive);
  useEffect(() => {
    const abort = new AbortController();
    events.hold();
    setModel(undefined);
    setError(undefined);
    setVersions(undefined);
    setAliases(undefined);
    setPartError(undefined);
    setNewIds(new Set());
    setChanged(false);
    setDeleted(false);
    getModel(id, abort.signal).then(setModel, (e: unknown) => {
      if (!abort.signal.aborted) setError(asError(e));
    });
    return () => abort.abort();
  }, [id, events]);
  useWatch(filter, events.onEvent, { enabled: name !== undefined, onSettled: gate.onSettled });
  useFirstReads(name, ready, { setVersions, setModel, setAliases, setPartError }, aliasReads, events);
  return {
    model,
    error,
    versions,
    aliases,
    trail,
    trailNext,
    partError,
    newIds,
    changed,
    deleted,
    aliasRevision,
    reloadAliases,
    reloadTrail,
    loadMoreTrail,
  };
}
