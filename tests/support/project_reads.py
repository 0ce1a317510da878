"""Which files of the repository's own project a test opens: its root `Pulumi.<stack>.yaml` files and `ml/`.

A team replaces those with its own stacks and models, so a product test that read them would break on the
team's repository. Every `open` in the test process goes through one audit hook (PEP 578) that records such
paths while a product test runs; `tests/conftest.py` fails the test that opened one. tests/ci/ is exempt: it
judges the repository's own stacks on purpose (`check`, the stack schema). Commands a test starts as
processes are not seen; they inherit AZUREML_ENDPOINTS_PROJECT, the fixture project's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from azureml_endpoints.paths import REPO

ML = REPO / "ml"
_recording: list[str] | None = None


def root_project_file(path: Path) -> bool:
    """A root stack file (`Pulumi.yaml`, the product's project file, is not one) or a file under root `ml/`."""
    if path.parent == REPO:
        return path.name.startswith("Pulumi.") and path.name.endswith((".yaml", ".yml")) and path.name != "Pulumi.yaml"
    return path.is_relative_to(ML)


def _audit(event: str, args: tuple) -> None:
    if event != "open" or _recording is None or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = Path(os.fsdecode(args[0]))
    if not path.is_absolute():
        path = Path.cwd() / path
    path = Path(os.path.normpath(path))  # not resolve(): a link from the fixture project to a root file is the fixture's
    if root_project_file(path):
        _recording.append(path.relative_to(REPO).as_posix())


sys.addaudithook(_audit)


def start() -> list[str]:
    """Records from now on, into the list returned (until `stop`)."""
    global _recording
    _recording = []
    return _recording


def stop() -> None:
    global _recording
    _recording = None
