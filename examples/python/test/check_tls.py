#!/usr/bin/env python3
"""The helper against a registry serving TLS with a private CA: ``ca_file`` connects, plaintext does not.

Usage (run by test/python.test.ts): check_tls.py --registry localhost:PORT --ca-file ca.pem
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from modelreg import Registry, Unavailable  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", required=True)
    parser.add_argument("--ca-file", required=True)
    args = parser.parse_args()
    results: dict = {}
    with Registry(args.registry, tls=True, ca_file=args.ca_file, timeout=30) as registry:
        results["registered"] = registry.register("over-tls", "1.0.0", "onnx").id
    with Registry(args.registry, timeout=5) as plaintext:
        try:
            plaintext.resolve("over-tls@1.0.0")
            raise AssertionError("a plaintext call to a TLS registry was answered")
        except Unavailable as error:
            results["plaintext"] = error.code.name
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
