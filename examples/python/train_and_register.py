#!/usr/bin/env python3
"""An example training script that registers its model in a modelreg registry.

The "training" is fake and deterministic: it fits a line to a fixed dataset
and writes the weights as the artifact. The script then registers the
version with the artifact's SHA-256 digest and its lineage (run, code
revision, dataset), points an alias at it and resolves the alias back.
Re-running it with the same arguments registers nothing new: the helper
derives the request id from the registration, so the registry answers with
the model the first run created.

    /usr/bin/python3 examples/python/train_and_register.py --registry localhost:9090

Prints the registered model as one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from modelreg import AlreadyExists, Lineage, Registry, RegistryError

DATASET_URI = "https://example.com/datasets/lines-v1.csv"
DATASET = [(x, 2.0 * x + 1.0 + (0.1 if x % 2 else -0.1)) for x in range(20)]


def train() -> dict:
    """Least squares on DATASET: y = slope * x + intercept."""
    n = len(DATASET)
    mean_x = sum(x for x, _ in DATASET) / n
    mean_y = sum(y for _, y in DATASET) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in DATASET) / sum((x - mean_x) ** 2 for x, _ in DATASET)
    return {"slope": round(slope, 6), "intercept": round(mean_y - slope * mean_x, 6)}


def code_revision() -> str:
    """The git commit this script runs from, or "unknown"."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default=os.environ.get("MODELREG_REGISTRY", "localhost:9090"))
    parser.add_argument("--token", default=os.environ.get("MODELREG_TOKEN"), help="bearer token (or MODELREG_TOKEN)")
    parser.add_argument("--name", default="line-fit")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--out", default="artifacts", help="folder for the artifact file")
    parser.add_argument("--run-uri", default="https://example.com/runs/line-fit-1")
    args = parser.parse_args()

    weights = train()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact = out_dir / f"{args.name}-{args.version}.json"
    artifact.write_bytes(json.dumps(weights, sort_keys=True).encode("utf-8"))
    digest = "sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest()

    try:
        with Registry(args.registry, token=args.token) as registry:
            model = registry.register(
                args.name,
                args.version,
                "python",
                description="A line fitted by least squares (the modelreg Python example).",
                tags=["example"],
                metadata={"slope": str(weights["slope"]), "intercept": str(weights["intercept"])},
                artifact_uri=artifact.resolve().as_uri(),
                artifact_digest=digest,
                lineage=Lineage(
                    run_uri=args.run_uri,
                    code_revision=code_revision(),
                    dataset_uris=[DATASET_URI],
                ),
            )
            registry.set_alias(args.name, args.alias, args.version)
            resolved = registry.resolve(f"{args.name}@{args.alias}")
    except AlreadyExists as error:
        print(f"{args.name} {args.version} is already registered with other contents "
              f"({error.reason}): bump --version", file=sys.stderr)
        return 3
    except RegistryError as error:
        print(f"registry error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({
        "id": model.id,
        "name": model.name,
        "version": model.version,
        "artifact_digest": model.artifact_digest,
        "alias": f"{args.name}@{args.alias}",
        "resolved_id": resolved.id,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
