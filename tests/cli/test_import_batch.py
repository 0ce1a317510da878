"""`azureml-endpoints import` on azureml-examples' batch sample heart-classifier-mlflow and an amlcompute cluster YAML.

The fixtures are copies of Azure/azureml-examples@085cd6ea399038c1e07843acff811f34261c0887:
cli/endpoints/batch/deploy-models/heart-classifier-mlflow/ (az-ml/batch/..., its endpoint.yml, the MLflow
no-code deployment-simple and the scripted deployment-custom) and cli/resources/compute/cluster-basic.yml
(az-ml/resources/compute/). The sample creates its cluster as `az ml compute create -n batch-cluster`, so the
test passes cluster-basic.yml under that name (`-n` overrides the file's name; the copy differs in that line
only). The stack the import gives evaluates, and its batch endpoint, deployment and compute bodies are the
ones azure-ai-ml builds from the same YAML files, save the differences listed in DELIBERATE.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from azureml_endpoints.azure.images import BATCH_IMAGE
from azureml_endpoints.cli import import_az
from azureml_endpoints.cli.import_az import AZURE_AI_ML
from azureml_endpoints.local.runtime import requirements_env
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import stack_config
from tests.support.azure_ai_ml import sdk_bodies
from tests.support.commands import run_command

SAMPLE = "az-ml/batch/deploy-models/heart-classifier-mlflow"
ML = "azure-native:machinelearningservices:"
NS = "azureml-endpoints:"
URL_INPUTS = {"resourceGroupName", "workspaceName", "endpointName", "deploymentName", "computeName", "name", "version"}
# The sample registers its model as heart-classifier-mlflow (deploy-and-run.sh); a stack pins the version.
PIN = ["--pin", "heart-classifier-mlflow=1"]
DEFAULT = ["--default-deployment", "classifier-xgboost-mlflow"]  # deploy-and-run.sh: --set-default on the simple one
# path in the body -> why the program's body differs from the one azure-ai-ml builds from the same YAML.
DELIBERATE = {
    "batch_endpoint": {
        "properties.authMode": "the program sends AADToken, the REST enum's spelling (EndpointAuthMode); the SDK sends aadToken, which the service reads case-insensitively",
        "identity": "the program states SystemAssigned, the only identity batch endpoints accept; the SDK sends none and the service assigns it",
    },
    "batch_deployment": {
        "properties.description": "a stack batch deployment has no description key: the import says so (a note) and leaves it out",
        "properties.loggingLevel": "the program sends Info, the REST enum's spelling (BatchLoggingLevel); the SDK passes the YAML's info through",
    },
    "compute": {
        "identity": "the program states SystemAssigned (the cluster's identity reads the data and pulls the image); the YAML names none, nor does the SDK",
        "properties.properties.vmPriority": "the program states Dedicated, the service default the SDK leaves implicit when the YAML names no tier",
    },
}


@pytest.fixture
def files(az_ml_project) -> list[Path]:
    """The sample's three files and the cluster under the sample's cluster name (as `az ml compute create -n batch-cluster`)."""
    basic = az_ml_project / "az-ml/resources/compute/cluster-basic.yml"
    cluster = basic.with_name("batch-cluster.yml")
    cluster.write_text(basic.read_text().replace("name: basic-example\n", "name: batch-cluster\n"))
    sample = az_ml_project / SAMPLE
    return [sample / "endpoint.yml", sample / "deployment-simple/deployment.yml", sample / "deployment-custom/deployment.yml", cluster]


def run_import(*args: str) -> subprocess.CompletedProcess:
    return run_command("import", *args)


@pytest.fixture
def imported(files) -> subprocess.CompletedProcess:
    result = run_import(*map(str, files), *PIN, *DEFAULT, "--image", BATCH_IMAGE)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def imported_stack(files):
    """dev's workspace, data and catalog settings without its endpoints, the import merged in (--stack-file), evaluated."""
    config = {k: v for k, v in stack_config("dev").items() if not k.endswith(("onlineEndpoints", "batchEndpoints"))}
    stack_file = project_dir() / "Pulumi.imported.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    result = run_import(*map(str, files), *PIN, *DEFAULT, "--image", BATCH_IMAGE, "--stack-file", str(stack_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"merged environments, batchEndpoints into {stack_file}\n"
    return evaluate("imported", preview=True)


SETTINGS = {
    "instanceCount": 2,
    "miniBatchSize": 2,
    "maxConcurrencyPerInstance": 2,
    "outputAction": "AppendRow",
    "outputFileName": "predictions.csv",
    "retrySettings": {"maxRetries": 3, "timeout": "PT300S"},  # the YAML's timeout: 300 (seconds)
    "errorThreshold": -1,
    "loggingLevel": "Info",
}


def test_heart_classifier_becomes_a_batch_endpoint_with_its_cluster(imported):
    # The YAML names the registered model, not its type: the guess is said, with how to check it.
    assert (
        "modelType custom_model for azureml:heart-classifier-mlflow:1 (the YAML has code but not the registered model's type): "
        "write mlflow_model if `az ml model show` says so" in imported.stderr
    )
    assert yaml.safe_load(imported.stdout) == {
        NS + "environments": [
            {"name": "batch-mlflow-xgboost", "image": BATCH_IMAGE, "condaFile": f"{SAMPLE}/deployment-custom/environment/conda.yaml"}
        ],
        NS + "batchEndpoints": [
            {
                "name": "heart-classifier-batch",
                "description": "A heart condition classifier for batch inference",
                "compute": {
                    "name": "batch-cluster",
                    "vmSize": "STANDARD_DS3_v2",
                    "minNodes": 0,
                    "maxNodes": 2,
                    "idleSecondsBeforeScaleDown": 120,
                    "vmPriority": "Dedicated",
                    "remoteLoginPortPublicAccess": "NotSpecified",  # what azure-ai-ml sends for a file naming no SSH access
                    "identity": {"type": "SystemAssigned"},
                },
                "deployments": [
                    {
                        "name": "classifier-xgboost-mlflow",
                        "model": "azureml:heart-classifier-mlflow:1",
                        "modelType": "mlflow_model",
                        **SETTINGS,
                    },
                    {
                        "name": "classifier-xgboost-custom",
                        "model": "azureml:heart-classifier-mlflow:1",
                        "modelType": "custom_model",
                        "code": f"{SAMPLE}/deployment-custom/code",
                        "scoringScript": "batch_driver.py",
                        "environment": "batch-mlflow-xgboost",
                        **SETTINGS,
                    },
                ],
                "defaultDeployment": "classifier-xgboost-mlflow",
            }
        ],
    }
    assert "identity: SystemAssigned stated (the YAML names none)" in imported.stderr
    assert "description not imported: a stack batch deployment has no description key" in imported.stderr


def test_the_imported_stack_evaluates(imported_stack):
    assert imported_stack.error is None
    (endpoint,) = imported_stack.of_type(ML + "BatchEndpoint")
    assert endpoint.inputs["endpointName"] == "heart-classifier-batch"
    deployments = imported_stack.of_type(ML + "BatchDeployment")
    assert sorted(d.inputs["deploymentName"] for d in deployments) == ["classifier-xgboost-custom", "classifier-xgboost-mlflow"]
    (compute,) = imported_stack.of_type(ML + "Compute")
    assert compute.inputs["computeName"] == "batch-cluster"


def _normalise(value):
    """Encodings only: integral floats, ISO 8601 durations as seconds (PT2M and PT120S alike), empty values as absent."""
    if isinstance(value, dict):
        out = {k: _normalise(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    duration = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", value) if isinstance(value, str) else None
    if duration:
        h, m, s = (int(g or 0) for g in duration.groups())
        return f"{h * 3600 + m * 60 + s}s"
    return value


def _flatten(value, prefix=""):
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: value}


def test_the_request_bodies_are_what_az_ml_sends_for_the_same_yaml(imported_stack, files):
    """azure-ai-ml loads each YAML file itself (load_batch_endpoint, load_model_batch_deployment, load_compute)
    and builds its body with the ids the program registered for the model, code, environment and cluster."""
    endpoint_file, simple_file, custom_file, cluster_file = files
    (endpoint,) = imported_stack.of_type(ML + "BatchEndpoint")
    (compute,) = imported_stack.of_type(ML + "Compute")
    deployments = {d.inputs["deploymentName"]: d for d in imported_stack.of_type(ML + "BatchDeployment")}
    definitions, pairs = [], []

    def add(kind, registration, file, set_):
        definitions.append(
            {"kind": "yaml", "args": {"yaml": kind, "file": str(file), "location": registration.inputs["location"], "set": set_}}
        )
        pairs.append((kind, registration))

    add("batch_endpoint", endpoint, endpoint_file, {"tags": endpoint.inputs["tags"]})
    add("compute", compute, cluster_file, {"tags": compute.inputs["tags"], "location": compute.inputs["location"]})
    for name, file in (("classifier-xgboost-mlflow", simple_file), ("classifier-xgboost-custom", custom_file)):
        d = deployments[name]
        p = d.inputs["properties"]
        set_ = {"model": p["model"]["assetId"], "compute": p["compute"], "tags": d.inputs["tags"]}
        if p.get("codeConfiguration"):
            set_.update(code=p["codeConfiguration"]["codeId"], environment=p["environmentId"])
        add("batch_deployment", d, file, set_)
    sdk = requirements_env("azure-ai-ml", [AZURE_AI_ML])
    bodies = sdk_bodies(sdk, definitions)
    found: dict[str, dict[str, tuple]] = {kind: {} for kind in DELIBERATE}
    for (kind, registration), sdk_body in zip(pairs, bodies, strict=True):
        # These three types' inputs are the ARM body as azure-native sends it, less the names in the URL.
        program = _flatten(_normalise({k: v for k, v in registration.inputs.items() if k not in URL_INPUTS}))
        theirs = _flatten(_normalise(sdk_body))
        for path in sorted(set(program) | set(theirs)):
            if program.get(path) != theirs.get(path):
                listed = next((k for k in DELIBERATE[kind] if path == k or path.startswith(k + ".")), None)
                assert listed, f"{kind} {registration.name}: {path}: program {program.get(path)!r}, azure-ai-ml {theirs.get(path)!r}"
                found[kind][listed] = (program.get(path), theirs.get(path))
    # Every listed difference occurs: a list that outlives its reason would hide a new one.
    assert {kind: set(v) for kind, v in found.items()} == {kind: set(v) for kind, v in DELIBERATE.items()}


def test_a_cluster_named_elsewhere_is_refused_naming_the_file_and_key(files):
    result = run_import(*map(str, files[:3]), *PIN, *DEFAULT, "--image", BATCH_IMAGE)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"error: {files[1]}: compute azureml:batch-cluster is a cluster defined elsewhere: pass its compute YAML among the files "
        "(az ml compute create -f; given: none), or write compute: on the batch endpoint by hand (docs/batch.md)\n"
    )


def test_a_latest_model_is_refused_saying_what_to_write(files):
    result = run_import(*map(str, files), *DEFAULT, "--image", BATCH_IMAGE)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"error: {files[1]}: model azureml:heart-classifier-mlflow@latest is a label, which changes under an unchanged stack: "
        "pass --pin heart-classifier-mlflow=<version> (`az ml model list --name heart-classifier-mlflow` shows the versions), "
        "or write model: azureml:heart-classifier-mlflow:<version>"
    )


def test_two_deployments_and_no_default_are_refused_naming_the_option(files):
    result = run_import(*map(str, files), *PIN, "--image", BATCH_IMAGE)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: {files[0]}: defaults.deployment_name is missing and heart-classifier-batch has 2 deployments "
        "(classifier-xgboost-mlflow, classifier-xgboost-custom): pass --default-deployment <name> "
        "(what az ml batch-deployment create --set-default does)"
    )


def test_the_only_deployment_is_the_default_and_the_output_says_so(files):
    result = run_import(str(files[0]), str(files[1]), str(files[3]), *PIN)
    assert result.returncode == 0, result.stderr
    (endpoint,) = yaml.safe_load(result.stdout)[NS + "batchEndpoints"]
    assert endpoint["defaultDeployment"] == "classifier-xgboost-mlflow"
    assert f"note: {files[0]}: defaultDeployment classifier-xgboost-mlflow, its only deployment (the YAML names none)" in result.stderr


def test_an_mlops_v2_flat_deployment_with_an_inline_model_becomes_catalog_entries(files, az_ml_project):
    """Azure/mlops-v2's data-science-regression/batch_endpoint.yml shape (batchDeployment schema, settings at the
    top, inline model path), pointed at the sample's model folder and code: the classic loader reads it."""
    deployment = files[0].parent / "flat-deployment.yml"
    deployment.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json\n"
        "name: flat\nendpoint_name: heart-classifier-batch\n"
        "model:\n  path: ./deployment-simple/model\n"
        "code_configuration:\n  code: ./deployment-custom/code\n  scoring_script: batch_driver.py\n"
        "environment: azureml:batch-mlflow-xgboost@latest\n"
        "compute: azureml:batch-cluster\nresources:\n  instance_count: 1\n"
        "max_concurrency_per_instance: 2\nmini_batch_size: 10\noutput_action: append_row\noutput_file_name: predictions.csv\n"
        "retry_settings:\n  max_retries: 3\n  timeout: 30\nerror_threshold: -1\nlogging_level: info\n"
    )
    result = run_import(str(files[0]), str(deployment), str(files[3]), "--pin", "batch-mlflow-xgboost=4")
    assert result.returncode == 0, result.stderr
    imported = yaml.safe_load(result.stdout)
    # An anonymous inline model: named after its folder (deployment-simple/model), version 1, as the online import does.
    assert imported[NS + "models"] == [
        {"name": "deployment-simple", "version": 1, "path": f"{SAMPLE}/deployment-simple/model", "type": "custom_model"}
    ]
    (d,) = imported[NS + "batchEndpoints"][0]["deployments"]
    assert d["model"] == "deployment-simple:1" and d["environment"] == "azureml:batch-mlflow-xgboost:4" and "modelType" not in d
    assert d["miniBatchSize"] == 10 and d["retrySettings"] == {"maxRetries": 3, "timeout": "PT30S"}


def _batch(file="d.yml", **over) -> dict:
    settings = {k: None for k in import_az.AZ_ML_BATCH_DEFAULTS}
    return {
        "kind": "batch_deployment",
        "file": file,
        "name": "blue",
        "endpoint_name": "b",
        "model": "azureml:m:1",
        "environment": None,
        "code": None,
        "compute": "c1",
        "instance_count": None,
        "settings": settings,
        "properties": {},
        "environment_variables": {},
        **over,
    }


ENDPOINT = {"kind": "batch_endpoint", "file": "e.yml", "name": "b", "auth_mode": "aad_token", "default_deployment": None, "properties": {}}
CLUSTER = {
    "kind": "compute",
    "file": "c.yml",
    "name": "c1",
    "type": "amlcompute",
    "location": None,
    "vm_size": "STANDARD_DS3_V2",
    "min_instances": 0,
    "max_instances": 4,
    "idle_time_before_scale_down": 120,
    "tier": "low_priority",
    "remote_login_port_public_access": "NotSpecified",
    "enable_node_public_ip": True,
    "ssh_settings": False,
    "network": False,
    "identity_type": "system_assigned",
}


def test_settings_the_yaml_leaves_out_are_stated_as_azure_mls_defaults(az_ml_project):
    """The stack's own defaults (maxConcurrencyPerInstance 4, miniBatchSize 5, errorThreshold 10) would change
    what the YAML meant: the import writes Azure ML's."""
    config, notes = import_az.convert([ENDPOINT, CLUSTER, _batch()], project=az_ml_project)
    (endpoint,) = config[NS + "batchEndpoints"]
    (d,) = endpoint["deployments"]
    assert {k: d[k] for k in ("miniBatchSize", "maxConcurrencyPerInstance", "errorThreshold", "retrySettings", "instanceCount")} == {
        "miniBatchSize": 10,
        "maxConcurrencyPerInstance": 1,
        "errorThreshold": -1,
        "retrySettings": {"maxRetries": 3, "timeout": "PT30S"},
        "instanceCount": 1,
    }
    assert endpoint["compute"]["vmPriority"] == "LowPriority" and endpoint["compute"]["identity"] == {"type": "SystemAssigned"}
    assert any("stated as Azure ML's defaults" in n for n in notes)


@pytest.mark.parametrize(
    "items, message",
    [
        ([{**ENDPOINT, "auth_mode": "key"}, CLUSTER, _batch()], r"^e.yml: auth_mode key: batch endpoints take Entra tokens only"),
        (
            [{**ENDPOINT, "properties": {"ComponentDeployment.Enabled": "True"}}, CLUSTER, _batch()],
            r"^e.yml: properties ComponentDeployment",
        ),
        ([ENDPOINT, {**CLUSTER, "location": "westus"}, _batch()], r"^c.yml: location westus has no stack equivalent"),
        ([ENDPOINT, {**CLUSTER, "ssh_settings": True}, _batch()], r"^c.yml: ssh_settings has no stack equivalent"),
        ([ENDPOINT, {**CLUSTER, "network": True}, _batch()], r"^c.yml: network_settings has no stack equivalent"),
        (
            [ENDPOINT, {**CLUSTER, "identity_type": "user_assigned"}, _batch()],
            r"^c.yml: identity.type user_assigned .*userAssignedIdentityNames",
        ),
        ([ENDPOINT, CLUSTER, _batch(deployment_type="pipeline")], r"^d.yml: type pipeline: a pipeline component deployment"),
        ([ENDPOINT, CLUSTER, _batch(compute=None)], r"^d.yml: compute is missing"),
        ([ENDPOINT, CLUSTER, _batch(properties={"x": "y"})], r"^d.yml: properties x has no stack equivalent"),
        (
            [ENDPOINT, CLUSTER, _batch(environment="azureml:env@latest")],
            r"^d.yml: environment azureml:env@latest is a label.*--pin env=<version>",
        ),
        (
            [ENDPOINT, CLUSTER, {**CLUSTER, "name": "c2"}, _batch(), _batch(file="g.yml", name="green", compute="c2")],
            r"^g.yml: compute azureml:c2: another deployment of b runs on c1",
        ),
        (
            [{**ENDPOINT, "default_deployment": "red"}, CLUSTER, _batch()],
            r"^e.yml: defaults.deployment_name red is none of the deployment files",
        ),
        ([ENDPOINT, CLUSTER], r"^e.yml: no deployment file names batch endpoint b"),
    ],
)
def test_keys_with_no_stack_equivalent_are_refused_naming_file_and_key(items, message, az_ml_project):
    with pytest.raises(import_az.ImportRefused, match=message):
        import_az.convert(items, project=az_ml_project)


def test_an_unused_pin_or_default_is_a_bad_argument(az_ml_project):
    with pytest.raises(ValueError, match=r"--pin nope, --default-deployment red: no file given names it"):
        import_az.convert([ENDPOINT, CLUSTER, _batch()], project=az_ml_project, pins={"nope": "1"}, defaults=["red"])
