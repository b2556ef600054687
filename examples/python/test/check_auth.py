#!/usr/bin/env python3
"""The helper against a registry with token auth: the token is sent, and refusals map to exceptions.

Usage (run by test/python.test.ts): check_auth.py --registry ADDR --writer TOKEN --reader TOKEN
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from modelreg import PermissionDenied, Registry, Unauthenticated  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", required=True)
    parser.add_argument("--writer", required=True)
    parser.add_argument("--reader", required=True)
    args = parser.parse_args()
    results: dict = {}
    with Registry(args.registry, token=args.writer, timeout=30) as registry:
        assert args.writer not in repr(registry)
        results["registered"] = registry.register("secured", "1.0.0", "onnx").id
    with Registry(args.registry, timeout=30) as anonymous:
        try:
            anonymous.resolve("secured@1.0.0")
            raise AssertionError("a call without a token was answered")
        except Unauthenticated as error:
            results["anonymous"] = {"code": error.code.name, "reason": error.reason}
    with Registry(args.registry, token=args.reader, timeout=30) as reader:
        results["reader_read"] = reader.resolve("secured@1.0.0").id
        try:
            reader.register("secured", "2.0.0", "onnx")
            raise AssertionError("a reader registered a model")
        except PermissionDenied as error:
            results["reader_write"] = {"code": error.code.name, "reason": error.reason}
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
