"""Score one online deployment of a stack on this machine, as Azure ML would run it: before a 15-minute deploy.

    azureml-endpoints score-local --stack dev --endpoint mi-uai-dev --deployment blue [--request FILE]

Azure's "Debug scoring scripts with Azure Machine Learning inference HTTP server" recommends exactly this
before deploying. What runs is read from the program itself, evaluated for the stack under the offline
mocks (azureml_endpoints/offline/evaluate.py), not from a second description of the assets:

- the OnlineDeployment's code id, scoring script, model id, environment id and environment variables;
- the CodeVersion's code URI and the ModelVersion's datastore path, and the `storage.Blob` uploads under
  them, whose sources are this repository's files;
- the EnvironmentVersion's conda file: its pip list is installed into a local virtual environment
  (.venv-runtime/), so the script runs under the same `azureml-inference-server-http` version as in Azure.

The deployment's blob is served by Azurite (HTTPS, OAuth) and its managed identity by a loopback token
endpoint (azureml_endpoints/local/runtime.py). The request (default ml/sample-request.json) is POSTed to /score; the
response and the server's log from start-up (init) are printed.

Exit codes: 0 the request was answered with HTTP 200; 1 the deployment did not start or did not answer
200; 2 it cannot run here (unknown stack, endpoint or deployment, an invalid stack config, or code, model
or environment that this stack references but does not upload, e.g. a registry model); 3 the local
runtime could not be set up (pip or npm failed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from azureml_endpoints.local.node_tools import NodeToolError
from azureml_endpoints.local.runtime import Azurite, EnvironmentBuildError, InferenceServer, RuntimeSetupError, TokenEndpoint, python_env
from azureml_endpoints.offline.evaluate import REPO, Evaluation, evaluate
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks

ML = "azure-native:machinelearningservices:"
BLOB = "azure-native:storage:Blob"


class NotLocal(Exception):
    """The deployment cannot be run on this machine; the message says why."""


@dataclass(frozen=True)
class LocalDeployment:
    """Everything one online deployment runs, as local files."""

    code_files: dict[str, Path]  # path inside the code asset -> repository file
    scoring_script: str
    model_folder: str  # the folder Azure mounts under AZUREML_MODEL_DIR
    model_files: dict[str, Path]  # path inside the model folder -> repository file
    model_name: str
    model_version: str
    conda_file: str
    environment_variables: dict[str, str]
    data_blob: tuple[str, str, str, Path] | None  # account, container, blob name, repository file


def _only(evaluation: Evaluation, type_: str, id_: str, what: str) -> dict:
    found = [r for r in evaluation.of_type(ML + type_) if r.id == id_]
    if not found:
        raise NotLocal(f"the {what} {id_} is referenced, not uploaded by this stack: it cannot be run locally")
    return found[0].inputs


def _uploads(evaluation: Evaluation, matches) -> dict[str, Path]:
    files = {}
    for blob in evaluation.of_type(BLOB):
        relative = matches(blob)
        source = blob.inputs.get("source")
        if relative and isinstance(source, dict) and "fileAsset" in source:
            files[relative] = Path(source["fileAsset"])
    return files


def resolve(evaluation: Evaluation, endpoint: str, deployment: str) -> LocalDeployment:
    """The files and settings of one online deployment, from what the program registered."""
    deployments = evaluation.of_type(ML + "OnlineDeployment")
    found = [d for d in deployments if d.inputs.get("endpointName") == endpoint and d.inputs.get("deploymentName") == deployment]
    if not found:
        known = sorted(f"{d.inputs.get('endpointName')}/{d.inputs.get('deploymentName')}" for d in deployments)
        raise NotLocal(f"stack {evaluation.stack} has no online deployment {endpoint}/{deployment} (it has: {', '.join(known) or 'none'})")
    p = found[0].inputs["properties"]

    code_id, script = p["codeConfiguration"]["codeId"], p["codeConfiguration"]["scoringScript"]
    code_uri = _only(evaluation, "CodeVersion", code_id, "code")["properties"]["codeUri"].rstrip("/") + "/"
    code_files = _uploads(evaluation, lambda b: b.id[len(code_uri) :] if b.id.startswith(code_uri) else None)

    model = _only(evaluation, "ModelVersion", p["model"], "model")
    model_path = urlparse(model["properties"]["modelUri"]).path.split("/paths/", 1)[1].rstrip("/")
    prefix = model_path + "/"
    model_files = _uploads(
        evaluation, lambda b: b.inputs["blobName"][len(prefix) :] if b.inputs.get("blobName", "").startswith(prefix) else None
    )

    conda = _only(evaluation, "EnvironmentVersion", p["environmentId"], "environment")["properties"].get("condaFile")
    if not conda:
        raise NotLocal(f"the environment {p['environmentId']} has no conda file (an image-only environment): it cannot be rebuilt locally")
    if script not in code_files or not model_files:
        raise NotLocal(f"the code or model files of {endpoint}/{deployment} are not uploaded by this stack")

    variables = {k: str(v) for k, v in (p.get("environmentVariables") or {}).items()}
    data_blob = None
    if {"STORAGE_ACCOUNT_NAME", "STORAGE_CONTAINER_NAME", "FILE_NAME"} <= set(variables):
        key = (variables["STORAGE_ACCOUNT_NAME"], variables["STORAGE_CONTAINER_NAME"], variables["FILE_NAME"])
        blob = _uploads(
            evaluation,
            lambda b: "x" if (b.inputs.get("accountName"), b.inputs.get("containerName"), b.inputs.get("blobName")) == key else None,
        )
        if not blob:
            raise NotLocal(f"the blob {'/'.join(key)} the deployment reads is not uploaded by this stack")
        data_blob = (*key, blob["x"])
    return LocalDeployment(
        code_files,
        script,
        model_path.rsplit("/", 1)[-1],
        model_files,
        model["name"],
        model["version"],
        conda,
        variables,
        data_blob,
    )


def _materialise(files: dict[str, Path], folder: Path) -> None:
    for relative, source in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())


def run_locally(local: LocalDeployment, request: bytes, folder: Path) -> tuple[int, str, str]:
    """Starts the deployment under the inference server and scores `request`: (status, body, server log)."""
    code = folder / "code"
    _materialise(local.code_files, code)
    model_dir = folder / "azureml-models" / local.model_name / local.model_version
    _materialise(local.model_files, model_dir / local.model_folder)
    conda_file = folder / "conda.yaml"
    conda_file.write_text(local.conda_file)
    python = python_env(conda_file)
    env = dict(local.environment_variables)
    with ExitStack() as stack:
        token = stack.enter_context(TokenEndpoint())
        env.update(MSI_ENDPOINT=token.url, MSI_SECRET=token.secret)
        if local.data_blob:
            account, container, name, source = local.data_blob
            storage = stack.enter_context(Azurite(account, folder))
            storage.upload(container, name, source.read_bytes())
            env.update(STORAGE_BLOB_ENDPOINT=storage.blob_endpoint, REQUESTS_CA_BUNDLE=str(storage.cert))
        server = stack.enter_context(InferenceServer(python, code / local.scoring_script, model_dir, env, folder))
        status, body = server.score(request)
        return status, body, server.output()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azureml-endpoints score-local",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 answered 200; 1 failed to start or answer 200; 2 cannot run here; 3 local setup failed.",
    )
    parser.add_argument("--stack", required=True, help=f"a stack with a Pulumi.<stack>.yaml ({', '.join(shipped_stacks())})")
    parser.add_argument("--endpoint", required=True, help="online endpoint name")
    parser.add_argument("--deployment", required=True, help="deployment name")
    parser.add_argument("--request", type=Path, default=REPO / "ml" / "sample-request.json", help="JSON body to POST to /score")
    args = parser.parse_args(argv)
    try:
        request = args.request.read_bytes()
        local = resolve(evaluate(args.stack), args.endpoint, args.deployment)
    except (NotLocal, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 an invalid config: the program's own message names the key
        print(f"error: stack {args.stack} does not evaluate: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="score-local-") as folder:
        try:
            status, body, log = run_locally(local, request, Path(folder))
        except (EnvironmentBuildError, NodeToolError) as error:
            print(f"error: local runtime setup failed: {error}", file=sys.stderr)
            return 3
        except RuntimeSetupError as error:
            print(f"error: the deployment did not start: {error}", file=sys.stderr)
            return 1
        except Exception as error:  # noqa: BLE001 e.g. the emulator refused the upload: reported, never a traceback
            print(f"error: local run failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    print(f"--- POST /score ({args.endpoint}/{args.deployment}): HTTP {status}")
    print(body)
    print("--- inference server log (init and the request)")
    print(log)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
