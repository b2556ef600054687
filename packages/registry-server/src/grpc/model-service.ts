import type * as grpc from "@grpc/grpc-js";
import {
  AddModelTagsRequest,
  BatchGetModelsRequest,
  CreateModelRequest,
  DeleteModelAliasRequest,
  DeleteModelRequest,
  GetModelAliasRequest,
  GetModelRequest,
  ImportModelsRequest,
  ListModelAliasesRequest,
  ListModelHistoryRequest,
  ListModelsRequest,
  type Logger,
  LookupModelRequest,
  ModelService,
  RemoveModelTagsRequest,
  SetModelAliasRequest,
  UpdateModelMetadataRequest,
  UpdateModelRequest,
  WatchModelsRequest,
} from "@modelreg/proto";
import { type Admission, admissionInterceptor } from "../admission";
import { checkMethodRoles, methodRoles } from "../auth/roles";
import { type Authorize, authorizeInterceptor } from "../authorize";
import { EncodedModelCache } from "../encoded-cache";
import type { ServerInterceptor } from "../interceptors";
import type { ModelServiceHandlers } from "../service/deps";
import { bindService, clientStreaming, serverStreaming, unary } from "./bind";
import { OpenStreams } from "./call-scope";
import { errorPolicy } from "./status";

/** How ModelService is served; see `RegistryServerOptions`. */
export interface ModelServiceBindingOptions {
  readonly logger: Logger;
  readonly authorize?: Authorize | undefined;
  /** The user's interceptors, outermost first; they run inside the error policy and `authorize`. */
  readonly interceptors?: readonly ServerInterceptor[] | undefined;
  readonly watchStallTimeoutMs?: number | undefined;
  readonly responseCacheBytes?: number | undefined;
  /** Admission control, outermost: a refused call reaches neither the error policy nor `authorize`. */
  readonly admission?: Admission | undefined;
}

/** Every ModelService method and its handler: a method missing here fails at start-up. */
function modelServiceTable(h: ModelServiceHandlers) {
  return {
    CreateModel: unary(CreateModelRequest, h.createModel),
    GetModel: unary(GetModelRequest, h.getModel),
    LookupModel: unary(LookupModelRequest, h.lookupModel),
    ListModels: unary(ListModelsRequest, h.listModels),
    BatchGetModels: unary(BatchGetModelsRequest, h.batchGetModels),
    UpdateModel: unary(UpdateModelRequest, h.updateModel),
    DeleteModel: unary(DeleteModelRequest, h.deleteModel),
    AddModelTags: unary(AddModelTagsRequest, h.addModelTags),
    RemoveModelTags: unary(RemoveModelTagsRequest, h.removeModelTags),
    UpdateModelMetadata: unary(UpdateModelMetadataRequest, h.updateModelMetadata),
    WatchModels: serverStreaming(WatchModelsRequest, h.watchModels),
    ImportModels: clientStreaming(ImportModelsRequest, h.importModels),
    SetModelAlias: unary(SetModelAliasRequest, h.setModelAlias),
    GetModelAlias: unary(GetModelAliasRequest, h.getModelAlias),
    ListModelAliases: unary(ListModelAliasesRequest, h.listModelAliases),
    DeleteModelAlias: unary(DeleteModelAliasRequest, h.deleteModelAlias),
    ListModelHistory: unary(ListModelHistoryRequest, h.listModelHistory),
  };
}

/**
 * ModelService over grpc-js: our own binding rather than
 * @protobuf-ts/grpc-backend, so errors reach grpc-js as numeric codes with
 * details and never with a raw exception message, and a request that fails
 * to decode is INVALID_ARGUMENT, not INTERNAL. Every call runs through the
 * error policy, then `authorize`, then the user's interceptors.
 */
export function bindModelService(
  handlers: ModelServiceHandlers,
  options: ModelServiceBindingOptions,
): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Ends every open watch with UNAVAILABLE (shutdown). */
  endWatches(): void;
} {
  const { logger, authorize } = options;
  // Every method must have its role, whether or not this server checks roles.
  checkMethodRoles(methodRoles);
  const openStreams = new OpenStreams();
  const interceptors: ServerInterceptor[] = [
    ...(options.admission ? [admissionInterceptor(options.admission)] : []),
    errorPolicy(logger),
    ...(authorize ? [authorizeInterceptor(authorize)] : []),
    ...(options.interceptors ?? []),
  ];
  const { definition, implementation } = bindService(ModelService, modelServiceTable(handlers), {
    interceptors,
    logger,
    cache: new EncodedModelCache(options.responseCacheBytes ?? 8 * 1024 * 1024),
    watchStallTimeoutMs: options.watchStallTimeoutMs ?? 30_000,
    openStreams,
  });
  return { definition, implementation, endWatches: () => openStreams.endAll() };
}
