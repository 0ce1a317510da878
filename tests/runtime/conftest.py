"""Stacks that run public sample models (tests/fixtures/az-ml/, copied from Azure/azureml-examples), for score-local."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from azureml_endpoints.azure.images import ONLINE_IMAGE
from azureml_endpoints.config.catalog import content_sha256
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import MODEL_LOCK
from azureml_endpoints.pulumi_io.stack_files import stack_config

NS = "azureml-endpoints:"
SAMPLES = "az-ml/online"  # in the sample project (tests/conftest.py)
MODEL_1 = {"name": "model-1-sample", "version": 1, "path": f"{SAMPLES}/model-1/model", "type": "custom_model"}
MODEL_1_ENVIRONMENT = {"name": "model-1-env", "image": ONLINE_IMAGE, "condaFile": f"{SAMPLES}/model-1/environment/conda.yaml"}
SKLEARN_DIABETES = {"name": "sklearn-diabetes", "version": 2, "path": f"{SAMPLES}/ncd/sklearn-diabetes/model", "type": "mlflow_model"}


@pytest.fixture
def sample_project(az_ml_project):
    """The sample project with model-1 and sklearn-diabetes in its lock file, as a team would lock them."""
    lock_file = az_ml_project / MODEL_LOCK
    lock = json.loads(lock_file.read_text())
    for entry in (MODEL_1, SKLEARN_DIABETES):
        lock["models"].setdefault(entry["name"], {})[str(entry["version"])] = "sha256:" + content_sha256(
            (az_ml_project / entry["path"]).resolve()
        )
    lock_file.write_text(json.dumps(lock))
    return az_ml_project


@pytest.fixture
def sample_stack(sample_project):
    """`(online deployment, batch deployment keys) -> Evaluation` of dev with the samples in its catalog."""

    def build(online: dict | None = None, batch: dict | None = None):
        config = copy.deepcopy(stack_config("dev"))
        config[f"{NS}models"] = [*config.get(f"{NS}models", []), MODEL_1, SKLEARN_DIABETES]
        config[f"{NS}environments"] = [*config.get(f"{NS}environments", []), MODEL_1_ENVIRONMENT]
        if online is not None:
            config[f"{NS}onlineEndpoints"][0]["deployments"] = [
                {"name": "blue", "instanceType": "Standard_DS3_v2", "instanceCount": 1, **online}
            ]
        deployment = config[f"{NS}batchEndpoints"][0]["deployments"][0]
        for key, value in (batch or {}).items():  # None leaves a key out
            deployment.pop(key) if value is None else deployment.update({key: value})
        return evaluate("dev", config=config)

    return build


def _python(version: str) -> Path | None:
    """A working python<version>: on PATH, or one pyenv installed (pyenv's shims on PATH do not run an uninstalled version)."""
    found = shutil.which(f"python{version}")
    candidates = [Path(found)] if found else []
    candidates += sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob(f"{version}.*/bin/python{version}"))
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and "shims" not in candidate.parts:
            return candidate
    return None


@pytest.fixture
def python312_on_path(monkeypatch):
    """Microsoft's model-1 and sklearn-diabetes samples ask for python=3.12: it must be on PATH, as score-local looks for it."""
    python = _python("3.12")
    assert python, "these samples' conda files name python=3.12: install Python 3.12 (python3.12 on PATH) to run them here"
    monkeypatch.setenv("PATH", f"{python.parent}{os.pathsep}{os.environ['PATH']}")
    return python
