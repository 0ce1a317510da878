"""`azureml-endpoints score-local` runs every shipped online deployment under the real inference server."""

import copy
import json
import subprocess
import sys

import joblib
import numpy
import pytest

from azureml_endpoints.cli.score_local import NotLocal, resolve
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import REPO, project_dir
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks

ML_TYPE = "azure-native:machinelearningservices:"
SAMPLE = json.loads((project_dir() / "ml" / "sample-request.json").read_text())


def score_local(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.score_local", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )


def expected(model_file) -> list:
    return joblib.load(model_file).predict(numpy.array(SAMPLE["data"])).tolist()


@pytest.mark.parametrize("stack", shipped_stacks())
def test_every_online_deployment_of_every_shipped_stack_scores_locally(stack):
    evaluation = evaluate(stack)
    deployments = evaluation.of_type(ML_TYPE + "OnlineDeployment")
    assert deployments, stack
    for deployment in deployments:
        endpoint, name = deployment.inputs["endpointName"], deployment.inputs["deploymentName"]
        result = score_local("--stack", stack, "--endpoint", endpoint, "--deployment", name)
        assert result.returncode == 0, result.stdout + result.stderr
        head, body, *_ = result.stdout.split("\n", 2)
        assert head == f"--- POST /score ({endpoint}/{name}): HTTP 200"
        # The model version that deployment runs (staging and prod run version 2 on green).
        model_file = resolve(evaluation, endpoint, name).model_files["sklearn_regression_model.pkl"]
        assert json.loads(body) == expected(model_file)
        log = result.stdout
        assert "Init complete" in log and "POST /score 200" in log
        if deployment.inputs["properties"]["codeConfiguration"]["scoringScript"] == "score_managedidentity.py":
            hello = (project_dir() / "ml/data/hello.txt").read_text()
            assert f"Blob contains (REST): {hello}" in log and f"Blob contains (SDK): {hello}" in log


def test_unknown_deployment_is_a_one_line_error():
    result = score_local("--stack", "dev", "--endpoint", "mi-uai-dev", "--deployment", "purple")
    assert result.returncode == 2
    assert result.stderr == "error: stack dev has no deployment mi-uai-dev/purple (it has: batch-dev/blue, mi-uai-dev/blue)\n"
    assert result.stdout == ""


def test_unknown_stack_is_a_one_line_error():
    result = score_local("--stack", "nope", "--endpoint", "e", "--deployment", "d")
    assert result.returncode == 2 and result.stderr.startswith("error: no stack file Pulumi.nope.yaml")


def test_help_documents_the_exit_codes():
    result = score_local("--help")
    assert result.returncode == 0 and "Exit codes: 0 answered 200" in result.stdout
    assert "3 local setup failed (pip or npm, a conda dependency with no pip package, or the conda file's Python" in " ".join(
        result.stdout.split()
    )


def _without(evaluation, type_):
    changed = copy.copy(evaluation)
    changed.registrations = [r for r in evaluation.registrations if r.type != ML_TYPE + type_]
    return changed


def test_a_model_this_stack_only_references_cannot_run_locally(dev):
    # A registry model or `azureml:name:version` has no ModelVersion (and no upload) in the stack.
    with pytest.raises(
        NotLocal,
        match=r"^the model /subscriptions/.+/models/sklearn-regression/versions/\w+ is referenced, not uploaded by this stack: it cannot be run locally$",
    ):
        resolve(_without(dev, "ModelVersion"), "mi-uai-dev", "blue")
    with pytest.raises(NotLocal, match="^the code .+ is referenced, not uploaded by this stack"):
        resolve(_without(dev, "CodeVersion"), "mi-uai-dev", "blue")


def test_resolution_reads_the_program_registrations(dev):
    local = resolve(dev, "mi-uai-dev", "blue")
    assert local.scoring_script == "score_managedidentity.py"
    assert set(local.code_files) == {"sample_model.py", "score.py", "score_managedidentity.py"}
    assert local.model_folder == "model" and set(local.model_files) == {"sklearn_regression_model.pkl"}
    assert local.data_blob[:3] == ("stmlepdevdata", "data", "hello.txt")
    assert local.data_blob[3] == project_dir() / "ml/data/hello.txt"
    assert local.environment_variables["UAI_CLIENT_ID"] == dev.named("mi-uai-dev-identity").outputs["clientId"]
    assert "azureml-inference-server-http==" in local.conda_file
