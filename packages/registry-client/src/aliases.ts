/**
 * The alias and history methods of the client (SetModelAlias, GetModelAlias,
 * ListModelAliases, DeleteModelAlias, ListModelHistory, LookupModel by
 * alias), built over the generated service client.
 *
 * @internal
 */
import {
  DeleteModelAliasRequest,
  GetModelAliasRequest,
  ListModelAliasesRequest,
  type ListModelAliasesResponse,
  ListModelHistoryRequest,
  type ListModelHistoryResponse,
  LookupModelRequest,
  type ModelServiceClient,
  SetModelAliasRequest,
  Timestamp,
} from "@modelreg/proto";
import type { PartialMessage } from "@protobuf-ts/runtime";
import type { RpcOptions } from "@protobuf-ts/runtime-rpc";
import { aliasOf, modelOf } from "./answers";
import type { CallOptions, RegistryClient } from "./client";
import { allPages } from "./paging";

/** Options of {@link RegistryClient.resolveAlias}: the call's, and the time to resolve the alias at. */
export interface ResolveAliasOptions extends CallOptions {
  /**
   * Resolve the alias as it was at this time and return the model as it was
   * then (time travel: "what was bert@champion yesterday at noon?").
   * Absent: now.
   */
  readTime?: Date;
}

type Req<T extends object> = PartialMessage<T>;

/** The alias and history methods of {@link RegistryClient}. */
export type AliasMethods = Pick<
  RegistryClient,
  | "setModelAlias"
  | "getModelAlias"
  | "listModelAliases"
  | "listAllModelAliases"
  | "deleteModelAlias"
  | "listModelHistory"
  | "listAllModelHistory"
  | "resolveAlias"
>;

/** The alias methods over `service`; `rpc` turns call options into protobuf-ts ones. */
export function aliasMethods(
  service: ModelServiceClient,
  rpc: (options: CallOptions | undefined) => RpcOptions,
): AliasMethods {
  const listModelAliases = async (request: Req<ListModelAliasesRequest> = {}, o?: CallOptions) =>
    (await service.listModelAliases(ListModelAliasesRequest.create(request), rpc(o))
      .response) as ListModelAliasesResponse;
  const listModelHistory = async (request: Req<ListModelHistoryRequest> = {}, o?: CallOptions) =>
    (await service.listModelHistory(ListModelHistoryRequest.create(request), rpc(o))
      .response) as ListModelHistoryResponse;
  return {
    setModelAlias: async (request, o) =>
      aliasOf(await service.setModelAlias(SetModelAliasRequest.create(request), rpc(o)).response),
    getModelAlias: async (request, o) =>
      aliasOf(await service.getModelAlias(GetModelAliasRequest.create(request), rpc(o)).response),
    listModelAliases,
    listAllModelAliases: (request = {}, o) =>
      allPages(
        (r) => listModelAliases(r, o),
        request,
        (page) => page.aliases,
      ),
    deleteModelAlias: async (request, o) => {
      await service.deleteModelAlias(DeleteModelAliasRequest.create(request), rpc(o)).response;
    },
    listModelHistory,
    listAllModelHistory: (request = {}, o) =>
      allPages(
        (r) => listModelHistory(r, o),
        request,
        (page) => page.entries,
      ),
    resolveAlias: async (name, alias, options) => {
      const { readTime, ...callOptions } = options ?? {};
      const request = LookupModelRequest.create({
        name,
        alias,
        ...(readTime === undefined ? {} : { readTime: Timestamp.fromDate(readTime) }),
      });
      return modelOf(await service.lookupModel(request, rpc(callOptions)).response);
    },
  };
}
