"""Turn `az ml` endpoint and deployment YAML files into this program's stack config and catalog entries.

    azureml-endpoints import endpoint.yml blue-deployment.yml [green-deployment.yml ...] [--image IMAGE] [--stack-file Pulumi.<stack>.yaml]

The files are read by Microsoft's own loaders (azure-ai-ml's load_online_endpoint, load_online_deployment,
load_batch_endpoint, load_batch_deployment; azureml_endpoints/local/aml_yaml_loader.py), run in the
azure-ai-ml virtual environment under ~/.cache/azureml-endpoints/runtime/ (built on first use; azure-ai-ml cannot share the
program's venv). There is no home-made YAML reader to fall back to: a second reading of the CLI v2 schema
would drift from the one `az ml` applies, so when that environment cannot be built the command says so (exit 3).

What it writes, per file:
- an endpoint: an `onlineEndpoints` entry; its identity is stated (SystemAssigned,
  Azure's default when the YAML names none), traffic is the YAML's or, when it names none, all of it to the
  first deployment (what `az ml online-deployment create --all-traffic` does);
- a deployment: its entry under that endpoint; an inline `model: {path}` becomes a `models` entry (the YAML's
  name and version, or the model folder's name and version 1 for an anonymous model), an inline
  `environment: {image, conda_file}` an `environments` entry, `code_configuration` becomes `code` and
  `scoringScript`; `azureml:` references stay references (with `modelType`: custom_model when the deployment
  has code, mlflow_model when it has none, as `az ml` reads a no-code deployment).
Batch endpoint and deployment files are refused, saying so: a stack's batch endpoint names its compute
cluster and default deployment, which `az ml` keeps in other files and commands (write `batchEndpoints` by
hand, docs/batch.md). Every path must lie inside the Pulumi project (`project_dir()`, azureml_endpoints/paths.py) and is written relative to it.

Printed as YAML to paste under `config:` in Pulumi.<stack>.yaml, or merged into --stack-file (appending to its
lists; an endpoint or catalog entry of the same name is refused), written atomically. Comments of an existing
stack file are not kept by the merge: keep them by pasting the printed YAML instead.

Documented in docs/testing.md#importing-az-ml-yaml.

Exit codes: 0 converted; 1 a file has a key or value with no stack-config equivalent, or an image that is not
pinned (the message says what to write instead); 2 bad arguments, a file the azure-ai-ml loader refuses, or a
path outside the project; 3 the azure-ai-ml environment could not be built (pip failed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from azureml_endpoints.local.runtime import EnvironmentBuildError, requirements_env
from azureml_endpoints.paths import project_dir

NS = "azureml-endpoints:"
# The azure-ai-ml version whose loaders read the files, the one tests/program/test_request_bodies.py checks bodies against.
AZURE_AI_ML = "azure-ai-ml==1.35.2"
LOADER = Path(__file__).resolve().parent.parent / "local" / "aml_yaml_loader.py"
AUTH_MODES = {"key": "Key", "aml_token": "AMLToken", "aad_token": "AADToken"}
IDENTITY_TYPES = {"system_assigned": "SystemAssigned", "user_assigned": "UserAssigned"}
ANONYMOUS = re.compile(r"[0-9a-f]{32,64}|CliV2Anonymous\w*")


class ImportRefused(Exception):
    """A file cannot be expressed as stack config; the message names the file, the key and what to write instead."""


def load(files: list[Path]) -> list[dict]:
    python = requirements_env("azure-ai-ml", [AZURE_AI_ML])
    result = subprocess.run(
        [str(python), str(LOADER), *map(str, files)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600
    )
    if result.returncode != 0:
        raise EnvironmentBuildError(f"the azure-ai-ml loader failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def project_path(value: str, file: str, key: str, project: Path) -> str:
    path = Path(value).resolve()
    if path != project and project not in path.parents:
        raise ValueError(f"{file}: {key} {value} is outside the project {project}: copy it into the project first")
    return path.relative_to(project).as_posix()


def pinned_image(image: str, file: str, override: str | None) -> str:
    tag = image.rsplit("/", 1)[-1]
    if "@sha256:" in image or (":" in tag and not tag.endswith(":latest")):
        return image
    if override:
        return override
    raise ImportRefused(
        f"{file}: environment.image {image} is not pinned (a :latest image changes under an unchanged stack): "
        "pass --image <image>:<dated tag>, e.g. the tag in azureml_endpoints/azure/images.py"
    )


class Converter:
    """Collects the stack config the files describe."""

    def __init__(self, project: Path, image: str | None):
        self.project, self.image = project, image
        self.models: list[dict] = []
        self.environments: list[dict] = []
        self.online: dict[str, dict] = {}

    def endpoint(self, e: dict) -> None:
        entry: dict = {"name": e["name"]}
        if e.get("description"):
            entry["description"] = e["description"]
        identity = IDENTITY_TYPES.get(e.get("identity_type") or "system_assigned")
        if identity == "UserAssigned":
            raise ImportRefused(
                f"{e['file']}: identity.type user_assigned names identities by resource id; this program creates the identity: "
                "write identity: {type: UserAssigned, userAssignedIdentityName: <name>} in the stack instead"
            )
        entry.update(identity={"type": identity}, authMode=AUTH_MODES[e["auth_mode"]])
        if e.get("public_network_access"):
            entry["publicNetworkAccess"] = str(e["public_network_access"]).capitalize()
        entry.update(deployments=[], traffic=dict(e.get("traffic") or {}))
        self.online[e["name"]] = entry

    def model(self, d: dict) -> tuple[str, str]:
        """(the deployment's `model` value, the model type)."""
        model = d["model"]
        if model is None:
            raise ImportRefused(f"{d['file']}: model is missing: a deployment names the model it serves")
        if isinstance(model, str):
            return model, "custom_model" if d.get("code") else "mlflow_model"
        path = project_path(model["path"], d["file"], "model.path", self.project)
        name = (
            model["name"]
            if not ANONYMOUS.fullmatch(model["name"] or "")
            else Path(path).parent.name
            if Path(path).name == "model"
            else Path(path).name
        )
        version = int(model["version"]) if str(model.get("version") or "1").isdigit() else None
        if version is None:
            raise ImportRefused(f"{d['file']}: model.version {model['version']!r}: write a positive integer")
        entry = {"name": name, "version": version, "path": path, "type": model["type"] or "custom_model"}
        if model.get("description"):
            entry["description"] = model["description"]
        if entry not in self.models:
            self.models.append(entry)
        return f"{name}:{version}", entry["type"]

    def environment(self, d: dict, model_name: str) -> str | None:
        env = d["environment"]
        if env is None or isinstance(env, str):
            return env
        if not env.get("image"):
            raise ImportRefused(
                f"{d['file']}: environment.build (a Docker context) has no stack equivalent: write environment.image and conda_file"
            )
        name = env["name"] if not ANONYMOUS.fullmatch(env["name"] or "") else f"{model_name}-env"
        entry = {"name": name, "image": pinned_image(env["image"], d["file"], self.image)}
        if env.get("conda_file"):
            entry["condaFile"] = project_path(env["conda_file"], d["file"], "environment.conda_file", self.project)
        known = [e for e in self.environments if e["name"] == name]
        if known and known[0] != entry:
            raise ImportRefused(f"{d['file']}: a different environment named {name} is already imported: name this one in the YAML")
        if not known:
            self.environments.append(entry)
        return name

    def deployment(self, d: dict) -> None:
        endpoints = self.online
        if d["endpoint_name"] not in endpoints:
            raise ImportRefused(
                f"{d['file']}: endpoint_name {d['endpoint_name']} is none of the endpoint files given ({', '.join(endpoints) or 'none'})"
            )
        model, model_type = self.model(d)
        entry: dict = {"name": d["name"]}
        entry.update(instanceType=d["instance_type"], instanceCount=d["instance_count"] or 1)
        entry["model"] = model
        if model.startswith("azureml:"):
            entry["modelType"] = model_type
        if d.get("code"):
            entry.update(
                code=project_path(d["code"], d["file"], "code_configuration.code", self.project), scoringScript=d["scoring_script"]
            )
        environment = self.environment(d, model.split(":")[0].removeprefix("azureml"))
        if environment:
            entry["environment"] = environment
        if d.get("environment_variables"):
            entry["environmentVariables"] = {k: str(v) for k, v in d["environment_variables"].items()}
        endpoints[d["endpoint_name"]]["deployments"].append(entry)

    def config(self) -> dict:
        for endpoint in self.online.values():
            if not endpoint["deployments"]:
                raise ImportRefused(f"online endpoint {endpoint['name']}: no deployment file names it: give at least one")
            if not endpoint["traffic"]:
                endpoint["traffic"] = {endpoint["deployments"][0]["name"]: 100}
        out = {}
        for key, value in (("models", self.models), ("environments", self.environments)):
            if value:
                out[NS + key] = value
        if self.online:
            out[NS + "onlineEndpoints"] = list(self.online.values())
        return out


def convert(loaded: list[dict], project: Path | None = None, image: str | None = None) -> dict:
    """Stack config (`azureml-endpoints:<key>` -> value) from what the loader read; endpoints before their deployments."""
    converter = Converter(project or project_dir(), image)
    for item in sorted(loaded, key=lambda i: not i.get("kind", "").endswith("endpoint")):
        if "error" in item:
            raise ValueError(f"{item['file']}: azure-ai-ml refuses it: {item['error']}")
        if item["kind"].startswith("batch_"):
            raise ImportRefused(
                f"{item['file']}: a batch {item['kind'].removeprefix('batch_')} is not imported: a stack's batch endpoint names its "
                "compute cluster and default deployment, which az ml keeps elsewhere; write batchEndpoints by hand (docs/batch.md)"
            )
        (converter.endpoint if item["kind"].endswith("endpoint") else converter.deployment)(item)
    return converter.config()


def merge(stack_file: Path, imported: dict) -> None:
    """Appends the imported entries to the stack file's config and replaces the file atomically."""
    document = (yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None) or {}
    config = document.setdefault("config", {})
    for key, entries in imported.items():
        existing = config.setdefault(key, [])
        names = {(e.get("name"), e.get("version")) for e in existing}
        for entry in entries:
            if (entry.get("name"), entry.get("version")) in names:
                raise ImportRefused(f"{stack_file.name}: {key} already has an entry named {entry['name']}: rename one, or paste by hand")
            existing.append(entry)
    handle, temporary = tempfile.mkstemp(dir=stack_file.parent, prefix=f".{stack_file.name}.")
    with os.fdopen(handle, "w") as out:
        yaml.safe_dump(document, out, sort_keys=False)
    os.replace(temporary, stack_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azureml-endpoints import",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 converted; 1 a key or value has no stack equivalent (the message says what to write); 2 bad arguments, a file azure-ai-ml refuses, or a path outside the project; 3 the azure-ai-ml environment could not be built.",
    )
    parser.add_argument("files", nargs="+", type=Path, help="az ml endpoint YAML files and the deployment YAML files under them")
    parser.add_argument("--image", help="the pinned base image to use where a file names an unpinned one (:latest)")
    parser.add_argument("--stack-file", type=Path, help="merge into this Pulumi.<stack>.yaml instead of printing")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        imported = convert(load(args.files), image=args.image)
        if args.stack_file:
            merge(args.stack_file, imported)
    except EnvironmentBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except ImportRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.stack_file:
        print(f"merged {', '.join(k.removeprefix(NS) for k in imported)} into {args.stack_file}")
    else:
        print(yaml.safe_dump(imported, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
