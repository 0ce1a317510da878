"""The scoring environments are reproducible: supported base images at dated tags, every pip package pinned."""

import re

import pytest

from azureml_endpoints.azure.images import BATCH_IMAGE, ONLINE_IMAGE
from azureml_endpoints.local.runtime import conda_pip_requirements, conda_python
from azureml_endpoints.paths import project_dir

CONDA_FILES = [project_dir() / "ml/environment/conda.yaml", project_dir() / "ml/environment/batch-conda.yaml"]
# Azure/AzureML-Containers README, "Supported Images" (CPU images).
SUPPORTED = {"openmpi4.1.0-ubuntu22.04", "openmpi5.0-ubuntu24.04"}


@pytest.mark.parametrize("image", [ONLINE_IMAGE, BATCH_IMAGE])
def test_images_are_supported_and_pinned_to_a_dated_tag(image):
    match = re.fullmatch(r"mcr\.microsoft\.com/azureml/([\w.-]+):(\d{8}\.v\d+)", image)
    assert match, f"{image}: expected mcr.microsoft.com/azureml/<image>:<yyyymmdd>.v<n>"
    assert match.group(1) in SUPPORTED


@pytest.mark.parametrize("conda_file", CONDA_FILES, ids=lambda p: p.name)
def test_every_pip_package_is_pinned_exactly(conda_file):
    requirements = conda_pip_requirements(conda_file)
    assert requirements and all(re.fullmatch(r"[\w.-]+(\[[\w,]+\])?==[\w.]+", r) for r in requirements), requirements
    assert conda_python(conda_file) == "3.11"


def test_online_environment_pins_the_inference_server_and_batch_has_the_runtime_packages():
    online = {r.split("==")[0] for r in conda_pip_requirements(CONDA_FILES[0])}
    batch = {re.sub(r"\[.*\]", "", r.split("==")[0]) for r in conda_pip_requirements(CONDA_FILES[1])}
    assert "azureml-inference-server-http" in online
    assert {"azureml-core", "azureml-dataset-runtime"} <= batch
    assert "azureml-dataset-runtime[fuse]" in "".join(conda_pip_requirements(CONDA_FILES[1]))
