#!/usr/bin/env python3
"""Drives the helper against a live registry and asserts what a user sees.

Run by test/python.test.ts (which starts the registry and checks the JSON
this prints); by hand: ``/usr/bin/python3 examples/python/test/check_example.py
--registry localhost:9090`` against an empty registry. Prints one JSON line
``{"ready": true}`` once its watch is live (the test then creates a model
named ``from-ts``), and one JSON line of results at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from modelreg import (  # noqa: E402
    AlreadyExists,
    DeadlineExceeded,
    InvalidArgument,
    Lineage,
    Model,
    NotFound,
    Registry,
    derive_request_id,
    event_type_name,
)

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


def emit(value: dict) -> None:
    print(json.dumps(value), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", required=True)
    args = parser.parse_args()
    results: dict = {}
    with Registry(args.registry, timeout=30) as registry:
        lineage = Lineage(
            run_uri="https://example.com/runs/7",
            code_revision="abc123",
            dataset_uris=["s3://data/train", "s3://data/eval"],
        )
        first = registry.register(
            "py-model", "1.0.0", "onnx", tags=["production"], metadata={"owner": "ana"},
            artifact_uri="s3://models/py-model/1.0.0.onnx", artifact_digest=DIGEST, lineage=lineage,
        )
        assert first.id != "" and first.artifact_digest == DIGEST
        assert list(first.lineage.dataset_uris) == ["s3://data/eval", "s3://data/train"]  # a set: sorted
        results["id"] = first.id

        # The same registration again (a re-run script): the derived request id returns the same model.
        again = registry.register(
            "py-model", "1.0.0", "onnx", tags=["production"], metadata={"owner": "ana"},
            artifact_uri="s3://models/py-model/1.0.0.onnx", artifact_digest=DIGEST, lineage=lineage,
        )
        assert again.id == first.id, (again.id, first.id)
        # An explicit request id, retried: one model.
        second = registry.register("py-model", "2.0.0", "onnx", tags=["production"], request_id="req-42")
        retried = registry.register("py-model", "2.0.0", "onnx", tags=["production"], request_id="req-42")
        assert retried.id == second.id
        results["retried_same"] = retried.id == second.id

        # Something else under a taken (name, version): AlreadyExists, with the gRPC code and ErrorInfo.
        try:
            registry.register("py-model", "1.0.0", "onnx", artifact_digest=OTHER_DIGEST)
            raise AssertionError("duplicate registration succeeded")
        except AlreadyExists as error:
            results["duplicate"] = {"code": error.code.name, "reason": error.reason}

        # A bad filter: InvalidArgument with a BadRequest field violation on `filter`.
        try:
            list(registry.list('name = "x" AND'))
            raise AssertionError("bad filter accepted")
        except InvalidArgument as error:
            results["bad_filter"] = {"code": error.code.name, "fields": [f for f, _ in error.field_violations]}

        registry.register("py-model", "3.0.0", "pytorch", tags=["production"])
        listed = registry.list('tags:production AND framework = "onnx"', order_by="version", page_size=1)
        results["listed"] = [m.version for m in listed]

        registry.set_alias("py-model", "champion", "1.0.0")
        results["champion"] = registry.resolve("py-model@champion").id
        results["by_version"] = registry.resolve("py-model@2.0.0").version
        results["latest"] = registry.resolve("py-model").version
        try:
            registry.resolve("py-model@nope")
            raise AssertionError("unknown alias resolved")
        except NotFound as error:
            results["unknown_alias"] = {"code": error.code.name, "reason": error.reason}

        # A watch resumed after revision 0 replays the history: the first event is the first registration.
        replayed = registry.watch(after_revision=0, timeout=30)
        event = next(replayed)
        replayed.close()
        results["replayed"] = {"type": event_type_name(event), "id": event.model.id, "revision": event.revision}
        # A watch's refusal is raised by watch() itself (the call starts there), mapped like any call's.
        try:
            next(registry.watch('name = "x" AND', timeout=30))
            raise AssertionError("bad watch filter accepted")
        except InvalidArgument as error:
            results["bad_watch_filter"] = [f for f, _ in error.field_violations]

        # The watch is live when watch() returns: a change made before the first next() is seen.
        events = registry.watch('name = "eager"', timeout=10)
        registry.register("eager", "1.0.0", "onnx")
        try:
            event = next(events)
            results["eager_watch"] = {"type": event_type_name(event), "name": event.model.name}
        except DeadlineExceeded:
            results["eager_watch"] = "missed: no event within 10 s"
        events.close()
        # A watch used as a context manager is cancelled at the block's end; iterating it then stops.
        with registry.watch('name = "eager"', after_revision=0, timeout=30) as watch:
            results["start_revision"] = watch.start_revision
        results["closed_watch_stops"] = next(watch, None) is None

        # Tags, datasets and parents are sets: listed in another order, or twice, it is the same registration.
        def lineage_of(datasets: list, parents: list) -> Lineage:
            return Lineage(run_uri="https://example.com/runs/9", dataset_uris=datasets, parent_model_ids=parents)

        same_a = registry.register("set-model", "1.0.0", "onnx", tags=["a", "b"],
                                   lineage=lineage_of(["s3://d/1", "s3://d/2"], [first.id, second.id]))
        same_b = registry.register("set-model", "1.0.0", "onnx", tags=["b", "a", "b"],
                                   lineage=lineage_of(["s3://d/2", "s3://d/1", "s3://d/2"], [second.id, first.id]))
        results["sets_same_id"] = same_a.id == same_b.id
        a = Model(name="m", version="1", tags=["x", "y"])
        b = Model(name="m", version="1", tags=["y", "x", "x"])
        c = Model(name="m", version="1", tags=["x", "z"])
        results["derived_ids"] = [derive_request_id(a) == derive_request_id(b),
                                  derive_request_id(a) == derive_request_id(c)]

        ready = []

        def on_progress(revision: int) -> None:
            if not ready:
                ready.append(revision)
                emit({"ready": True, "revision": revision})

        for event in registry.watch('name = "from-ts"', progress_interval=0.2, on_progress=on_progress, timeout=60):
            results["watched"] = {"type": event_type_name(event), "name": event.model.name,
                                  "version": event.model.version, "after_ready": event.revision > ready[0]}
            break
    emit(results)


if __name__ == "__main__":
    main()
