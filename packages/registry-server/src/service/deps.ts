import { Code, type IModelService, RegistryError, revisionHeader } from "@modelreg/proto";
import type { ChangeFeed } from "../changes";
import type { CallContext } from "../context";
import { etagOf } from "../convert";
import type { AliasPolicyChecker } from "../policy/check";
import type { StorageAdapter, StorageCallOptions } from "../storage/adapter";
import type { StreamSettings } from "./settings";

/** The ModelService handlers: the generated server interface, served with a {@link CallContext}. */
export type ModelServiceHandlers = IModelService<CallContext>;

/** What every group of handlers shares. */
export interface ServiceDeps {
  readonly storage: StorageAdapter;
  readonly settings: Required<StreamSettings>;
  /** Wakes open watches; told after each write of ours that changed something. */
  readonly feed: ChangeFeed;
  /** The promotion policy: the checks of protected alias moves. */
  readonly policy: AliasPolicyChecker;
}

/**
 * The call's deadline and signal, for every storage call it makes: a call
 * nobody waits for any more stops its database work.
 */
export function storageOptions(context: CallContext): StorageCallOptions {
  // The context itself: its signal is made only if storage looks at it.
  return context;
}

/** The most characters (Unicode code points) of an actor storage records: its columns are varchar(512). */
const maxActorLength = 512;

/**
 * Who a call's writes are recorded as: the principal's subject, `anonymous`
 * without one. A subject longer than {@link maxActorLength} code points
 * (a custom `authorize` hook may return one) is cut to its first 511 and a
 * trailing `…`, so that caller's writes are recorded instead of failing in
 * the SQL databases' columns.
 */
export function actorOf(context: CallContext): string {
  const subject = context.principal?.subject ?? "anonymous";
  // At most 512 UTF-16 code units are at most 512 code points.
  if (subject.length <= maxActorLength) return subject;
  let kept = "";
  let count = 0;
  for (const point of subject) {
    if (++count > maxActorLength) return `${kept}…`;
    if (count < maxActorLength) kept += point;
  }
  return subject;
}

/**
 * {@link storageOptions} plus the call's actor, for storage writes (the
 * history records it). The signal stays lazy: a getter reads the context's
 * only if storage looks at it.
 */
export function writeOptions<T extends object = object>(
  context: CallContext,
  extra?: T,
): StorageCallOptions & T {
  return {
    ...(extra as T),
    deadline: context.deadline,
    get signal() {
      return context.signal;
    },
    actor: actorOf(context),
  };
}

export const notFound = (id: string) =>
  new RegistryError(Code.NOT_FOUND, `Model "${id}" not found.`, { reason: "MODEL_NOT_FOUND" });

export const etagMismatch = (current: number) =>
  new RegistryError(
    Code.ABORTED,
    `The model changed since the etag was read (current etag ${etagOf(current)}); read it again and retry.`,
    { reason: "ETAG_MISMATCH" },
  );

/** Answers the write with `x-modelreg-revision`: the history revision it committed at. */
export function answerRevision(context: CallContext, revision: number): void {
  context.setHeader(revisionHeader, String(revision));
}

/**
 * Answers a write that committed nothing (a replayed request id, a change
 * that changes nothing) with the latest revision as `x-modelreg-revision`:
 * what it made, or found, is in the history up to there.
 */
export async function answerLatestRevision(storage: StorageAdapter, context: CallContext): Promise<void> {
  const { latestRevision } = await storage.readChanges(0, 0, storageOptions(context));
  answerRevision(context, latestRevision);
}
