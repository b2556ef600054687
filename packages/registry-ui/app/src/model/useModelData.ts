/**
 * The model page's data: the model, then its versions, aliases and the first
 * page of its audit trail (in parallel), and the live feed of its name that
 * keeps them current.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api/http";
import { getModel, listAliases, listHistory, listVersions, quoteFilterValue } from "../api/registry";
import type { HistoryEntry, Model, ModelAlias, ModelEvent } from "../api/types";
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

/** The first page of the name's audit trail, reloaded on demand, and "Load more". */
function useTrail(name: string | undefined, setError: (error: ApiError | Error) => void) {
  const [trail, setTrail] = useState<readonly HistoryEntry[]>();
  const [trailNext, setTrailNext] = useState("");
  const nameRef = useRef(name);
  nameRef.current = name;
  useEffect(() => {
    setTrail(undefined);
    if (name === undefined) return;
    const abort = new AbortController();
    listHistory({ name, pageSize: trailPageSize }, abort.signal).then(
      (page) => {
        setTrail(page.items);
        setTrailNext(page.nextPageToken);
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setError(asError(e));
      },
    );
    return () => abort.abort();
  }, [name, setError]);
  const reloadTrail = useCallback(async () => {
    const current = nameRef.current;
    if (current === undefined) return;
    const page = await listHistory({ name: current, pageSize: trailPageSize });
    setTrail(page.items);
    setTrailNext(page.nextPageToken);
  }, []);
  const loadMoreTrail = useCallback(async () => {
    const current = nameRef.current;
    if (current === undefined || trailNext === "") return;
    const page = await listHistory({ name: current, pageSize: trailPageSize, pageToken: trailNext });
    setTrail((entries) => [...(entries ?? []), ...page.items]);
    setTrailNext(page.nextPageToken);
  }, [trailNext]);
  return { trail, trailNext, reloadTrail, loadMoreTrail };
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
  const { trail, trailNext, reloadTrail, loadMoreTrail } = useTrail(name, setPartError);
  useEffect(() => {
    const abort = new AbortController();
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
  }, [id]);
  useEffect(() => {
    if (name === undefined) return;
    const abort = new AbortController();
    const failed = (e: unknown) => {
      if (!abort.signal.aborted) setPartError(asError(e));
    };
    listVersions(name, versionLimit, abort.signal).then(setVersions, failed);
    listAliases(name, abort.signal).then(setAliases, failed);
    return () => abort.abort();
  }, [name]);
  const reloadAliases = useCallback(async () => {
    const current = nameRef.current;
    if (current === undefined) return;
    setAliases(await listAliases(current));
    setAliasRevision((n) => n + 1);
  }, []);
  const onEvent = useCallback(
    (event: ModelEvent, own: boolean) => {
      const failed = (e: unknown) => setPartError(asError(e));
      const live: LiveSetters = { setVersions, setNewIds, setModel, setChanged, setDeleted };
      if (applyEvent(id, event, own, live)) reloadAliases().catch(failed);
      reloadTrail().catch(failed);
    },
    [id, reloadAliases, reloadTrail],
  );
  useWatch(name === undefined ? "" : `name = ${quoteFilterValue(name)}`, onEvent, {
    enabled: name !== undefined,
  });
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
