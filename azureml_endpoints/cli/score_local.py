"""Run one deployment of a stack on this machine, as Azure ML would run it: before a 15-minute deploy.

    azureml-endpoints score-local --stack dev --endpoint mi-uai-dev --deployment blue [--request FILE]
    azureml-endpoints score-local --stack dev --endpoint batch-dev --deployment blue [--input FOLDER] [--output FOLDER]

Azure's "Debug scoring scripts with Azure Machine Learning inference HTTP server" recommends exactly this
before deploying. What runs is read from the program itself, evaluated for the stack under the offline
mocks (azureml_endpoints/offline/evaluate.py), not from a second description of the assets:

- the deployment's code id, scoring script, model id, environment id and environment variables;
- the CodeVersion's code URI and the ModelVersion's datastore path, and the uploads under them (`storage.Blob`,
  or a private stack's keyless uploads), whose sources are the project's files;
- the EnvironmentVersion's conda file, built into a local virtual environment (~/.cache/azureml-endpoints/runtime/) by the
  Python version it names, with its conda dependencies mapped to pip packages of the same name and version
  and its pip list (azureml_endpoints/local/runtime.py).

An MLflow model deployed with no code runs as Azure runs it: the model's own conda file plus the packages
Azure adds, and the scoring Azure generates (azureml_endpoints/local/mlflow_score.py online,
azureml_endpoints/local/mlflow_batch_driver.py batch).

Online: the deployment's blob is served by Azurite (HTTPS, OAuth) and its managed identity by a loopback
token endpoint; the request (default the project's ml/sample-request.json) is POSTed to /score under the real
azureml-inference-server-http; the response and the server's log from start-up (init) are printed.
Batch: the input folder's files go through the driver's init() and run(mini_batch) as Azure's batch runtime
calls them (azureml_endpoints/local/batch_runner.py); the output file (AppendRow) is printed, or written
to --output.

Documented in docs/testing.md#running-a-deployment-locally.

Exit codes: 0 the request was answered with HTTP 200, or the batch job succeeded; 1 the deployment did not
start, did not answer 200, or the batch job failed (more failed files than errorThreshold); 2 it cannot run
here (unknown stack, endpoint or deployment, an invalid stack config, or code, model or environment that
this stack references but does not upload, e.g. a registry model); 3 the local runtime could not be set up:
pip or npm failed, a conda dependency has no pip package of the same name and version, or the conda
file's Python version (python3.X on PATH) is not on this machine.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import yaml

from azureml_endpoints.local.node_tools import NodeToolError
from azureml_endpoints.local.runtime import (
    Azurite,
    EnvironmentBuildError,
    InferenceServer,
    RuntimeSetupError,
    TokenEndpoint,
    conda_pip_requirements,
    python_env,
)
from azureml_endpoints.offline.evaluate import Evaluation, evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks

ML = "azure-native:machinelearningservices:"
BLOB = "azure-native:storage:Blob"
ENTRA_UPLOAD = "pulumi-python:dynamic:Resource"
LOCAL = Path(__file__).resolve().parent.parent / "local"
# What Azure adds to an MLflow model's own conda dependencies for a no-code deployment ("Deploy MLflow models to
# online endpoints": the MLflow image holds azureml-inference-server-http and mlflow-skinny), each only when the
# model's conda file does not name it. The server at the version this repository's runtime tests run.
NO_CODE_ONLINE_PACKAGES = {"azureml-inference-server-http": "azureml-inference-server-http==1.5.1", "mlflow": "mlflow-skinny"}
NO_CODE_BATCH_PACKAGES = {"mlflow": "mlflow-skinny", "pandas": "pandas"}


class NotLocal(Exception):
    """The deployment cannot be run on this machine; the message says why."""


@dataclass(frozen=True)
class BatchSettings:
    """The batch deployment settings the runtime applies to a job."""

    mini_batch_size: int
    max_retries: int
    error_threshold: int
    output_action: str  # AppendRow or SummaryOnly
    output_file_name: str


@dataclass(frozen=True)
class LocalDeployment:
    """Everything one deployment runs, as local files."""

    kind: Literal["online", "batch"]
    code_files: dict[str, Path]  # path inside the code asset -> repository file
    scoring_script: str
    model_folder: str  # the folder Azure mounts under AZUREML_MODEL_DIR
    model_files: dict[str, Path]  # path inside the model folder -> repository file
    model_name: str
    model_version: str
    conda_file: str
    environment_variables: dict[str, str]
    data_blob: tuple[str, str, str, Path] | None  # account, container, blob name, repository file
    no_code: bool = False  # an MLflow model with no code: Azure generates the scoring and the environment
    extra_packages: tuple[str, ...] = ()  # what Azure adds to the model's conda file for a no-code deployment
    batch: BatchSettings | None = None


def _only(evaluation: Evaluation, type_: str, id_: str, what: str) -> dict:
    found = [r for r in evaluation.of_type(ML + type_) if r.id == id_]
    if not found:
        raise NotLocal(f"the {what} {id_} is referenced, not uploaded by this stack: it cannot be run locally")
    return found[0].inputs


@dataclass(frozen=True)
class Upload:
    """One file the stack uploads: with azure-native's `storage.Blob` (account key) or the keyless upload of a
    private stack (azureml_endpoints/resources/entra_blob.py), which names the same blob by account URL."""

    account: str
    container: str
    blob_name: str
    url: str
    source: Path


def uploads(evaluation: Evaluation) -> list[Upload]:
    found = []
    for blob in evaluation.of_type(BLOB):
        source = blob.inputs.get("source")
        if isinstance(source, dict) and "fileAsset" in source:
            i = blob.inputs
            found.append(
                Upload(i.get("accountName", ""), i.get("containerName", ""), i.get("blobName", ""), blob.id, Path(source["fileAsset"]))
            )
    for upload in evaluation.of_type(ENTRA_UPLOAD):
        i = upload.inputs
        if {"accountUrl", "containerName", "blobName", "source"} <= set(i):
            url = f"{str(i['accountUrl']).rstrip('/')}/{i['containerName']}/{i['blobName']}"
            account = urlparse(str(i["accountUrl"])).hostname.split(".", 1)[0]
            found.append(Upload(account, i["containerName"], i["blobName"], url, Path(i["source"])))
    return found


def _uploads(evaluation: Evaluation, matches) -> dict[str, Path]:
    """`matches(upload)` -> the file's path inside its asset, or None; the files of one asset."""
    files = {}
    for upload in uploads(evaluation):
        relative = matches(upload)
        if relative:
            files[relative] = upload.source
    return files


def _deployment(evaluation: Evaluation, endpoint: str, deployment: str) -> tuple[Literal["online", "batch"], dict]:
    found = {}
    for kind in ("online", "batch"):
        for d in evaluation.of_type(ML + ("OnlineDeployment" if kind == "online" else "BatchDeployment")):
            found[f"{d.inputs.get('endpointName')}/{d.inputs.get('deploymentName')}"] = (kind, d.inputs["properties"])
    if f"{endpoint}/{deployment}" not in found:
        known = ", ".join(sorted(found)) or "none"
        raise NotLocal(f"stack {evaluation.stack} has no deployment {endpoint}/{deployment} (it has: {known})")
    return found[f"{endpoint}/{deployment}"]


def _mlflow_conda_file(model_files: dict[str, Path], model: dict) -> str:
    """The conda file an MLflow model names for its pyfunc flavour (Azure builds the no-code environment from it)."""
    if "MLmodel" not in model_files:
        raise NotLocal(f"the MLflow model {model['name']}:{model['version']} has no MLmodel file at its root")
    flavor = (yaml.safe_load(model_files["MLmodel"].read_text()).get("flavors") or {}).get("python_function") or {}
    env = flavor.get("env")
    conda = env.get("conda") if isinstance(env, dict) else env
    if not conda or conda not in model_files:
        raise NotLocal(
            f"the MLflow model {model['name']}:{model['version']} names no conda file for its python_function flavour "
            "(Azure builds a no-code deployment's environment from it)"
        )
    return model_files[conda].read_text()


def _additions(conda_file: str, packages: dict[str, str]) -> tuple[str, ...]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "conda.yaml"
        path.write_text(conda_file)
        named = {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in conda_pip_requirements(path)}
    return tuple(package for name, package in packages.items() if name not in named and f"{name}-skinny" not in named)


def resolve(evaluation: Evaluation, endpoint: str, deployment: str) -> LocalDeployment:
    """The files and settings of one online or batch deployment, from what the program registered."""
    kind, p = _deployment(evaluation, endpoint, deployment)
    model_id = p["model"] if kind == "online" else (p.get("model") or {}).get("assetId")
    model = _only(evaluation, "ModelVersion", model_id, "model")
    model_path = urlparse(model["properties"]["modelUri"]).path.split("/paths/", 1)[1].rstrip("/")
    prefix = model_path + "/"
    model_files = _uploads(evaluation, lambda u: u.blob_name[len(prefix) :] if u.blob_name.startswith(prefix) else None)
    if not model_files:
        raise NotLocal(f"the model files of {endpoint}/{deployment} are not uploaded by this stack")
    mlflow = model["properties"].get("modelType") == "mlflow_model"

    code = p.get("codeConfiguration")
    if code:
        script = code["scoringScript"]
        code_uri = _only(evaluation, "CodeVersion", code["codeId"], "code")["properties"]["codeUri"].rstrip("/") + "/"
        code_files = _uploads(evaluation, lambda u: u.url[len(code_uri) :] if u.url.startswith(code_uri) else None)
        if script not in code_files:
            raise NotLocal(f"the scoring script {script} of {endpoint}/{deployment} is not uploaded by this stack")
    elif mlflow:
        script = "mlflow_score.py" if kind == "online" else "mlflow_batch_driver.py"
        code_files = {script: LOCAL / script}
    else:
        raise NotLocal(f"{endpoint}/{deployment} names no code and its model is no MLflow model: Azure would not run it")

    environment_id = p.get("environmentId")
    extra: tuple[str, ...] = ()
    if environment_id:
        conda = _only(evaluation, "EnvironmentVersion", environment_id, "environment")["properties"].get("condaFile")
        if not conda:
            raise NotLocal(f"the environment {environment_id} has no conda file (an image-only environment): it cannot be rebuilt locally")
    elif mlflow:
        conda = _mlflow_conda_file(model_files, model)
        extra = _additions(conda, NO_CODE_ONLINE_PACKAGES if kind == "online" else NO_CODE_BATCH_PACKAGES)
    else:
        raise NotLocal(f"{endpoint}/{deployment} names no environment and its model is no MLflow model: Azure would not run it")

    variables = {k: str(v) for k, v in (p.get("environmentVariables") or {}).items()}
    if mlflow:
        variables["MLFLOW_MODEL_FOLDER"] = model_path.rsplit("/", 1)[-1]
    data_blob = None
    if {"STORAGE_ACCOUNT_NAME", "STORAGE_CONTAINER_NAME", "FILE_NAME"} <= set(variables):
        key = (variables["STORAGE_ACCOUNT_NAME"], variables["STORAGE_CONTAINER_NAME"], variables["FILE_NAME"])
        blob = _uploads(
            evaluation,
            lambda u: "x" if (u.account, u.container, u.blob_name) == key else None,
        )
        if not blob:
            raise NotLocal(f"the blob {'/'.join(key)} the deployment reads is not uploaded by this stack")
        data_blob = (*key, blob["x"])
    batch = None
    if kind == "batch":
        retry = p.get("retrySettings") or {}
        batch = BatchSettings(
            mini_batch_size=int(p.get("miniBatchSize", 10)),
            max_retries=int(retry.get("maxRetries", 3)),
            error_threshold=int(p.get("errorThreshold", -1)),
            output_action=str(p.get("outputAction", "AppendRow")),
            output_file_name=str(p.get("outputFileName", "predictions.csv")),
        )
    return LocalDeployment(
        kind,
        code_files,
        script,
        model_path.rsplit("/", 1)[-1],
        model_files,
        model["name"],
        model["version"],
        conda,
        variables,
        data_blob,
        no_code=code is None,
        extra_packages=extra,
        batch=batch,
    )


def _materialise(files: dict[str, Path], folder: Path) -> None:
    for relative, source in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())


def _prepare(local: LocalDeployment, folder: Path) -> tuple[Path, Path, Path]:
    """The code folder, AZUREML_MODEL_DIR and the environment's Python, on this machine."""
    code = folder / "code"
    _materialise(local.code_files, code)
    model_dir = folder / "azureml-models" / local.model_name / local.model_version
    _materialise(local.model_files, model_dir / local.model_folder)
    conda_file = folder / "conda.yaml"
    conda_file.write_text(local.conda_file)
    return code, model_dir, python_env(conda_file, extra=list(local.extra_packages))


def run_locally(local: LocalDeployment, request: bytes, folder: Path) -> tuple[int, str, str]:
    """Starts an online deployment under the inference server and scores `request`: (status, body, server log)."""
    code, model_dir, python = _prepare(local, folder)
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


def run_batch(local: LocalDeployment, input_folder: Path, output_folder: Path, folder: Path) -> tuple[dict, str]:
    """Runs a batch deployment over the files of `input_folder` as Azure's batch runtime does: (outcome, log)."""
    files = sorted(str(f) for f in input_folder.iterdir() if f.is_file())  # nested folders are not explored
    if not files:
        raise NotLocal(f"the input folder {input_folder} has no files")
    code, model_dir, python = _prepare(local, folder)
    settings = local.batch
    job = {
        "driver": str(code / local.scoring_script),
        "files": files,
        "mini_batch_size": settings.mini_batch_size,
        "max_retries": settings.max_retries,
        "error_threshold": settings.error_threshold,
        "output_action": settings.output_action,
        "output_file_name": settings.output_file_name,
        "output_folder": str(output_folder),
    }
    job_file = folder / "job.json"
    job_file.write_text(json.dumps(job))
    env = {
        "PATH": "/usr/bin:/bin",
        **local.environment_variables,
        "AZUREML_MODEL_DIR": str(model_dir),
        "PYTHONPATH": str(code),  # the driver's own modules import, as from the code folder in Azure
        "PYTHONUNBUFFERED": "1",
    }
    result = subprocess.run(
        [str(python), str(LOCAL / "batch_runner.py"), str(job_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(code),
        stdin=subprocess.DEVNULL,
        timeout=1800,
    )
    log = result.stdout + result.stderr
    outcome = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not outcome:
        raise RuntimeSetupError(f"the batch driver's init() or the runtime failed (exit {result.returncode}):\n{log[-20000:]}")
    return json.loads(outcome[-1][len("RESULT ") :]), log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azureml-endpoints score-local",
        description=__doc__.split("\n\n")[0],
        epilog=(
            "Exit codes: 0 answered 200 (online) or the job succeeded (batch); 1 failed to start, did not answer 200, "
            "or the job failed; 2 cannot run here; 3 local setup failed (pip or npm, a conda dependency with no pip "
            "package, or the conda file's Python version missing: python3.X on PATH)."
        ),
    )
    parser.add_argument("--stack", required=True, help=f"a stack with a Pulumi.<stack>.yaml ({', '.join(shipped_stacks())})")
    parser.add_argument("--endpoint", required=True, help="online or batch endpoint name")
    parser.add_argument("--deployment", required=True, help="deployment name")
    parser.add_argument("--request", type=Path, help="online: JSON body to POST to /score (default: the project's ml/sample-request.json)")
    parser.add_argument(
        "--input", type=Path, help="batch: the folder whose files are the job's input (default: the project's ml/batch-data)"
    )
    parser.add_argument("--output", type=Path, help="batch: the folder the output file is written to (default: printed only)")
    args = parser.parse_args(argv)
    args.request = args.request or project_dir() / "ml" / "sample-request.json"
    args.input = args.input or project_dir() / "ml" / "batch-data"
    try:
        local = resolve(evaluate(args.stack), args.endpoint, args.deployment)
        request = args.request.read_bytes() if local.kind == "online" else b""
        if local.kind == "batch" and not args.input.is_dir():
            raise NotLocal(f"--input {args.input} is not a folder")
    except (NotLocal, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 an invalid config: the program's own message names the key
        print(f"error: stack {args.stack} does not evaluate: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="score-local-") as folder:
        try:
            if local.kind == "online":
                status, body, log = run_locally(local, request, Path(folder))
            else:
                output = args.output or Path(folder) / "output"
                output.mkdir(parents=True, exist_ok=True)
                outcome, log = run_batch(local, args.input, output, Path(folder))
        except (EnvironmentBuildError, NodeToolError) as error:
            print(f"error: local runtime setup failed: {error}", file=sys.stderr)
            return 3
        except NotLocal as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except RuntimeSetupError as error:
            print(f"error: the deployment did not start: {error}", file=sys.stderr)
            return 1
        except Exception as error:  # noqa: BLE001 e.g. the emulator refused the upload: reported, never a traceback
            print(f"error: local run failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        if local.kind == "online":
            print(f"--- POST /score ({args.endpoint}/{args.deployment}): HTTP {status}")
            print(body)
            print("--- inference server log (init and the request)")
            print(log)
            return 0 if status == 200 else 1
        verdict = (
            "succeeded"
            if outcome["succeeded"]
            else f"failed: {outcome['failed_files']} files failed, errorThreshold {local.batch.error_threshold}"
        )
        print(
            f"--- batch job ({args.endpoint}/{args.deployment}): {verdict}; {outcome['files']} files in "
            f"{outcome['mini_batches']} mini-batches, {outcome['failed_files']} failed, {outcome['rows']} rows ({local.batch.output_action})"
        )
        if outcome["output"]:
            written = Path(outcome["output"])
            print(f"--- {local.batch.output_file_name}" + (f" (written to {written})" if args.output else ""))
            print(written.read_text(), end="")
        print("--- batch runtime log (init and every mini-batch)")
        print(log, end="")
        return 0 if outcome["succeeded"] else 1


if __name__ == "__main__":
    sys.exit(main())
