import { Code, RegistryError, type SetModelAliasRequest } from "@modelreg/proto";
import type { CallContext } from "../context";
import { refusalError, toModelAlias } from "../convert";
import { decodeToken, encodeToken, foreignToken, pageOf, pageSizeOf, tokenHash } from "../listing";
import type { AliasRecord, SetAliasResult } from "../storage/adapter";
import { checkAliasName, checkToken, limits, Violations } from "../validation";
import {
  answerLatestRevision,
  answerRevision,
  type ModelServiceHandlers,
  type ServiceDeps,
  storageOptions,
  writeOptions,
} from "./deps";

/** `bert@champion`, as messages name an alias. */
export const aliasPath = (name: string, alias: string) => `${name}@${alias}`;

/** NOT_FOUND for an alias that does not exist. */
const aliasNotFound = (name: string, alias: string) =>
  new RegistryError(Code.NOT_FOUND, `Alias ${aliasPath(name, alias)} does not exist.`, {
    reason: "ALIAS_NOT_FOUND",
  });

/** ABORTED: the alias does not point where the caller expected. */
function aliasChanged(name: string, alias: string, expected: string, current: AliasRecord | undefined) {
  const path = aliasPath(name, alias);
  const message = current
    ? expected === ""
      ? `${path} already exists (it points at version "${current.version}"), and expected_version "" asks that it does not; read it and retry.`
      : `${path} points at version "${current.version}", not "${expected}" (expected_version); read it again and retry.`
    : `${path} does not exist, and expected_version "${expected}" asks that it points at that version; use expected_version "" to create it.`;
  return new RegistryError(Code.ABORTED, message, { reason: "ALIAS_CHANGED" });
}

/** Validates the name and alias every alias request carries. */
function checkNameAlias(v: Violations, name: string, alias: string): void {
  checkToken(v, "name", name, limits.name, true);
  checkAliasName(v, "alias", alias);
}

function checkSetRequest(request: SetModelAliasRequest): void {
  const v = new Violations();
  checkNameAlias(v, request.name, request.alias);
  checkToken(v, "version", request.version, limits.version, true);
  if (request.expectedVersion) {
    checkToken(v, "expected_version", request.expectedVersion, limits.version, false);
  }
  checkToken(v, "request_id", request.requestId, limits.requestId, false);
  v.throwIfAny();
}

/** The response to a SetModelAlias whose storage call ended with `result`, or its error. */
function setOutcome(request: SetModelAliasRequest, result: SetAliasResult): AliasRecord {
  const { name, alias, version } = request;
  switch (result.status) {
    case "set":
    case "unchanged":
      return result.alias;
    case "versionNotFound":
      throw new RegistryError(
        Code.NOT_FOUND,
        `No model named "${name}" with version "${version}"; register it before pointing ${aliasPath(name, alias)} at it.`,
        { reason: "MODEL_NOT_FOUND" },
      );
    case "aliasChanged":
      throw aliasChanged(name, alias, request.expectedVersion ?? "", result.current);
    case "refused":
      throw refusalError(result.refusal);
    case "requestIdUsed": {
      const made = result.alias;
      // The same move, retried after a lost response: answer as the first time.
      if (made.name === name && made.alias === alias && made.version === version) return made;
      throw new RegistryError(
        Code.ALREADY_EXISTS,
        `request_id "${request.requestId}" was already used for another change; use a new request_id for a new move.`,
        { reason: "REQUEST_ID_REUSED" },
      );
    }
  }
}

/** A ListModelAliases token, bound by its hash to the name it lists. */
function encodeAliasToken(name: string, last: AliasRecord): string {
  return encodeToken({ q: tokenHash(name), n: last.name, a: last.alias });
}

function decodeAliasToken(v: Violations, token: string, name: string) {
  if (token === "") return undefined;
  try {
    const payload = decodeToken(token) as Record<string, unknown>;
    if (payload.q !== tokenHash(name)) {
      v.add("page_token", "belongs to a listing of another name; send the same name");
      return undefined;
    }
    if (typeof payload.n === "string" && typeof payload.a === "string")
      return { name: payload.n, alias: payload.a };
  } catch {
    // Falls through to the violation below.
  }
  v.add("page_token", foreignToken);
  return undefined;
}

/**
 * SetModelAlias: the move (with the policy's check), and the alias it
 * answers with or its error; sets `x-modelreg-revision` (the move's, or the
 * latest for a move that changed nothing).
 */
async function setAlias(
  { storage, feed, policy }: ServiceDeps,
  request: SetModelAliasRequest,
  context: CallContext,
): Promise<AliasRecord> {
  checkSetRequest(request);
  const { name, alias } = request;
  const result = await storage.setAlias(
    {
      name,
      alias,
      version: request.version,
      expectedVersion: request.expectedVersion,
      requestId: request.requestId || undefined,
      check: policy.forSet(name, alias, context.principal),
    },
    writeOptions(context),
  );
  // A refusal is a history entry too: watches move their cursor past it.
  if (result.status === "set" || result.status === "refused") feed.notify();
  if (result.status === "unchanged" || result.status === "requestIdUsed") {
    // Storage answers these without calling `check`, yet a protected alias still needs the role
    // (anyone can read a request_id in ListModelHistory and replay it). Nothing changed, so nothing
    // is recorded: the refusal is this caller's answer only. Evidence is not checked again.
    const refusal = policy.roleRefusal(name, alias, context.principal, "move");
    if (refusal) throw refusalError(refusal);
  }
  const answered = setOutcome(request, result);
  if (result.status === "set") answerRevision(context, answered.revision);
  else await answerLatestRevision(storage, context);
  return answered;
}

type AliasHandlers = Pick<
  ModelServiceHandlers,
  "setModelAlias" | "getModelAlias" | "listModelAliases" | "deleteModelAlias"
>;

/** SetModelAlias, GetModelAlias, ListModelAliases and DeleteModelAlias. */
export function aliasHandlers(deps: ServiceDeps): AliasHandlers {
  const { storage, feed, policy } = deps;
  return {
    async setModelAlias(request, context) {
      return { alias: toModelAlias(await setAlias(deps, request, context)) };
    },

    async getModelAlias(request, context) {
      const v = new Violations();
      checkNameAlias(v, request.name, request.alias);
      v.throwIfAny();
      const record = await storage.getAlias(request.name, request.alias, storageOptions(context));
      if (!record) throw aliasNotFound(request.name, request.alias);
      return { alias: toModelAlias(record) };
    },

    async listModelAliases(request, context) {
      const v = new Violations();
      if (request.name !== "") checkToken(v, "name", request.name, limits.name, false);
      const pageSize = pageSizeOf(v, request.pageSize);
      const after = decodeAliasToken(v, request.pageToken, request.name);
      v.throwIfAny();
      const records = await storage.listAliases(
        { name: request.name || undefined, after, limit: pageSize + 1 },
        storageOptions(context),
      );
      const { page, last } = pageOf(records, pageSize);
      return {
        aliases: page.map(toModelAlias),
        nextPageToken: last ? encodeAliasToken(request.name, last) : "",
      };
    },

    async deleteModelAlias(request, context) {
      const v = new Violations();
      checkNameAlias(v, request.name, request.alias);
      if (request.expectedVersion === "") v.add("expected_version", "must name a version, or be unset");
      else if (request.expectedVersion) {
        checkToken(v, "expected_version", request.expectedVersion, limits.version, false);
      }
      v.throwIfAny();
      const { name, alias, expectedVersion } = request;
      const check = policy.forDelete(name, alias, context.principal);
      const result = await storage.deleteAlias(
        { name, alias, expectedVersion, check },
        writeOptions(context),
      );
      if (result.status === "deleted" || result.status === "refused") feed.notify();
      if (result.status === "notFound") throw aliasNotFound(name, alias);
      if (result.status === "aliasChanged")
        throw aliasChanged(name, alias, expectedVersion ?? "", result.current);
      if (result.status === "refused") throw refusalError(result.refusal);
      answerRevision(context, result.revision);
      return {};
    },
  };
}
