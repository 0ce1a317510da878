"""Where things live: the product (this package's repository) and the Pulumi project a team deploys.

The product is the program (`__main__.py`), the components and the policy pack; the package is installed
editable from its repository (`pip install -e .`), so its root is this file's grandparent.

The project is what a team writes: its `Pulumi.<stack>.yaml` files, `policies/config/<stack>.json`, and every
repository path a stack names (catalog models, code folders, conda files, data files, the lock file
`ml/models.lock.json`). Every such path is relative to `project_dir()`: the folder `AZUREML_ENDPOINTS_PROJECT`
names when set, else the current directory, which is the project directory under the Pulumi CLI. The
product's tests point it at their own fixture project (tests/fixtures/project/), never at the stacks and
models a team replaces.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "__main__.py"
PROJECT_ENV = "AZUREML_ENDPOINTS_PROJECT"
MODEL_LOCK = "ml/models.lock.json"  # project-relative
DATA = "ml/data"  # project-relative: the files dataStorage.fileName may name


def project_dir() -> Path:
    """The Pulumi project the stacks and their repository paths belong to."""
    named = os.environ.get(PROJECT_ENV)
    return Path(named).resolve() if named else Path.cwd().resolve()


def model_lock_file() -> Path:
    return project_dir() / MODEL_LOCK


def data_dir() -> Path:
    return project_dir() / DATA


@contextlib.contextmanager
def using_project(directory: Path) -> Iterator[Path]:
    """Within the block, `project_dir()` is `directory` (the offline tools run another project's stacks)."""
    before = os.environ.get(PROJECT_ENV)
    os.environ[PROJECT_ENV] = str(Path(directory).resolve())
    try:
        yield Path(directory).resolve()
    finally:
        if before is None:
            os.environ.pop(PROJECT_ENV, None)
        else:
            os.environ[PROJECT_ENV] = before
