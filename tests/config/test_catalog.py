"""The model catalog: reference forms, the lock file, registration once per stack, MLflow, and the rollout."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys

import joblib
import numpy
import pytest
import yaml

from azureml_endpoints.config import catalog
from azureml_endpoints.config.base import SettingsError, decode_config
from azureml_endpoints.config.catalog import content_sha256
from azureml_endpoints.config.stack import CONFIG_NAMESPACE as NAMESPACE
from azureml_endpoints.config.stack import StackConfig, parse_settings
from azureml_endpoints.offline.arm_mocks import SUBSCRIPTION_ID
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import stack_config

MODEL_VERSION = "azure-native:machinelearningservices:ModelVersion"
CODE_VERSION = "azure-native:machinelearningservices:CodeVersion"
ENVIRONMENT_VERSION = "azure-native:machinelearningservices:EnvironmentVersion"
ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
BLOB = "azure-native:storage:Blob"
WORKSPACE_ID = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml-endpoints-staging"
    "/providers/Microsoft.MachineLearningServices/workspaces/mlw-endpoints-staging"
)
MLFLOW_ENTRY = {"name": "mlflow-regression", "version": 3, "path": "ml/mlflow-model", "type": "mlflow_model"}


def staging() -> dict:
    return copy.deepcopy(stack_config("staging"))


def deployments(config: dict) -> list[dict]:
    return config[f"{NAMESPACE}:onlineEndpoints"][0]["deployments"]


def raw(config: dict) -> dict:
    """The values the program reads from a stack file's config (azureml_endpoints.offline.evaluate reads it as the CLI does)."""
    return decode_config({k.split(":", 1)[1]: v for k, v in config.items()}, StackConfig)


@pytest.fixture
def lock_with(tmp_path, monkeypatch):
    """Points the program at a lock file holding the committed entries plus the given catalog entries."""

    def write(*entries: dict) -> None:
        lock = catalog.read_model_lock()
        for entry in entries:
            digest = "sha256:" + content_sha256((project_dir() / entry["path"]).resolve())
            lock.setdefault(entry["name"], {})[str(entry["version"])] = digest
        path = tmp_path / "models.lock.json"
        path.write_text(json.dumps({"models": lock}))
        monkeypatch.setattr(catalog, "model_lock_file", lambda: path)

    return write


# --- the shipped models ---------------------------------------------------------------------------


def test_shipped_versions_are_what_the_training_script_produces():
    spec = importlib.util.spec_from_file_location("train_model", project_dir() / "ml" / "train_model.py")
    train_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_model)
    sample = numpy.array(json.loads((project_dir() / "ml" / "sample-request.json").read_text())["data"])
    predictions = {}
    for version in (1, 2):
        retrained = train_model.train(version)
        shipped = joblib.load(train_model.model_path(version))
        assert shipped.n_features_in_ == 10 and shipped.alpha == train_model.ALPHAS[version]
        # Equal to the last few bits: the BLAS build under numpy may round the solve differently per machine.
        assert numpy.allclose(retrained.coef_, shipped.coef_, rtol=1e-12, atol=0)
        assert numpy.isclose(retrained.intercept_, shipped.intercept_, rtol=1e-12, atol=0)
        predictions[version] = shipped.predict(sample)
    # A rollout from 1 to 2 changes what the endpoint answers.
    assert not numpy.allclose(predictions[1], predictions[2], rtol=1e-3)


def test_every_shipped_model_matches_the_committed_lock():
    result = subprocess.run([sys.executable, "-m", "azureml_endpoints.cli.model_lock"], cwd=project_dir(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "2 model versions match models.lock.json" in result.stdout


def test_model_lock_tool_adds_new_versions_and_refuses_changed_content(tmp_path):
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps({"models": {"sklearn-regression": {"1": catalog.read_model_lock()["sklearn-regression"]["1"]}}}))
    check = [sys.executable, "-m", "azureml_endpoints.cli.model_lock", "--lock-file", str(lock)]
    missing = subprocess.run(check, cwd=project_dir(), capture_output=True, text=True)
    assert missing.returncode == 2 and "sklearn-regression:2 is not in ml/models.lock.json" in missing.stderr
    added = subprocess.run([*check, "--add"], cwd=project_dir(), capture_output=True, text=True)
    assert added.returncode == 0 and "locked sklearn-regression:2" in added.stdout
    assert json.loads(lock.read_text())["models"] == catalog.read_model_lock()
    document = json.loads(lock.read_text())
    document["models"]["sklearn-regression"]["2"] = "sha256:" + "0" * 64
    lock.write_text(json.dumps(document))
    changed = subprocess.run([*check, "--add"], cwd=project_dir(), capture_output=True, text=True)
    assert changed.returncode == 2 and "bump the version" in changed.stderr
    assert json.loads(lock.read_text())["models"]["sklearn-regression"]["2"] == "sha256:" + "0" * 64  # never rewritten


def test_changed_content_under_a_locked_version_is_refused_before_anything_is_registered(tmp_path, monkeypatch):
    lock = catalog.read_model_lock()
    lock["sklearn-regression"]["2"] = "sha256:" + "f" * 64  # as if version 2 had been locked with other files
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({"models": lock}))
    monkeypatch.setattr(catalog, "model_lock_file", lambda: path)
    evaluation = evaluate("staging", raise_errors=False)
    assert isinstance(evaluation.error, SettingsError)
    message = str(evaluation.error)
    assert f"{NAMESPACE}:models[1].version: " in message and "bump the version" in message
    assert evaluation.registrations == []


# --- the three model forms ------------------------------------------------------------------------


def test_a_stack_mixing_all_three_model_forms_sends_the_right_ids(lock_with):
    config = staging()
    lock_with()
    blue, green = deployments(config)
    # A referenced custom model runs exactly the code and environment the deployment names.
    blue.update(
        model="azureml:fraud-model:7",
        modelType="custom_model",
        code="ml/onlinescoring",
        scoringScript="score.py",
        environment="sklearn-scoring",
    )
    green.update(model="azureml://registries/shared-models/models/fraud-model/versions/8", modelType="mlflow_model")
    third = copy.deepcopy(green)
    third.update(name="canary", model="sklearn-regression:2")
    third.pop("modelType")
    deployments(config).append(third)
    evaluation = evaluate("staging", config)

    models = {d.inputs["deploymentName"]: d.inputs["properties"]["model"] for d in evaluation.of_type(ONLINE_DEPLOYMENT)}
    assert models["blue"] == f"{WORKSPACE_ID}/models/fraud-model/versions/7"
    assert models["green"] == "azureml://registries/shared-models/models/fraud-model/versions/8"
    registered = {r.inputs["name"] + ":" + r.inputs["version"]: r for r in evaluation.of_type(MODEL_VERSION)}
    # Referenced models are not registered; the catalog's entries are, each under a positive integer version.
    assert set(registered) == {"sklearn-regression:1", "sklearn-regression:2"}
    assert models["canary"] == registered["sklearn-regression:2"].id
    assert all(r.inputs["version"].isdigit() and int(r.inputs["version"]) >= 1 for r in registered.values())
    # The referenced custom model runs the code it names; the referenced MLflow model is no-code; the catalog's
    # custom model runs the code and script its models entry carries.
    properties = {d.inputs["deploymentName"]: d.inputs["properties"] for d in evaluation.of_type(ONLINE_DEPLOYMENT)}
    assert properties["blue"]["codeConfiguration"]["scoringScript"] == "score.py" and "environmentId" in properties["blue"]
    assert "codeConfiguration" not in properties["green"] and "environmentId" not in properties["green"]
    assert properties["canary"]["codeConfiguration"]["scoringScript"] == "score_managedidentity.py"


def test_a_registered_mlflow_model_stated_as_such_is_a_no_code_deployment():
    config = staging()
    config[f"{NAMESPACE}:models"] = []
    for deployment in deployments(config):
        deployment.update(model="azureml://registries/azureml/models/mlflow-diabetes/versions/2", modelType="mlflow_model")
    evaluation = evaluate("staging", config)
    for deployment in evaluation.of_type(ONLINE_DEPLOYMENT):
        properties = deployment.inputs["properties"]
        assert "codeConfiguration" not in properties and "environmentId" not in properties
    assert evaluation.of_type(MODEL_VERSION) == [] and evaluation.of_type(ENVIRONMENT_VERSION) == []


def test_registered_model_version_and_tags_record_the_locked_content():
    evaluation = evaluate("staging")
    for version in evaluation.of_type(MODEL_VERSION):
        entry = catalog.read_model_lock()[version.inputs["name"]][version.inputs["version"]]
        tags = version.inputs["properties"]["tags"]
        assert "sha256:" + tags["contentSha256"] == entry
        assert version.inputs["properties"]["modelType"] == "custom_model"
        assert version.retain_on_delete


# --- registration once per stack ------------------------------------------------------------------


def test_each_asset_is_registered_and_uploaded_once_however_many_deployments_use_it(lock_with):
    config = staging()
    twin = {**config[f"{NAMESPACE}:models"][1], "version": 3, "description": "same files as 2"}
    config[f"{NAMESPACE}:models"].append(twin)
    lock_with(twin)
    for deployment in deployments(config):
        deployment["model"] = "sklearn-regression:2"
    extra = copy.deepcopy(deployments(config)[1])
    extra.update(name="green2", model="sklearn-regression:3")
    deployments(config).append(extra)
    evaluation = evaluate("staging", config)

    assert sorted(r.inputs["version"] for r in evaluation.of_type(MODEL_VERSION)) == ["1", "2", "3"]
    assert len(evaluation.of_type(CODE_VERSION)) == 1 and len(evaluation.of_type(ENVIRONMENT_VERSION)) == 1
    model_blobs = [b for b in evaluation.of_type(BLOB) if "/model/" in b.inputs["blobName"]]
    # Versions 2 and 3 have the same files: one upload serves both (content-addressed paths).
    assert len(model_blobs) == 2
    uris = {r.inputs["version"]: r.inputs["properties"]["modelUri"] for r in evaluation.of_type(MODEL_VERSION)}
    assert uris["2"] == uris["3"] != uris["1"]
    blob_names = [b.inputs["blobName"] for b in evaluation.of_type(BLOB)]
    assert len(blob_names) == len(set(blob_names))


def test_a_stack_can_run_its_own_code_folder_and_environment():
    config = staging()
    config[f"{NAMESPACE}:environments"] += [
        {
            "name": "team-env",
            "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250601.v1",
            "condaFile": "ml/environment/conda.yaml",
        }
    ]
    green = deployments(config)[1]
    green.update(code="ml/onlinescoring", scoringScript="score.py", environment="team-env")  # its own values win over the entry's
    evaluation = evaluate("staging", config)
    properties = evaluation.named("mi-uai-staging-green").inputs["properties"]
    assert properties["codeConfiguration"]["scoringScript"] == "score.py"
    environments = {r.inputs["name"]: r for r in evaluation.of_type(ENVIRONMENT_VERSION)}
    assert set(environments) == {"team-env", "sklearn-scoring"}
    assert properties["environmentId"] == environments["team-env"].id
    assert evaluation.named("mi-uai-staging-blue").inputs["properties"]["environmentId"] == environments["sklearn-scoring"].id
    assert len(evaluation.of_type(CODE_VERSION)) == 1  # the same folder, whichever script each deployment runs


# --- MLflow no-code deployments -------------------------------------------------------------------


def test_an_mlflow_model_deploys_without_code_or_environment(lock_with):
    config = staging()
    config[f"{NAMESPACE}:models"].append(MLFLOW_ENTRY)
    lock_with(MLFLOW_ENTRY)
    deployments(config)[1]["model"] = "mlflow-regression"
    evaluation = evaluate("staging", config)
    properties = evaluation.named("mi-uai-staging-green").inputs["properties"]
    assert "codeConfiguration" not in properties and "environmentId" not in properties
    mlflow = evaluation.named("assets-model-mlflow-regression-3")
    assert properties["model"] == mlflow.id
    assert mlflow.inputs["properties"]["modelType"] == "mlflow_model"
    assert mlflow.inputs["properties"]["modelUri"].endswith("/mlflow-model")  # the folder that holds MLmodel


# --- bad input: refused before anything is registered, with the key named -------------------------


@pytest.mark.parametrize(
    "change, key, rule",
    [
        (lambda c: deployments(c)[0].update(model="no-such-model"), "onlineEndpoints[0].deployments[0].model", "is not in models"),
        (
            lambda c: deployments(c)[0].update(model="sklearn-regression"),
            "onlineEndpoints[0].deployments[0].model",
            "name one as <name>:<version>",
        ),
        (lambda c: deployments(c)[0].update(model="azureml:fraud:latest"), "onlineEndpoints[0].deployments[0].model", "positive integer"),
        (lambda c: deployments(c)[0].update(model="azureml:fraud:0"), "onlineEndpoints[0].deployments[0].model", "positive integer"),
        (lambda c: deployments(c)[0].update(model="azureml:fraud@latest"), "onlineEndpoints[0].deployments[0].model", "exact version"),
        (
            lambda c: deployments(c)[0].update(model="azureml://registries/r1/models/m"),
            "onlineEndpoints[0].deployments[0].model",
            "azureml://registries/<registry>/models",
        ),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(version=0), "models[1].version", "a positive integer, unquoted"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(version="2"), "models[1].version", "a positive integer, unquoted"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(version="1.0"), "models[1].version", "a positive integer, unquoted"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(version=2.5), "models[1].version", "a positive integer, unquoted"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(version=True), "models[1].version", "a positive integer, unquoted"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(path="../outside"), "models[1].path", "outside the project directory"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(path="/etc"), "models[1].path", "relative to the project directory"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(path="ml/model-9/model"), "models[1].path", "does not exist"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(path="."), "models[1].path", "the whole project"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(path=".git/config"), "models[1].path", "outside the project directory"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(path="ml/" + "x" * 300), "models[1].path", "not a usable path"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(type="mlflow_model"), "models[1]", "MLmodel"),
        (lambda c: c[f"{NAMESPACE}:models"][1].pop("type"), "models[1].type", "is required"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(code="ml/nowhere"), "models[1].code", "does not exist"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(scoringScript="nope.py"), "models[1]", "is not a file in the code folder"),
        (
            lambda c: c[f"{NAMESPACE}:models"][1].update(environment="sklearn-scorin"),
            "models[1].environment",
            "did you mean 'sklearn-scoring'",
        ),
        (
            lambda c: deployments(c)[0].update(model="sklearn-regresion:1"),
            "onlineEndpoints[0].deployments[0].model",
            "did you mean 'sklearn-regression:1'",
        ),
        (lambda c: deployments(c)[0].pop("model"), "onlineEndpoints[0].deployments[0].model", "is required"),
        (
            lambda c: deployments(c)[0].update(model="azureml:fraud:3"),
            "onlineEndpoints[0].deployments[0].modelType",
            "state its type: custom_model",
        ),
        (
            lambda c: deployments(c)[0].update(model="azureml:fraud:3", modelType="custom_model"),
            "onlineEndpoints[0].deployments[0].code",
            "add code and scoringScript to the deployment, or set modelType: mlflow_model",
        ),
        (
            lambda c: deployments(c)[0].update(modelType="mlflow_model"),
            "onlineEndpoints[0].deployments[0].modelType",
            "remove modelType",
        ),
        (
            lambda c: [m.pop(k) for m in c[f"{NAMESPACE}:models"] for k in ("code", "scoringScript")],
            "onlineEndpoints[0].deployments[0].code",
            "or to models[0] so every deployment of it runs them",
        ),
        (
            lambda c: [m.pop("environment") for m in c[f"{NAMESPACE}:models"]],
            "onlineEndpoints[0].deployments[0].environment",
            "add environment here or to the models entry sklearn-regression:1",
        ),
        (lambda c: c[f"{NAMESPACE}:models"].append(dict(c[f"{NAMESPACE}:models"][1])), "models", "listed once"),
        (lambda c: c[f"{NAMESPACE}:models"][1].update(name="bad name"), "models[1].name", "a letter or digit, then letters"),
        (
            lambda c: c.update({f"{NAMESPACE}:environments": [{"name": "-e", "image": "x/y:1"}]}),
            "environments[0].name",
            "a letter or digit",
        ),
        (lambda c: deployments(c)[0].update(code="ml/nowhere"), "onlineEndpoints[0].deployments[0].code", "does not exist"),
        (
            lambda c: deployments(c)[0].update(code="ml/onlinescoring"),
            "onlineEndpoints[0].deployments[0].scoringScript",
            "is required with code",
        ),
        (
            lambda c: deployments(c)[0].update(scoringScript="missing.py"),
            "onlineEndpoints[0].deployments[0].scoringScript",
            "is not a file in the code folder ml/onlinescoring",
        ),
        (
            lambda c: deployments(c)[0].update(scoringScript="../batchscoring/batch_driver.py"),
            "onlineEndpoints[0].deployments[0].scoringScript",
            "is outside the code folder ml/onlinescoring",
        ),
        (
            lambda c: deployments(c)[0].update(scoringScript="/etc/passwd"),
            "onlineEndpoints[0].deployments[0].scoringScript",
            "relative to the code folder",
        ),
        (
            lambda c: deployments(c)[0].update(scoring_script="score.py"),
            "onlineEndpoints[0].deployments[0]",
            "scoring_script: write scoringScript instead",
        ),
        (
            lambda c: deployments(c)[0].update(environment="azureml:sklearn-env"),
            "onlineEndpoints[0].deployments[0].environment",
            "exact version",
        ),
        (
            lambda c: deployments(c)[0].update(environment="azureml:sklearn-env@latest"),
            "onlineEndpoints[0].deployments[0].environment",
            "exact version",
        ),
        (
            lambda c: deployments(c)[0].update(environment="azureml://registries/r1/models/m/versions/1"),
            "onlineEndpoints[0].deployments[0].environment",
            "environments/<name>",
        ),
        (
            lambda c: deployments(c)[0].update(environment="team-env"),
            "onlineEndpoints[0].deployments[0].environment",
            "is not in environments",
        ),
        (
            lambda c: deployments(c)[0].update(environment="sklearn-scorng"),
            "onlineEndpoints[0].deployments[0].environment",
            "did you mean 'sklearn-scoring'",
        ),
        (
            lambda c: c.update({f"{NAMESPACE}:environments": [{"name": "e1", "image": "mcr.microsoft.com/azureml/x:latest"}]}),
            "environments[0].image",
            "is not pinned",
        ),
        (
            lambda c: c.update({f"{NAMESPACE}:environments": [{"name": "e1", "image": "mcr.microsoft.com/azureml/x"}]}),
            "environments[0].image",
            "is not pinned",
        ),
        (
            lambda c: c.update({f"{NAMESPACE}:environments": [{"name": "e1", "image": "x:1", "condaFile": "ml/nope.yaml"}]}),
            "environments[0].condaFile",
            "does not exist",
        ),
        # issue 23 item 10: labels spelled as versions, versions ARM cannot hold, files that cannot be what they name
        (
            lambda c: deployments(c)[0].update(environment="azureml:sklearn-env:latest"),
            "onlineEndpoints[0].deployments[0].environment",
            "'latest' is a label",
        ),
        (
            lambda c: deployments(c)[0].update(environment="azureml://registries/reg1/environments/env/versions/Latest"),
            "onlineEndpoints[0].deployments[0].environment",
            "'Latest' is a label",
        ),
        (
            lambda c: deployments(c)[0].update(model="azureml://registries/reg1/models/m/versions/latest"),
            "onlineEndpoints[0].deployments[0].model",
            "'latest' is a label",
        ),
        (
            lambda c: deployments(c)[0].update(model="azureml://registries/r1/models/m/versions/1"),
            "onlineEndpoints[0].deployments[0].model",
            "'r1' is not a valid registry name",
        ),
        (
            lambda c: deployments(c)[0].update(model=f"azureml:m:{2**31}"),
            "onlineEndpoints[0].deployments[0].model",
            "positive integer up to 2147483647",
        ),
        (
            lambda c: deployments(c)[0].update(model="azureml:m:" + "9" * 5000),
            "onlineEndpoints[0].deployments[0].model",
            "positive integer up to 2147483647",
        ),
        (
            lambda c: c[f"{NAMESPACE}:models"][0].update(version=2**31),
            "models[0].version",
            "a positive integer, unquoted, up to 2147483647",
        ),
        (
            lambda c: c.update(
                {
                    f"{NAMESPACE}:environments": [
                        {"name": "e1", "image": "x/y:1", "condaFile": "ml/model-1/model/sklearn_regression_model.pkl"}
                    ]
                }
            ),
            "environments[0].condaFile",
            "is not a conda file (a UTF-8 YAML mapping with a dependencies list): UnicodeDecodeError",
        ),
        (
            lambda c: c.update({f"{NAMESPACE}:environments": [{"name": "e1", "image": "x/y:1", "condaFile": "README.md"}]}),
            "environments[0].condaFile",
            "is not a conda file (a UTF-8 YAML mapping with a dependencies list)",
        ),
        (
            lambda c: deployments(c)[0].update(code="ml/data", scoringScript="hello.txt"),
            "onlineEndpoints[0].deployments[0].scoringScript",
            "'hello.txt' is not a Python (.py) file in the code folder ml/data",
        ),
    ],
)
def test_bad_references_are_refused_with_the_key(change, key, rule):
    config = staging()
    change(config)
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw(config))
    message = str(refused.value)
    assert f"{NAMESPACE}:{key}" in message and rule in message, message


def test_an_mlflow_model_runs_a_scoring_script_and_environment_when_the_deployment_names_them(lock_with):
    """Azure allows an MLflow model with a scoring script (azureml-examples ncd/sklearn-deployment-with-script)."""
    config = staging()
    config[f"{NAMESPACE}:models"].append(MLFLOW_ENTRY)
    lock_with(MLFLOW_ENTRY)
    deployments(config)[1].update(
        model="mlflow-regression:3", code="ml/onlinescoring", scoringScript="score.py", environment="sklearn-scoring"
    )
    properties = evaluate("staging", config).named("mi-uai-staging-green").inputs["properties"]
    assert properties["codeConfiguration"]["scoringScript"] == "score.py" and "environmentId" in properties


def test_an_mlflow_model_names_an_environment_only_with_its_scoring_script(lock_with):
    config = staging()
    config[f"{NAMESPACE}:models"].append(MLFLOW_ENTRY)
    lock_with(MLFLOW_ENTRY)
    deployments(config)[1].update(model="mlflow-regression:3", environment="sklearn-scoring")
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw(config))
    assert f"{NAMESPACE}:onlineEndpoints[0].deployments[1].environment: a no-code mlflow_model deployment" in str(refused.value)


def test_an_mlflow_folder_left_as_a_custom_model_is_refused_with_the_type_to_set(lock_with):
    config = staging()
    entry = {**MLFLOW_ENTRY, "type": "custom_model"}
    config[f"{NAMESPACE}:models"].append(entry)
    lock_with(entry)
    deployments(config)[1]["model"] = "mlflow-regression:3"
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw(config))
    message = str(refused.value)
    assert f"{NAMESPACE}:onlineEndpoints[0].deployments[1].code: mlflow-regression:3 (repository) is a custom_model" in message
    assert "set models[2].type: mlflow_model" in message


def test_a_catalog_model_missing_from_the_lock_is_refused(tmp_path, monkeypatch):
    config = staging()
    config[f"{NAMESPACE}:models"].append({"name": "new-model", "version": 1, "path": "ml/model-2/model", "type": "custom_model"})
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw(config))
    assert f"{NAMESPACE}:models[2].version: new-model:1 is not in ml/models.lock.json" in str(refused.value)


def test_a_batch_deployment_names_its_model_and_script_like_an_online_one():
    config = copy.deepcopy(stack_config("dev"))
    batch = config[f"{NAMESPACE}:batchEndpoints"][0]["deployments"][0]
    batch.update(model="azureml:fraud-model:4", modelType="custom_model")  # the stack names the batch driver's code
    properties = evaluate("dev", config).named("batch-dev-blue").inputs["properties"]
    assert properties["model"]["assetId"].endswith("/workspaces/mlw-endpoints-dev/models/fraud-model/versions/4")
    assert properties["codeConfiguration"]["scoringScript"] == "batch_driver.py" and "environmentId" in properties
    for key in ("code", "scoringScript", "environment"):
        batch.pop(key)
    batch["modelType"] = "mlflow_model"
    # A referenced MLflow model, stated as such, with no code: a no-code batch deployment.
    properties = evaluate("dev", config).named("batch-dev-blue").inputs["properties"]
    assert "codeConfiguration" not in properties and "environmentId" not in properties


# --- rolling a new model version out: docs/models-and-environments.md#rolling-out-a-new-model-version ---------------------------------------


def rollout_steps() -> list[tuple[str, dict]]:
    """The config of each step of docs/models-and-environments.md#rolling-out-a-new-model-version, from blue on version 1 alone."""
    base = staging()
    endpoint = base[f"{NAMESPACE}:onlineEndpoints"][0]
    blue, green = endpoint["deployments"]
    steps = []

    def step(name: str, deployment_list: list, traffic: dict, mirror: dict | None = None) -> None:
        config = copy.deepcopy(base)
        e = config[f"{NAMESPACE}:onlineEndpoints"][0]
        e["deployments"], e["traffic"] = copy.deepcopy(deployment_list), traffic
        e.pop("mirrorTraffic", None)
        if mirror:
            e["mirrorTraffic"] = mirror
        steps.append((name, config))

    step("blue only", [blue], {"blue": 100})
    step("add green at 0 with mirror", [blue, green], {"blue": 100, "green": 0}, {"green": 10})
    step("shift 10", [blue, green], {"blue": 90, "green": 10})
    step("shift 50", [blue, green], {"blue": 50, "green": 50})
    step("shift 100", [blue, green], {"blue": 0, "green": 100})
    step("remove blue", [green], {"green": 100})
    return steps


def traffic_of(evaluation) -> tuple[dict, dict]:
    (resource,) = evaluation.named("mi-uai-staging-traffic").inputs["properties"]["template"]["resources"]
    properties = resource["properties"]
    return {k: int(v) for k, v in properties["traffic"].items()}, {k: int(v) for k, v in properties.get("mirrorTraffic", {}).items()}


def test_the_rollout_sequence_changes_only_what_each_step_says():
    results = [(name, evaluate("staging", config)) for name, config in rollout_steps()]
    by_name = {name: {d.inputs["deploymentName"]: d for d in e.of_type(ONLINE_DEPLOYMENT)} for name, e in results}
    models = {name: {n: d.inputs["properties"]["model"].rsplit("/", 3)[1:] for n, d in ds.items()} for name, ds in by_name.items()}

    assert models["blue only"] == {"blue": ["sklearn-regression", "versions", "1"]}
    assert models["add green at 0 with mirror"]["green"] == ["sklearn-regression", "versions", "2"]
    expected = {
        "blue only": ({"blue": 100}, {}),
        "add green at 0 with mirror": ({"blue": 100, "green": 0}, {"green": 10}),
        "shift 10": ({"blue": 90, "green": 10}, {}),
        "shift 50": ({"blue": 50, "green": 50}, {}),
        "shift 100": ({"blue": 0, "green": 100}, {}),
        "remove blue": ({"green": 100}, {}),
    }
    assert {name: traffic_of(e) for name, e in results} == expected
    # Shifting traffic re-sends nothing but the traffic template: the deployments' inputs stay as they were.
    for name in ("shift 10", "shift 50", "shift 100"):
        for deployment in ("blue", "green"):
            assert by_name[name][deployment].inputs == by_name["add green at 0 with mirror"][deployment].inputs
    assert by_name["add green at 0 with mirror"]["blue"].inputs == by_name["blue only"]["blue"].inputs
    assert by_name["remove blue"]["green"].inputs == by_name["shift 100"]["green"].inputs
    # The template runs after every deployment it names, so Azure never sees traffic for a missing one.
    for _, evaluation in results:
        template = evaluation.named("mi-uai-staging-traffic")
        assert {d.urn for d in evaluation.of_type(ONLINE_DEPLOYMENT)} <= set(template.dependencies)


def test_removing_blue_while_it_still_takes_traffic_is_refused():
    name, config = rollout_steps()[4]
    config[f"{NAMESPACE}:onlineEndpoints"][0]["deployments"].pop(0)
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw(config))
    assert f"{NAMESPACE}:onlineEndpoints[0].traffic: names deployments that do not exist: 'blue'" in str(refused.value)


def test_plan_diff_shows_each_rollout_step_and_the_guard_reads_it(tmp_path):
    """The offline diff between consecutive steps: what docs/models-and-environments.md#rolling-out-a-new-model-version shows."""
    from azureml_endpoints.cli import guard, plan_diff

    files = []
    for index, (_, config) in enumerate(rollout_steps()):
        files.append(tmp_path / f"step{index}.yaml")
        files[-1].write_text(yaml.safe_dump({"config": config}))
    expected_ops = [
        {("create", "mi-uai-staging-green"), ("update", "mi-uai-staging-traffic")},
        {("update", "mi-uai-staging-traffic")},
        {("update", "mi-uai-staging-traffic")},
        {("update", "mi-uai-staging-traffic")},
        {("update", "mi-uai-staging-traffic"), ("delete", "mi-uai-staging-blue")},
    ]
    for index, ops in enumerate(expected_ops):
        digest = tmp_path / f"digest{index}.json"
        args = ["--stack", "staging", "--from", str(files[index]), "--to", str(files[index + 1]), "--digest", str(digest)]
        assert plan_diff.main(args) == 0
        steps = json.loads(digest.read_text())["steps"]
        assert {(s["op"], s["urn"].rsplit("::", 1)[1]) for s in steps if s["op"] != "same"} == ops
        assert guard.main([str(digest)]) == 0  # no step of a rollout touches an endpoint or its identity


def test_plan_diff_calls_an_identity_change_a_replacement_and_the_guard_blocks_it(tmp_path, capsys):
    from azureml_endpoints.cli import guard, plan_diff

    before, after = staging(), staging()
    after[f"{NAMESPACE}:onlineEndpoints"][0]["identity"]["userAssignedIdentityName"] = "id-other"
    (tmp_path / "before.yaml").write_text(yaml.safe_dump({"config": before}))
    (tmp_path / "after.yaml").write_text(yaml.safe_dump({"config": after}))
    digest = tmp_path / "digest.json"
    args = ["--stack", "staging", "--from", str(tmp_path / "before.yaml"), "--to", str(tmp_path / "after.yaml")]
    assert plan_diff.main([*args, "--digest", str(digest)]) == 0
    out = capsys.readouterr().out
    assert "+- azure-native:machinelearningservices:OnlineEndpoint    mi-uai-staging-endpoint" in out
    endpoint = next(s for s in json.loads(digest.read_text())["steps"] if s["urn"].endswith("::mi-uai-staging-endpoint"))
    assert endpoint["op"] == "replace" and endpoint["replaceReasons"] == ["identity"]
    assert guard.main([str(digest)]) == 2


def test_plan_diff_refuses_a_broken_config_with_exit_1(tmp_path, capsys):
    from azureml_endpoints.cli import plan_diff

    broken = staging()
    deployments(broken)[0]["model"] = "sklearn-regression:9"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump({"config": broken}))
    assert plan_diff.main(["--stack", "staging", "--from", str(tmp_path / "broken.yaml")]) == 1
    assert "error: --from: invalid azureml-endpoints config" in capsys.readouterr().err


# --- rollout safety: whole asset labels, the base's own files, the live-traffic warning ------------------------


def _git(repository, *args):
    subprocess.run(
        ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.org", *args], check=True, capture_output=True
    )


def _retrained_in_place(tmp_path, monkeypatch):
    """A project in git whose dev model was retrained in place: ml/model-1/model holds new weights as version 3."""
    import shutil

    from azureml_endpoints.paths import PROJECT_ENV

    repository = tmp_path / "repository"
    shutil.copytree(project_dir(), repository)
    _git(repository, "init", "-q")
    _git(repository, "add", "-A")
    _git(repository, "commit", "-q", "-m", "base")
    monkeypatch.setenv(PROJECT_ENV, str(repository))
    model = repository / "ml/model-1/model"
    (model / "sklearn_regression_model.pkl").write_bytes((repository / "ml/model-2/model/sklearn_regression_model.pkl").read_bytes())
    stack = repository / "Pulumi.dev.yaml"
    text = (
        stack.read_text().replace("version: 1\n", "version: 3\n", 1).replace("model: sklearn-regression:1", "model: sklearn-regression:3")
    )
    stack.write_text(text)
    lock = json.loads((repository / "ml/models.lock.json").read_text())
    lock["models"]["sklearn-regression"]["3"] = "sha256:" + content_sha256(model)
    (repository / "ml/models.lock.json").write_text(json.dumps(lock))
    return repository


def test_plan_diff_from_git_reads_the_base_revisions_files_after_an_in_place_retrain(tmp_path, monkeypatch, capsys):
    from azureml_endpoints.cli import guard, plan_diff

    repository = _retrained_in_place(tmp_path, monkeypatch)
    old_stack = tmp_path / "old.yaml"
    old_stack.write_bytes(subprocess.run(["git", "-C", str(repository), "show", "HEAD:Pulumi.dev.yaml"], capture_output=True).stdout)
    # The old stack file over today's files: version 1's files changed under it, so the lock refuses it.
    assert plan_diff.main(["--stack", "dev", "--from", str(old_stack)]) == 1
    assert "error: --from: " in capsys.readouterr().err

    digest = tmp_path / "digest.json"
    assert plan_diff.main(["--stack", "dev", "--from-git", "HEAD", "--digest", str(digest)]) == 0
    out = capsys.readouterr().out
    assert "~ azure-native:machinelearningservices:OnlineDeployment    mi-uai-dev-blue" in out
    assert "properties.model: model sklearn-regression:1 → model sklearn-regression:3" in out  # whole labels, never cut
    steps = {s["urn"].rsplit("::", 1)[1]: s["op"] for s in json.loads(digest.read_text())["steps"]}
    assert steps["assets-model-sklearn-regression-3"] == "create" and steps["assets-model-sklearn-regression-1"] == "delete"
    assert steps["data-hello.txt"] == "same"  # files read from another directory with equal content are no change

    assert guard.main([str(digest)]) == 0  # a warning, not a block
    summary = capsys.readouterr().out
    assert "**Warning:**" in summary
    assert "`mi-uai-dev-blue`: deployment `blue` takes 100 % of `mi-uai-dev`'s traffic and its model would change in place" in summary
    assert (
        "`batch-dev-blue`: deployment `blue` is `batch-dev`'s default (every job that names no deployment runs it) and its model would change in place"
        in summary
    )


def test_plan_diff_from_git_refuses_an_unknown_revision_in_one_line(tmp_path, monkeypatch, capsys):
    from azureml_endpoints.cli import plan_diff

    _retrained_in_place(tmp_path, monkeypatch)
    assert plan_diff.main(["--stack", "dev", "--from-git", "no-such-revision"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: --from-git no-such-revision: fatal: ")


def test_guard_is_silent_when_a_deployment_without_traffic_changes_its_model(tmp_path, capsys):
    """Green at 0 % takes a new model in place before traffic shifts to it: that is the rollout, not a risk."""
    from azureml_endpoints.cli import guard, plan_diff

    before, after = staging(), staging()
    green = next(d for d in deployments(after) if d["name"] == "green")
    green["model"] = "sklearn-regression:1"
    after[f"{NAMESPACE}:onlineEndpoints"][0]["traffic"] = {"blue": 100, "green": 0}
    before[f"{NAMESPACE}:onlineEndpoints"][0]["traffic"] = {"blue": 100, "green": 0}
    before[f"{NAMESPACE}:onlineEndpoints"][0].pop("mirrorTraffic", None)
    after[f"{NAMESPACE}:onlineEndpoints"][0].pop("mirrorTraffic", None)
    (tmp_path / "before.yaml").write_text(yaml.safe_dump({"config": before}))
    (tmp_path / "after.yaml").write_text(yaml.safe_dump({"config": after}))
    digest = tmp_path / "digest.json"
    args = ["--stack", "staging", "--from", str(tmp_path / "before.yaml"), "--to", str(tmp_path / "after.yaml"), "--digest", str(digest)]
    assert plan_diff.main(args) == 0
    assert "properties.model: model sklearn-regression:2 → model sklearn-regression:1" in capsys.readouterr().out
    assert guard.main([str(digest)]) == 0
    assert "Warning" not in capsys.readouterr().out
