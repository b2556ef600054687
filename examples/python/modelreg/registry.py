"""The ``Registry`` client: register, resolve, list, alias and watch models."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Callable, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar

import grpc
from google.protobuf import duration_pb2
from modelregistry.v1 import model_pb2, model_service_pb2, model_service_pb2_grpc

from .errors import NotFound, from_rpc_error

T = TypeVar("T")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Lineage:
    """Where a model version came from (``modelregistry.v1.ModelLineage``)."""

    run_uri: str = ""
    code_revision: str = ""
    dataset_uris: Sequence[str] = field(default_factory=tuple)
    parent_model_ids: Sequence[str] = field(default_factory=tuple)

    def to_proto(self) -> model_pb2.ModelLineage:
        return model_pb2.ModelLineage(
            run_uri=self.run_uri,
            code_revision=self.code_revision,
            dataset_uris=list(self.dataset_uris),
            parent_model_ids=list(self.parent_model_ids),
        )


def derive_request_id(model: model_pb2.Model) -> str:
    """A request id that is the same for the same registration, and differs for any other.

    A training script that is re-run (or retried after a lost answer) with the
    same name, version, artifact and lineage gets back the model it created
    the first time instead of an ``AlreadyExists``; registering something
    different under a taken (name, version) still fails with ``AlreadyExists``.
    ``tags``, ``dataset_uris`` and ``parent_model_ids`` are sets (the registry
    stores them so): their order and repeats do not change the id.
    """
    canonical = {
        "name": model.name,
        "version": model.version,
        "framework": model.framework,
        "description": model.description,
        # Tags, datasets and parents are sets on the server: any order, any repeats, one id.
        "tags": sorted(set(model.tags)),
        "metadata": dict(sorted(model.metadata.items())),
        "artifact_uri": model.artifact_uri,
        "artifact_digest": model.artifact_digest,
        "lineage": {
            "run_uri": model.lineage.run_uri,
            "code_revision": model.lineage.code_revision,
            "dataset_uris": sorted(set(model.lineage.dataset_uris)),
            "parent_model_ids": sorted(set(model.lineage.parent_model_ids)),
        },
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return "modelreg-py-" + hashlib.sha256(encoded).hexdigest()


def event_type_name(event: model_pb2.ModelEvent) -> str:
    """``CREATED``, ``UPDATED``, ``DELETED``, ``ALIAS_SET``, ``ALIAS_DELETED`` or ``LEFT_FILTER``."""
    return model_pb2.ModelEventType.Name(event.type).replace("MODEL_EVENT_TYPE_", "")


class Registry:
    """A connection to a modelreg registry (gRPC); use it as a context manager.

    ``target`` is ``host:port``. ``token`` is sent as ``authorization: Bearer
    <token>`` on every call. ``tls=True`` uses TLS with the system's roots, or
    ``ca_file``'s. ``timeout`` is every unary call's deadline, in seconds (a
    watch has none unless given one). Failed calls raise a ``RegistryError``
    subclass (``NotFound``, ``AlreadyExists``, ``InvalidArgument``, ...).
    """

    def __init__(
        self,
        target: str = "localhost:9090",
        token: Optional[str] = None,
        tls: bool = False,
        timeout: Optional[float] = 10,
        ca_file: Optional[str] = None,
    ) -> None:
        if tls or ca_file is not None:
            roots = None
            if ca_file is not None:
                with open(ca_file, "rb") as f:
                    roots = f.read()
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(roots))
        else:
            self._channel = grpc.insecure_channel(target)
        self._stub = model_service_pb2_grpc.ModelServiceStub(self._channel)
        self._metadata: Tuple[Tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self.timeout = timeout

    def __enter__(self) -> "Registry":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._channel.close()

    def __repr__(self) -> str:  # never shows the token
        return f"Registry(authenticated={bool(self._metadata)})"

    def _call(self, method: Callable[..., T], request: object) -> T:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def register(
        self,
        name: str,
        version: str,
        framework: str = "",
        *,
        description: str = "",
        tags: Sequence[str] = (),
        metadata: Optional[Mapping[str, str]] = None,
        artifact_uri: str = "",
        artifact_digest: str = "",
        lineage: Optional[Lineage] = None,
        request_id: Optional[str] = None,
    ) -> model_pb2.Model:
        """Registers a model version (CreateModel) and returns it with its id and timestamps.

        ``request_id`` makes the call idempotent; by default it is derived from
        everything registered (``derive_request_id``), so re-running the same
        script returns the same model. Pass ``""`` to send none.
        """
        model = model_pb2.Model(
            name=name,
            version=version,
            framework=framework,
            description=description,
            tags=list(tags),
            metadata=dict(metadata or {}),
            artifact_uri=artifact_uri,
            artifact_digest=artifact_digest,
        )
        if lineage is not None:
            model.lineage.CopyFrom(lineage.to_proto())
        if request_id is None:
            request_id = derive_request_id(model)
        request = model_service_pb2.CreateModelRequest(model=model, request_id=request_id)
        return self._call(self._stub.CreateModel, request).model

    def get(self, model_id: str) -> model_pb2.Model:
        """One model by id."""
        return self._call(self._stub.GetModel, model_service_pb2.GetModelRequest(id=model_id)).model

    def resolve(self, ref: str, *, version: Optional[str] = None, alias: Optional[str] = None) -> model_pb2.Model:
        """The model ``name@alias``, ``name@version`` or ``name`` (its latest version) names.

        ``name@ref`` tries ``ref`` as an alias first when it is spelled like one
        (lower-case letters, digits, ``-`` ``_``), then as a version. Pass
        ``version=`` or ``alias=`` to say which.
        """
        name, _, ref_part = ref.partition("@")
        if version is not None or alias is not None:
            return self._lookup(name, version or "", alias or "")
        if ref_part == "":
            return self._lookup(name, "", "latest")
        if not _ALIAS.match(ref_part):
            return self._lookup(name, ref_part, "")
        try:
            return self._lookup(name, "", ref_part)
        except NotFound as error:
            if error.reason != "ALIAS_NOT_FOUND":
                raise
            try:
                return self._lookup(name, ref_part, "")
            except NotFound:
                raise error from None

    def _lookup(self, name: str, version: str, alias: str) -> model_pb2.Model:
        request = model_service_pb2.LookupModelRequest(name=name, version=version, alias=alias)
        return self._call(self._stub.LookupModel, request).model

    def list(self, filter: str = "", *, order_by: str = "", page_size: int = 0) -> Iterator[model_pb2.Model]:
        """Every model matching ``filter`` (the registry's AIP-160 syntax), fetching pages as the loop goes."""
        token = ""
        while True:
            request = model_service_pb2.ListModelsRequest(
                filter=filter, order_by=order_by, page_size=page_size, page_token=token
            )
            page = self._call(self._stub.ListModels, request)
            yield from page.models
            token = page.next_page_token
            if token == "":
                return

    def set_alias(
        self,
        name: str,
        alias: str,
        version: str,
        expected_version: Optional[str] = None,
        request_id: str = "",
    ) -> model_pb2.ModelAlias:
        """Points ``name@alias`` at ``version``; with ``expected_version`` only if it points there now
        (``""``: only if the alias does not exist yet), else ``Aborted`` (reason ``ALIAS_CHANGED``)."""
        request = model_service_pb2.SetModelAliasRequest(
            name=name, alias=alias, version=version, request_id=request_id
        )
        if expected_version is not None:
            request.expected_version = expected_version
        return self._call(self._stub.SetModelAlias, request).alias

    def aliases(self, name: str = "") -> List[model_pb2.ModelAlias]:
        """Every alias of ``name`` (of every name when empty)."""
        result: List[model_pb2.ModelAlias] = []
        token = ""
        while True:
            request = model_service_pb2.ListModelAliasesRequest(name=name, page_token=token)
            page = self._call(self._stub.ListModelAliases, request)
            result.extend(page.aliases)
            token = page.next_page_token
            if token == "":
                return result

    def watch(
        self,
        filter: str = "",
        after_revision: Optional[int] = None,
        *,
        progress_interval: Optional[float] = None,
        on_progress: Optional[Callable[[int], None]] = None,
        timeout: Optional[float] = None,
    ) -> "Watch":
        """Watches every change (``ModelEvent``) matching ``filter``, from now or after ``after_revision``.

        The watch is live when this returns (it waits for the registry's first
        progress notification): a change made after the call is seen, even one
        made before the first ``next()``. A refused watch (a bad filter, a
        denied token) raises here. Iterate the returned ``Watch`` for the
        events; the stream is endless: stop with ``close()`` (or use it as a
        context manager) or a ``timeout`` in seconds. Progress notifications
        are not yielded; the registry sends one when the watch starts and then
        whenever nothing happened for ``progress_interval`` seconds, and
        ``on_progress`` gets their revision (resume later with
        ``after_revision`` = the last revision seen, an event's or a
        notification's).
        """
        request = model_service_pb2.WatchModelsRequest(filter=filter)
        if after_revision is not None:
            request.after_revision = after_revision
        if progress_interval is not None:
            seconds = int(progress_interval)
            request.progress_interval.CopyFrom(
                duration_pb2.Duration(seconds=seconds, nanos=int((progress_interval - seconds) * 1e9))
            )
        call = self._stub.WatchModels(request, timeout=timeout, metadata=self._metadata)
        watch = Watch(call, on_progress)
        watch._start()
        return watch


class Watch(Iterator[model_pb2.ModelEvent]):
    """A live WatchModels call (from ``Registry.watch``): iterate it for ``ModelEvent``s.

    It owns the call: ``close()``, leaving a ``with`` block, or the object
    being garbage-collected cancels it; iterating a closed watch stops.
    """

    def __init__(self, call: Any, on_progress: Optional[Callable[[int], None]]) -> None:
        self._call = call
        self._on_progress = on_progress
        self._pending: Optional[model_pb2.ModelEvent] = None
        self._closed = False
        self.start_revision: Optional[int] = None
        """The revision the registry started the watch at (its first progress notification)."""

    def _start(self) -> None:
        """Reads up to the registry's first progress notification: the watch is live after it."""
        response = self._receive()
        if response is None:
            return
        if response.HasField("event"):  # not sent first by the registry, but kept if it were
            self._pending = response.event
        else:
            self.start_revision = response.revision
            if self._on_progress is not None:
                self._on_progress(response.revision)

    def _receive(self) -> Optional[model_service_pb2.WatchModelsResponse]:
        """The next response, ``None`` once the stream ended or was closed; errors mapped and closing."""
        if self._closed:
            return None
        try:
            return next(self._call)
        except StopIteration:
            self.close()
            return None
        except grpc.RpcError as error:
            if self._closed:  # cancelled by close() meanwhile
                return None
            self.close()
            raise from_rpc_error(error) from None

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> model_pb2.ModelEvent:
        if self._pending is not None:
            event, self._pending = self._pending, None
            return event
        while True:
            response = self._receive()
            if response is None:
                raise StopIteration
            if response.HasField("event"):
                return response.event
            if self._on_progress is not None:
                self._on_progress(response.revision)

    def close(self) -> None:
        """Cancels the call; later iteration stops. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._call.cancel()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # An abandoned watch (``break`` out of ``for e in r.watch()``) does not keep its stream open.
        try:
            self.close()
        except Exception:  # the channel may be gone already at interpreter exit
            pass
