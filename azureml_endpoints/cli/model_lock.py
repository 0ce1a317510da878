"""Checks or extends ml/models.lock.json: the content hash of every model version this repository registers.

    azureml-endpoints model-lock           # check: every model of every stack matches the lock
    azureml-endpoints model-lock --add     # add new model versions; never rewrites a locked one

Azure ML model versions are immutable, so a version, once locked, keeps its content: changed files need a new
version number in the stack's `models` entry. The program refuses a stack whose models do not match the lock,
before anything reaches Azure. Exit codes: 0 everything matches (or was added), 1 unusable input (a stack
file, a `models` entry, a lock file of the wrong shape, a file that cannot be written), 2 a model is missing from
the lock (check) or its content changed under a locked version. The lock file is replaced atomically, and only
by a run that exits 0: a kill or a full disk leaves the old file whole (docs/operations.md#what-the-tools-write).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from azureml_endpoints.config.catalog import CatalogModelConfig, content_sha256, lock_problem, read_model_lock
from azureml_endpoints.paths import model_lock_file, using_project
from azureml_endpoints.pulumi_io.files import WriteFailed, write_atomic
from azureml_endpoints.pulumi_io.stack_files import project_name, shipped_stacks, stack_config


def catalog_models(project_dir: Path | None = None) -> list[tuple[str, CatalogModelConfig]]:
    """(where it is declared, entry) for every `models` entry of every stack file of the project."""
    found = []
    namespace = project_name(project_dir)
    for stack in shipped_stacks(project_dir):
        raw = stack_config(stack, project_dir).get(f"{namespace}:models") or []
        if isinstance(raw, str):
            raw = json.loads(raw)
        if not isinstance(raw, list):
            raise ValueError(f"Pulumi.{stack}.yaml: {namespace}:models must be a list")
        for index, entry in enumerate(raw):
            try:
                with using_project(project_dir) if project_dir else contextlib.nullcontext():
                    found.append((f"Pulumi.{stack}.yaml {namespace}:models[{index}]", CatalogModelConfig.model_validate(entry)))
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"Pulumi.{stack}.yaml {namespace}:models[{index}].{where}: {first['msg']}") from None
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="azureml-endpoints model-lock", description=__doc__.split("\n\n")[0])
    parser.add_argument("--add", action="store_true", help="add model versions that are not locked yet, then check")
    parser.add_argument("--lock-file", type=Path, default=None, help="default ml/models.lock.json")
    args = parser.parse_args(argv)
    args.lock_file = args.lock_file or model_lock_file()
    try:
        models = catalog_models()
        lock = read_model_lock(args.lock_file)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        added = _add_versions(models, lock) if args.add else []
        problems = sorted({f"{where}: {problem}" for where, entry in models if (problem := lock_problem(entry, lock))})
        if added and not problems:  # a run that exits 2 writes nothing
            document = {
                "comment": "Model name -> version -> SHA-256 of its files. Written by `azureml-endpoints model-lock --add`; "
                "a locked version never changes content (Azure ML model versions are immutable).",
                "models": {name: dict(sorted(v.items(), key=lambda kv: int(kv[0]))) for name, v in sorted(lock.items())},
            }
            write_atomic(args.lock_file, json.dumps(document, indent=2) + "\n")
    except (ValueError, OSError, WriteFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for reference in added if not problems else []:
        print(f"locked {reference}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len({e.reference for _, e in models})} model versions match {args.lock_file.name}")
    return 2 if problems else 0


def _add_versions(models: list[tuple[str, CatalogModelConfig]], lock: dict[str, dict[str, str]]) -> list[str]:
    """Lock every version not locked yet (in memory); the references added."""
    added = []
    for _, entry in models:
        versions = lock.setdefault(entry.name, {})
        if str(entry.version) not in versions:
            versions[str(entry.version)] = "sha256:" + content_sha256(entry.files_path)
            added.append(entry.reference)
    return added


if __name__ == "__main__":
    sys.exit(main())
