"""`azureml-endpoints import` on azureml-examples' managed online sample (endpoint.yml + blue-deployment.yml, model-1).

The fixtures are copies of Azure/azureml-examples@085cd6ea399038c1e07843acff811f34261c0887:
cli/endpoints/online/managed/sample/{endpoint.yml,blue-deployment.yml} and cli/endpoints/online/model-1/
(az-ml/online/, same layout). The import is read by azure-ai-ml's own loaders; the stack it
gives evaluates, and its endpoint and deployment bodies are the ones azure-ai-ml builds from the same YAML.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from azureml_endpoints.azure.images import ONLINE_IMAGE
from azureml_endpoints.cli.import_az import AZURE_AI_ML
from azureml_endpoints.local.runtime import requirements_env
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import REPO, project_dir
from azureml_endpoints.pulumi_io.stack_files import stack_config
from tests.support.azure_ai_ml import sdk_bodies
from tests.support.commands import run_command

SAMPLE = "az-ml/online/managed/sample"  # in the sample project (tests/conftest.py az_ml_project)
ML = "azure-native:machinelearningservices:"
URL_INPUTS = {"resourceGroupName", "workspaceName", "endpointName", "deploymentName", "name", "version"}


@pytest.fixture
def files(az_ml_project) -> list[Path]:
    return [az_ml_project / SAMPLE / "endpoint.yml", az_ml_project / SAMPLE / "blue-deployment.yml"]


def run_import(*args: str) -> subprocess.CompletedProcess:
    return run_command("import", *args)


@pytest.fixture
def imported(files) -> dict:
    result = run_import(*map(str, files), "--image", ONLINE_IMAGE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture
def imported_stack(imported):
    """The import pasted into a stack file (dev's workspace and data settings), locked with `model-lock --add`, evaluated."""
    config = {k: v for k, v in stack_config("dev").items() if not k.endswith(("onlineEndpoints", "batchEndpoints"))}
    (project_dir() / "Pulumi.imported.yaml").write_text(yaml.safe_dump({"config": {**config, **imported}}, sort_keys=False))
    locked = subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.main", "model-lock", "--add"], cwd=project_dir(), capture_output=True, text=True
    )
    assert locked.returncode == 0, locked.stdout + locked.stderr
    return evaluate("imported", preview=True)


def test_the_model_1_sample_becomes_catalog_entries_and_an_endpoint(imported):
    assert imported == {
        "azureml-endpoints:models": [{"name": "model-1", "version": 1, "path": "az-ml/online/model-1/model", "type": "custom_model"}],
        "azureml-endpoints:environments": [
            {"name": "model-1-env", "image": ONLINE_IMAGE, "condaFile": "az-ml/online/model-1/environment/conda.yaml"}
        ],
        "azureml-endpoints:onlineEndpoints": [
            {
                "name": "my-endpoint",
                "identity": {"type": "SystemAssigned"},  # Azure's default for an endpoint YAML that names none, stated
                "authMode": "Key",
                "deployments": [
                    {
                        "name": "blue",
                        "instanceType": "Standard_DS3_v2",
                        "instanceCount": 1,
                        "model": "model-1:1",
                        "code": "az-ml/online/model-1/onlinescoring",
                        "scoringScript": "score.py",
                        "environment": "model-1-env",
                    }
                ],
                "traffic": {"blue": 100},  # as `az ml online-deployment create --all-traffic`
            }
        ],
    }


def test_the_imported_stack_evaluates_with_the_sample_files(imported_stack):
    assert imported_stack.error is None
    (deployment,) = imported_stack.of_type(ML + "OnlineDeployment")
    assert deployment.inputs["endpointName"] == "my-endpoint" and deployment.inputs["deploymentName"] == "blue"
    (model,) = imported_stack.of_type(ML + "ModelVersion")
    assert model.inputs["name"] == "model-1" and model.inputs["properties"]["tags"]["source"] == "az-ml/online/model-1/model"
    (environment,) = [e for e in imported_stack.of_type(ML + "EnvironmentVersion") if e.inputs["name"] == "model-1-env"]
    conda = (project_dir() / "az-ml/online/model-1/environment/conda.yaml").read_text()
    assert yaml.safe_load(environment.inputs["properties"]["condaFile"]) == yaml.safe_load(conda)


def _normalise(value):
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def test_the_request_bodies_are_what_az_ml_sends_for_the_same_yaml(imported_stack, files):
    """azure-ai-ml builds the bodies from the sample YAML itself, with the ids the program registered for its assets."""
    sdk = requirements_env("azure-ai-ml", [AZURE_AI_ML])
    loaded = {
        item["kind"]: item
        for item in json.loads(
            subprocess.check_output([str(sdk), str(REPO / "azureml_endpoints/local/aml_yaml_loader.py"), *map(str, files)], text=True)
        )
    }
    (endpoint,) = imported_stack.of_type(ML + "OnlineEndpoint")
    (deployment,) = imported_stack.of_type(ML + "OnlineDeployment")
    p, d, e = deployment.inputs["properties"], loaded["online_deployment"], loaded["online_endpoint"]
    definitions = [
        {
            "kind": "online_endpoint",
            "args": {
                "name": e["name"],
                "auth_mode": e["auth_mode"],
                "identity": None,
                "tags": endpoint.inputs["tags"],
                "location": endpoint.inputs["location"],
            },
        },
        {
            "kind": "online_deployment",
            "args": {
                "name": d["name"],
                "endpoint_name": d["endpoint_name"],
                "model": p["model"],
                "environment": p["environmentId"],
                "code": p["codeConfiguration"]["codeId"],
                "scoring_script": d["scoring_script"],
                "instance_type": d["instance_type"],
                "instance_count": d["instance_count"],
                "environment_variables": p.get("environmentVariables") or {},
                "app_insights_enabled": d["app_insights_enabled"],
                "tags": deployment.inputs["tags"],
                "location": deployment.inputs["location"],
            },
        },
    ]
    bodies = sdk_bodies(sdk, definitions)
    sdk_endpoint, sdk_deployment = (_normalise(b) for b in bodies)
    program_endpoint = _normalise({k: v for k, v in endpoint.inputs.items() if k not in URL_INPUTS})
    program_deployment = _normalise({k: v for k, v in deployment.inputs.items() if k not in URL_INPUTS})
    # The endpoint YAML names no identity: both send Azure's default, SystemAssigned.
    assert program_endpoint["identity"] == {"type": "SystemAssigned"}
    # Network exposure is a stated decision: the program sends Enabled, the service default the SDK leaves implicit.
    assert program_endpoint["properties"].pop("publicNetworkAccess") == "Enabled"
    assert program_endpoint == sdk_endpoint
    # Stated where the SDK leaves the service default (docs/testing.md#request-bodies-against-azure-ai-ml).
    assert program_deployment["properties"].pop("egressPublicNetworkAccess") == "Enabled"
    assert program_deployment["properties"].pop("scaleSettings") == {"scaleType": "Default"}
    assert program_deployment == sdk_deployment


def test_an_unpinned_image_is_refused_with_what_to_write(files):
    result = run_import(*map(str, files))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(
        f"error: {files[1]}: environment.image mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest is not pinned"
    )
    assert "pass --image <image>:<dated tag>" in result.stderr


def test_a_deployment_of_an_endpoint_not_given_is_refused(files):
    result = run_import(str(files[1]), "--image", ONLINE_IMAGE)
    assert result.returncode == 1
    assert result.stderr == f"error: {files[1]}: endpoint_name my-endpoint is none of the endpoint files given (none)\n"


def test_files_outside_the_project_are_refused(az_ml_project, tmp_path):
    copy = tmp_path / "elsewhere"
    shutil.copytree(az_ml_project / "az-ml/online", copy)
    result = run_import(
        str(copy / "managed/sample/endpoint.yml"), str(copy / "managed/sample/blue-deployment.yml"), "--image", ONLINE_IMAGE
    )
    assert result.returncode == 2
    assert "model.path" in result.stderr and "is outside the project" in result.stderr and "copy it into the project first" in result.stderr


def test_a_file_the_sdk_loader_refuses_is_exit_2(files):
    bad = files[1].parent / "bad-deployment.yml"  # inside the project, so only the loader can refuse it
    bad.write_text(files[1].read_text().replace("instance_count: 1", "instance_count: many"))
    result = run_import(str(files[0]), str(bad), "--image", ONLINE_IMAGE)
    assert result.returncode == 2 and "azure-ai-ml refuses it" in result.stderr and "instance_count" in result.stderr


def test_merge_into_a_stack_file_appends_and_refuses_duplicates(files, tmp_path):
    stack_file = tmp_path / "stacks" / "Pulumi.team.yaml"
    stack_file.parent.mkdir()
    stack_file.write_text(yaml.safe_dump({"config": {"azureml-endpoints:environment": "dev"}}))
    result = run_import(*map(str, files), "--image", ONLINE_IMAGE, "--stack-file", str(stack_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"merged models, environments, onlineEndpoints into {stack_file}\n"
    config = yaml.safe_load(stack_file.read_text())["config"]
    assert config["azureml-endpoints:environment"] == "dev" and config["azureml-endpoints:onlineEndpoints"][0]["name"] == "my-endpoint"
    before = stack_file.read_text()
    again = run_import(*map(str, files), "--image", ONLINE_IMAGE, "--stack-file", str(stack_file))
    assert again.returncode == 1 and "already has an entry named model-1" in again.stderr
    assert stack_file.read_text() == before and [p.name for p in stack_file.parent.iterdir()] == ["Pulumi.team.yaml"]


def test_azureml_references_stay_references_and_a_label_is_pinned_or_refused(files):
    """azure-ai-ml's loader strips `azureml:` from a name reference; the import puts it back, and a label
    (@latest) is refused, since it changes under an unchanged stack, unless --pin names the version."""
    referencing = files[1].parent / "referencing-deployment.yml"
    referencing.write_text(
        files[1]
        .read_text()
        .replace("model:\n  path: ../../model-1/model/\n", "model: azureml:model-1:3\n")
        .replace(
            "environment: \n  conda_file: ../../model-1/environment/conda.yaml\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\n",
            "environment: azureml:model-1-env@latest\n",
        )
    )
    assert "azureml:model-1:3" in referencing.read_text() and "model-1-env@latest" in referencing.read_text()
    refused = run_import(str(files[0]), str(referencing))
    assert refused.returncode == 1
    assert refused.stderr == (
        f"error: {referencing}: environment azureml:model-1-env@latest is a label, which changes under an unchanged stack: "
        "pass --pin model-1-env=<version> (`az ml environment list --name model-1-env` shows the versions), "
        "or write environment: azureml:model-1-env:<version>\n"
    )
    result = run_import(str(files[0]), str(referencing), "--pin", "model-1-env=2")
    assert result.returncode == 0, result.stderr
    (deployment,) = yaml.safe_load(result.stdout)["azureml-endpoints:onlineEndpoints"][0]["deployments"]
    assert (deployment["model"], deployment["modelType"], deployment["environment"]) == (
        "azureml:model-1:3",
        "custom_model",
        "azureml:model-1-env:2",
    )
