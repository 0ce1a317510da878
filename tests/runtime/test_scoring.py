"""The shipped model and the online scoring scripts, run the way Azure ML runs them.

The scripts run under the real `azureml-inference-server-http`, in a virtual environment holding exactly
the pip list of ml/environment/conda.yaml (built once into ~/.cache/azureml-endpoints/runtime/, loopback only). The managed
identity script reads its blob from Azurite (npm, HTTPS, `--oauth basic`) with tokens from a loopback
managed identity endpoint, over both read paths, in both identity modes.
"""

import json
from contextlib import contextmanager
from pathlib import Path

import joblib
import numpy
import pytest

from azureml_endpoints.local.runtime import Azurite, InferenceServer, RuntimeSetupError, TokenEndpoint, python_env
from azureml_endpoints.paths import project_dir

ML = project_dir() / "ml"
SAMPLE = (ML / "sample-request.json").read_text()
BLOB_TEXT = (ML / "data" / "hello.txt").read_text()
ACCOUNT, CONTAINER, FILE_NAME = "stmlepdevdata", "data", "hello.txt"
UAI_CLIENT_ID = "11111111-2222-3333-4444-555555555555"


def expected_predictions() -> list:
    model = joblib.load(ML / "model-1" / "model" / "sklearn_regression_model.pkl")
    return model.predict(numpy.array(json.loads(SAMPLE)["data"])).tolist()


# --- the real runtime -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def online_python() -> Path:
    return python_env(ML / "environment" / "conda.yaml")


@pytest.fixture(scope="session")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scoring")


@pytest.fixture(scope="session")
def model_dir(scratch) -> Path:
    """AZUREML_MODEL_DIR as Azure ML mounts a folder model: azureml-models/<name>/<version>/model/<file>."""
    folder = scratch / "azureml-models" / "sklearn-regression" / "1"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "sklearn_regression_model.pkl").write_bytes(
        (ML / "model-1" / "model" / "sklearn_regression_model.pkl").read_bytes()
    )
    return folder


@pytest.fixture(scope="session")
def azure(scratch):
    """Azurite holding the blob and the managed identity endpoint, for the whole session."""
    with TokenEndpoint() as token, Azurite(ACCOUNT, scratch) as storage:
        storage.upload(CONTAINER, FILE_NAME, BLOB_TEXT.encode())
        yield token, storage


@contextmanager
def serve(python, model_dir, scratch, script: str, env: dict):
    with InferenceServer(python, ML / "onlinescoring" / script, model_dir, env, scratch) as server:
        yield server


def identity_env(azure, **extra) -> dict:
    token, storage = azure
    env = {
        "MSI_ENDPOINT": token.url,
        "MSI_SECRET": token.secret,
        "STORAGE_BLOB_ENDPOINT": storage.blob_endpoint,
        "STORAGE_ACCOUNT_NAME": ACCOUNT,
        "STORAGE_CONTAINER_NAME": CONTAINER,
        "FILE_NAME": FILE_NAME,
        # requests and azure-core (through requests) trust the emulator's self-signed certificate.
        "REQUESTS_CA_BUNDLE": str(storage.cert),
    }
    return {**env, **extra}


BAD_REQUESTS = [
    (b"not json", "the request body is not JSON"),
    (b'{"rows": [[1,2,3,4,5,6,7,8,9,10]]}', 'expected a JSON object {"data"'),
    (b'{"data": [[1,2,3]]}', "data[0] must be a list of 10 numbers"),
    (b'{"data": [[1,2,3,4,5,6,7,8,9,10], [1,2,3,4,5,6,7,8,9,"x"]]}', "data[1] must hold numbers only"),
]


def test_score_py_under_the_inference_server(online_python, model_dir, scratch):
    with serve(online_python, model_dir, scratch, "score.py", {}) as server:
        status, body = server.score(SAMPLE.encode())
        assert status == 200, body
        assert json.loads(body) == expected_predictions()
        for raw, message in BAD_REQUESTS:
            status, body = server.score(raw)
            assert status == 400, (raw, status, body)
            assert message in json.loads(body)["message"]
        output = server.output()
    assert f"Listening at: {server.url}" in output  # loopback only
    # The script's own lines reach the server's output (what `az ml online-deployment get-logs` shows).
    assert "score - Model loaded from" in output and "score - Init complete" in output
    assert "score - Bad request: data[0] must be a list of 10 numbers" in output


def test_managed_identity_script_user_assigned(online_python, model_dir, scratch, azure):
    token, _ = azure
    token.requests.clear()
    env = identity_env(azure, UAI_CLIENT_ID=UAI_CLIENT_ID)
    with serve(online_python, model_dir, scratch, "score_managedidentity.py", env) as server:
        status, body = server.score(SAMPLE.encode())
        assert status == 200, body
        assert json.loads(body) == expected_predictions()
        status, body = server.score(b"[1, 2]")
        assert status == 400 and "expected a JSON object" in json.loads(body)["message"]
        output = server.output()
    # Both read paths read the blob from the emulator with a token for the user-assigned identity.
    assert f"Blob contains (REST): {BLOB_TEXT}" in output
    assert f"Blob contains (SDK): {BLOB_TEXT}" in output
    assert "score_managedidentity - Init complete" in output
    assert len(token.requests) >= 2
    for request in token.requests:
        assert request["clientid"] == [UAI_CLIENT_ID]
        assert request["resource"][0].rstrip("/") == "https://storage.azure.com"  # the SDK drops the slash


def test_managed_identity_script_system_assigned(online_python, model_dir, scratch, azure):
    token, _ = azure
    token.requests.clear()
    with serve(online_python, model_dir, scratch, "score_managedidentity.py", identity_env(azure)) as server:
        status, body = server.score(SAMPLE.encode())
        assert status == 200 and json.loads(body) == expected_predictions()
        output = server.output()
    assert f"Blob contains (REST): {BLOB_TEXT}" in output and f"Blob contains (SDK): {BLOB_TEXT}" in output
    # A system-assigned identity is the endpoint's only one: no clientid is sent.
    assert len(token.requests) >= 2 and all("clientid" not in r for r in token.requests)


def test_init_fails_when_the_identity_cannot_get_a_token(online_python, model_dir, scratch, azure):
    env = identity_env(azure, MSI_SECRET="wrong")
    with pytest.raises(RuntimeSetupError) as failure:
        with serve(online_python, model_dir, scratch, "score_managedidentity.py", env):
            pass
    assert "401" in str(failure.value)


def test_the_emulator_refuses_a_token_for_another_audience(online_python, model_dir, scratch, azure):
    # Azurite checks the token's audience: a token for Azure Resource Manager cannot read the blob, as in Azure.
    env = identity_env(azure, STORAGE_TOKEN_RESOURCE="https://management.azure.com/")
    with pytest.raises(RuntimeSetupError) as failure:
        with serve(online_python, model_dir, scratch, "score_managedidentity.py", env):
            pass
    assert "403 Client Error: Server failed to authenticate the request" in str(failure.value)
