"""The pack's asset rules, over the Analyzer gRPC protocol: model versions and pinned environment images."""

import copy

import pytest

from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.offline.policy_client import load_policy_config

MODEL_VERSION = "azure-native:machinelearningservices:ModelVersion"
ENVIRONMENT_VERSION = "azure-native:machinelearningservices:EnvironmentVersion"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine sends a value not known during preview


@pytest.fixture(scope="module")
def staging():
    return evaluate("staging").registrations


def with_change(resources, type_, change):
    result = copy.deepcopy(resources)
    change(next(r for r in result if r.type == type_).inputs)
    return result


def violations(pack, resources, policy):
    return [v for v in pack.check(resources, load_policy_config("staging")) if v.policy == policy]


def test_shipped_assets_pass(pack, staging):
    assert violations(pack, staging, "model-version-positive-integer") == []
    assert violations(pack, staging, "environment-image-pinned") == []


@pytest.mark.parametrize("version", ["1ffaf3b3bd5fe229", "0", "01", "1.0", "-1", ""])
def test_a_model_version_that_is_not_a_positive_integer_is_refused(pack, staging, version):
    found = violations(pack, with_change(staging, MODEL_VERSION, lambda i: i.update(version=version)), "model-version-positive-integer")
    assert [v.level for v in found] == ["mandatory"] and "positive integer" in found[0].message


def test_an_unknown_model_version_cannot_be_told_yet(pack, staging):
    assert (
        violations(pack, with_change(staging, MODEL_VERSION, lambda i: i.update(version=UNKNOWN)), "model-version-positive-integer") == []
    )


@pytest.mark.parametrize(
    "image, refused",
    [
        ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest", True),
        ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", True),
        ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250601.v1", False),
        ("myregistry.example:5000/team/image@sha256:" + "a" * 64, False),
        (["not", "a", "string"], True),
        (UNKNOWN, False),
    ],
)
def test_environment_images_are_pinned(pack, staging, image, refused):
    resources = with_change(staging, ENVIRONMENT_VERSION, lambda i: i["properties"].update(image=image))
    found = violations(pack, resources, "environment-image-pinned")
    assert bool(found) is refused and all(v.level == "mandatory" for v in found)
