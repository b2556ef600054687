"""Registry errors as Python exceptions: one class per gRPC status code.

Every exception carries the gRPC ``code`` (a ``grpc.StatusCode``), the
registry's ``message`` and its ``details``: the ``google.rpc`` messages
decoded from the ``grpc-status-details-bin`` trailer (``ErrorInfo``,
``BadRequest``, ``PreconditionFailure``, ...), with shortcuts for the ones
the registry sends.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Type

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2

_DETAILS_KEY = "grpc-status-details-bin"
_DETAIL_TYPES: Dict[str, Type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        error_details_pb2.ErrorInfo,
        error_details_pb2.BadRequest,
        error_details_pb2.PreconditionFailure,
        error_details_pb2.RetryInfo,
        error_details_pb2.QuotaFailure,
        error_details_pb2.ResourceInfo,
        error_details_pb2.RequestInfo,
        error_details_pb2.DebugInfo,
        error_details_pb2.Help,
        error_details_pb2.LocalizedMessage,
    )
}


class RegistryError(Exception):
    """A call the registry refused or could not answer.

    ``code`` is the ``grpc.StatusCode``, ``message`` the registry's text and
    ``details`` the decoded ``google.rpc`` detail messages (an unknown detail
    type stays a ``google.protobuf.Any``).
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, code: grpc.StatusCode, message: str, details: Sequence[Message] = ()) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.details: List[Message] = list(details)

    @property
    def error_info(self) -> Optional[error_details_pb2.ErrorInfo]:
        """The ``google.rpc.ErrorInfo`` detail, if any."""
        return next((d for d in self.details if isinstance(d, error_details_pb2.ErrorInfo)), None)

    @property
    def reason(self) -> Optional[str]:
        """``ErrorInfo.reason``: a stable machine-readable cause, e.g. ``MODEL_ALREADY_EXISTS``."""
        info = self.error_info
        return info.reason if info is not None else None

    @property
    def field_violations(self) -> List[Tuple[str, str]]:
        """``(field, description)`` of every ``google.rpc.BadRequest`` field violation."""
        return [
            (v.field, v.description)
            for d in self.details
            if isinstance(d, error_details_pb2.BadRequest)
            for v in d.field_violations
        ]

    @property
    def precondition_violations(self) -> List[error_details_pb2.PreconditionFailure.Violation]:
        """Every ``google.rpc.PreconditionFailure`` violation (type, subject, description)."""
        return [
            v
            for d in self.details
            if isinstance(d, error_details_pb2.PreconditionFailure)
            for v in d.violations
        ]


class Cancelled(RegistryError):
    """CANCELLED: the call was cancelled."""


class Unknown(RegistryError):
    """UNKNOWN: an error without a better code."""


class InvalidArgument(RegistryError):
    """INVALID_ARGUMENT: a bad request; ``field_violations`` names each field."""


class DeadlineExceeded(RegistryError):
    """DEADLINE_EXCEEDED: no answer within the timeout."""


class NotFound(RegistryError):
    """NOT_FOUND: no such model, version or alias."""


class AlreadyExists(RegistryError):
    """ALREADY_EXISTS: the (name, version) is taken, or a request id was reused for another one."""


class PermissionDenied(RegistryError):
    """PERMISSION_DENIED: the caller's role does not allow the call."""


class ResourceExhausted(RegistryError):
    """RESOURCE_EXHAUSTED: the registry is overloaded or a limit was hit."""


class FailedPrecondition(RegistryError):
    """FAILED_PRECONDITION: see ``precondition_violations`` (e.g. a promotion policy's missing evidence)."""


class Aborted(RegistryError):
    """ABORTED: an etag or an alias's expected version no longer matches."""


class OutOfRange(RegistryError):
    """OUT_OF_RANGE: e.g. a watch resuming before the retained history."""


class Unimplemented(RegistryError):
    """UNIMPLEMENTED: the registry does not have this method."""


class Internal(RegistryError):
    """INTERNAL: a bug or corrupted state in the registry."""


class Unavailable(RegistryError):
    """UNAVAILABLE: the registry or its database is down; safe to retry reads and creates with a request id."""


class DataLoss(RegistryError):
    """DATA_LOSS: unrecoverable data loss."""


class Unauthenticated(RegistryError):
    """UNAUTHENTICATED: no or an unknown token."""


_BY_CODE: Dict[grpc.StatusCode, Type[RegistryError]] = {
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNKNOWN: Unknown,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DATA_LOSS: DataLoss,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
}


def _decode_details(trailers: Optional[Sequence[Tuple[str, object]]]) -> List[Message]:
    for key, value in trailers or ():
        if key != _DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            return []
        return [_unpack(detail) for detail in status.details]
    return []


def _unpack(detail: any_pb2.Any) -> Message:
    cls = _DETAIL_TYPES.get(detail.TypeName())
    if cls is None:
        return detail
    message = cls()
    return message if detail.Unpack(message) else detail


def from_rpc_error(error: grpc.RpcError) -> RegistryError:
    """The ``RegistryError`` subclass for a failed gRPC call, with its decoded details."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    message = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
    trailers = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    cls = _BY_CODE.get(code, RegistryError)
    return cls(code, message, _decode_details(trailers))
