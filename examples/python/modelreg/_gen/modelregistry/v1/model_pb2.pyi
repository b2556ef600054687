from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
MODEL_EVENT_TYPE_ALIAS_DELETED: ModelEventType
MODEL_EVENT_TYPE_ALIAS_SET: ModelEventType
MODEL_EVENT_TYPE_CREATED: ModelEventType
MODEL_EVENT_TYPE_DELETED: ModelEventType
MODEL_EVENT_TYPE_LEFT_FILTER: ModelEventType
MODEL_EVENT_TYPE_UNSPECIFIED: ModelEventType
MODEL_EVENT_TYPE_UPDATED: ModelEventType

class HistoryEntry(_message.Message):
    __slots__ = ["actor", "after", "alias_after", "alias_before", "before", "commit_time", "refusal", "request_id", "revision", "type"]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    ALIAS_AFTER_FIELD_NUMBER: _ClassVar[int]
    ALIAS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    actor: str
    after: Model
    alias_after: ModelAlias
    alias_before: ModelAlias
    before: Model
    commit_time: _timestamp_pb2.Timestamp
    refusal: _status_pb2.Status
    request_id: str
    revision: int
    type: ModelEventType
    def __init__(self, revision: _Optional[int] = ..., commit_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., type: _Optional[_Union[ModelEventType, str]] = ..., before: _Optional[_Union[Model, _Mapping]] = ..., after: _Optional[_Union[Model, _Mapping]] = ..., alias_before: _Optional[_Union[ModelAlias, _Mapping]] = ..., alias_after: _Optional[_Union[ModelAlias, _Mapping]] = ..., refusal: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ["artifact_digest", "artifact_uri", "create_time", "description", "etag", "framework", "id", "lineage", "metadata", "name", "tags", "update_time", "version"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARTIFACT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    artifact_digest: str
    artifact_uri: str
    create_time: _timestamp_pb2.Timestamp
    description: str
    etag: str
    framework: str
    id: str
    lineage: ModelLineage
    metadata: _containers.ScalarMap[str, str]
    name: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    update_time: _timestamp_pb2.Timestamp
    version: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., framework: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., artifact_uri: _Optional[str] = ..., etag: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., artifact_digest: _Optional[str] = ..., lineage: _Optional[_Union[ModelLineage, _Mapping]] = ...) -> None: ...

class ModelAlias(_message.Message):
    __slots__ = ["alias", "etag", "model_id", "name", "update_time", "updated_by", "version"]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    alias: str
    etag: str
    model_id: str
    name: str
    update_time: _timestamp_pb2.Timestamp
    updated_by: str
    version: str
    def __init__(self, name: _Optional[str] = ..., alias: _Optional[str] = ..., version: _Optional[str] = ..., model_id: _Optional[str] = ..., etag: _Optional[str] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class ModelEvent(_message.Message):
    __slots__ = ["alias", "commit_time", "model", "model_id", "revision", "type"]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    alias: ModelAlias
    commit_time: _timestamp_pb2.Timestamp
    model: Model
    model_id: str
    revision: int
    type: ModelEventType
    def __init__(self, type: _Optional[_Union[ModelEventType, str]] = ..., model: _Optional[_Union[Model, _Mapping]] = ..., model_id: _Optional[str] = ..., revision: _Optional[int] = ..., commit_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., alias: _Optional[_Union[ModelAlias, _Mapping]] = ...) -> None: ...

class ModelLineage(_message.Message):
    __slots__ = ["code_revision", "dataset_uris", "parent_model_ids", "run_uri"]
    CODE_REVISION_FIELD_NUMBER: _ClassVar[int]
    DATASET_URIS_FIELD_NUMBER: _ClassVar[int]
    PARENT_MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    RUN_URI_FIELD_NUMBER: _ClassVar[int]
    code_revision: str
    dataset_uris: _containers.RepeatedScalarFieldContainer[str]
    parent_model_ids: _containers.RepeatedScalarFieldContainer[str]
    run_uri: str
    def __init__(self, run_uri: _Optional[str] = ..., code_revision: _Optional[str] = ..., dataset_uris: _Optional[_Iterable[str]] = ..., parent_model_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
