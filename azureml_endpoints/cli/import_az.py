"""Turn `az ml` endpoint, deployment and compute cluster YAML files into this program's stack config and catalog entries.

    azureml-endpoints import endpoint.yml deployment.yml [deployment.yml ...] [cluster.yml] [--image IMAGE]
        [--pin NAME=VERSION] [--default-deployment NAME] [--stack-file Pulumi.<stack>.yaml]

The files are read by Microsoft's own loaders (azure-ai-ml's load_online_endpoint, load_online_deployment,
load_batch_endpoint, load_model_batch_deployment / load_batch_deployment, load_compute;
azureml_endpoints/local/aml_yaml_loader.py), run in the azure-ai-ml virtual environment under
~/.cache/azureml-endpoints/runtime/ (built on first use; azure-ai-ml cannot share the program's venv). There
is no home-made YAML reader to fall back to: a second reading of the CLI v2 schema would drift from the one
`az ml` applies, so when that environment cannot be built the command says so (exit 3).

What it writes, per file:
- an online endpoint: an `onlineEndpoints` entry; its identity is stated (SystemAssigned,
  Azure's default when the YAML names none), traffic is the YAML's or, when it names none, all of it to the
  first deployment (what `az ml online-deployment create --all-traffic` does);
- a batch endpoint: a `batchEndpoints` entry, whose `defaultDeployment` is the YAML's
  `defaults.deployment_name`, else --default-deployment, else its only deployment (a note says so);
- an amlcompute cluster: the `compute` block of the batch endpoint whose deployments name it
  (`compute: azureml:<cluster>`); without the cluster's file the deployment is refused, since az ml keeps
  the cluster elsewhere;
- a deployment: its entry under that endpoint; an inline `model: {path}` becomes a `models` entry (the YAML's
  name and version, or the model folder's name and version 1 for an anonymous model), an inline
  `environment: {image, conda_file}` an `environments` entry, `code_configuration` becomes `code` and
  `scoringScript`; `azureml:` references stay references (with `modelType`: custom_model when the deployment
  has code, mlflow_model when it has none, as `az ml` reads a no-code deployment); a label (`@latest`) is
  pinned by --pin or refused. A batch deployment's settings become the stack's keys, those the YAML leaves
  out stated as Azure ML's defaults (the stack's own differ).
Descriptions and tags with no stack key are left out with a note on stderr; every other key with no stack
equivalent is refused. Every path must lie inside the Pulumi project (`project_dir()`,
azureml_endpoints/paths.py) and is written relative to it.

Printed as YAML to paste under `config:` in Pulumi.<stack>.yaml, or merged into --stack-file (appending to its
lists; an endpoint or catalog entry of the same name is refused), written atomically. Comments of an existing
stack file are not kept by the merge: keep them by pasting the printed YAML instead.

Documented in docs/testing.md#importing-az-ml-yaml.

Exit codes: 0 converted; 1 a file has a key or value with no stack-config equivalent, an image that is not
pinned, a label without --pin, a cluster without its file or a batch endpoint without a default deployment
(the message says what to write instead); 2 bad arguments (a --pin or --default-deployment no file names),
a file the azure-ai-ml loader refuses, or a path outside the project; 3 the azure-ai-ml environment could
not be built (pip failed).
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
LABEL = re.compile(r"azureml:(?P<name>[^:@/]+)@(?P<label>[^:@/]+)")
# What Azure ML applies where a batch deployment YAML leaves a setting out (azure-ai-ml's
# ModelBatchDeploymentSettings and BatchRetrySettings, "CLI (v2) batch deployment YAML schema"), stated in the
# stack: the stack's own defaults differ (docs/batch.md), and an import must not change what the YAML meant.
AZ_ML_BATCH_DEFAULTS = {
    "mini_batch_size": 10,
    "max_concurrency_per_instance": 1,
    "output_action": "append_row",
    "output_file_name": "predictions.csv",
    "error_threshold": -1,
    "logging_level": "info",
    "max_retries": 3,
    "timeout": 30,
}
# The YAML's spelling (append_row) or the REST enum's (AppendRow), without underscores and case.
OUTPUT_ACTIONS = {"appendrow": "AppendRow", "summaryonly": "SummaryOnly"}
VM_PRIORITIES = {"dedicated": "Dedicated", "low_priority": "LowPriority"}


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


def model_name(model: str) -> str:
    """The name in a deployment's `model` value (<name>:<version>, azureml:<name>:<version> or a registry URI)."""
    if model.startswith("azureml://"):
        return model.split("/models/", 1)[-1].split("/", 1)[0]
    return model.removeprefix("azureml:").split(":", 1)[0]


def environment_variables(d: dict) -> dict:
    """A deployment's environment_variables as the stack takes them (strings), or nothing."""
    variables = d.get("environment_variables")
    return {"environmentVariables": {k: str(v) for k, v in variables.items()}} if variables else {}


class Converter:
    """Collects the stack config the files describe."""

    def __init__(self, project: Path, image: str | None, pins: dict[str, str], defaults: list[str]):
        self.project, self.image, self.pins, self.defaults = project, image, pins, defaults
        self.models: list[dict] = []
        self.environments: list[dict] = []
        self.online: dict[str, dict] = {}
        self.batch: dict[str, dict] = {}
        self.clusters: dict[str, dict] = {}
        self.used_pins: set[str] = set()
        self.notes: list[str] = []

    def pinned(self, reference: str, file: str, key: str, lister: str) -> str:
        """A reference as the stack takes it: a label (@latest) resolves to whatever is newest when the stack runs,
        so it is pinned with --pin or refused saying what to write."""
        label = LABEL.fullmatch(reference)
        if not label:
            return reference
        name = label["name"]
        if name not in self.pins:
            raise ImportRefused(
                f"{file}: {key} {reference} is a label, which changes under an unchanged stack: pass --pin {name}=<version> "
                f"(`{lister} {name}` shows the versions), or write {key}: azureml:{name}:<version>"
            )
        self.used_pins.add(name)
        return f"azureml:{name}:{self.pins[name]}"

    def dropped(self, item: dict, what: str) -> None:
        """Said, not refused: a description or tags change nothing the endpoint does."""
        if item.get("description") and what != "endpoint":
            self.notes.append(f"{item['file']}: description not imported: a stack {what} has no description key")
        if item.get("tags"):
            self.notes.append(f"{item['file']}: tags not imported: the program sets its own tags on what it creates")

    def batch_endpoint(self, e: dict) -> None:
        if e["auth_mode"] != "aad_token":
            raise ImportRefused(
                f"{e['file']}: auth_mode {e['auth_mode']}: batch endpoints take Entra tokens only: write aad_token or remove it"
            )
        if e.get("properties"):
            raise ImportRefused(
                f"{e['file']}: properties {', '.join(e['properties'])} has no stack equivalent (component deployments are not "
                "supported here): remove it"
            )
        self.dropped(e, "endpoint")
        entry: dict = {"name": e["name"]}
        if e.get("description"):
            entry["description"] = e["description"]
        self.batch[e["name"]] = {"entry": entry, "file": e["file"], "default": e.get("default_deployment"), "deployments": []}

    def cluster(self, c: dict) -> None:
        """An amlcompute YAML as the batch endpoint's `compute` block, keyed by the cluster's name."""
        f = c["file"]
        if c["type"] != "amlcompute":
            raise ImportRefused(f"{f}: type {c['type']}: batch deployments run on an amlcompute cluster")
        if c.get("location"):
            raise ImportRefused(
                f"{f}: location {c['location']} has no stack equivalent: the cluster is created in the workspace's location; remove it"
            )
        if c["ssh_settings"]:
            raise ImportRefused(
                f"{f}: ssh_settings has no stack equivalent: the program's clusters take no SSH credentials (local authentication "
                "disabled, docs/batch.md); remove it"
            )
        if c["network"]:
            raise ImportRefused(
                f"{f}: network_settings has no stack equivalent: the program puts no cluster in a subnet (a managed network "
                "isolates it, docs/private-networking.md); remove it"
            )
        if not c["enable_node_public_ip"]:
            raise ImportRefused(
                f"{f}: enable_node_public_ip false has no stack equivalent: without a subnet Azure requires node public IPs, "
                "and in a managed network the program sends false itself; remove it"
            )
        if c["identity_type"] and c["identity_type"] != "system_assigned":
            raise ImportRefused(
                f"{f}: identity.type {c['identity_type']} names identities by resource id; this program creates the identities: "
                "write identity: {type: UserAssigned, userAssignedIdentityNames: [<name>]} in the stack instead"
            )
        if not c["identity_type"]:
            self.notes.append(
                f"{f}: identity: SystemAssigned stated (the YAML names none): the cluster's identity reads the data and pulls the image"
            )
        self.dropped(c, "cluster")
        cluster = {
            "name": c["name"],
            "vmSize": c["vm_size"],
            "minNodes": c["min_instances"],
            "maxNodes": c["max_instances"],
            "idleSecondsBeforeScaleDown": c["idle_time_before_scale_down"],
            "vmPriority": VM_PRIORITIES[c.get("tier") or "dedicated"],
            "remoteLoginPortPublicAccess": c["remote_login_port_public_access"],
            "identity": {"type": "SystemAssigned"},
        }
        self.clusters[c["name"]] = {k: v for k, v in cluster.items() if v is not None}

    def batch_deployment(self, d: dict) -> None:
        f = d["file"]
        if d.get("deployment_type") == "pipeline":
            raise ImportRefused(
                f"{f}: type pipeline: a pipeline component deployment has no stack equivalent; only model deployments are imported"
            )
        if d["endpoint_name"] not in self.batch:
            raise ImportRefused(
                f"{f}: endpoint_name {d['endpoint_name']} is none of the batch endpoint files given ({', '.join(self.batch) or 'none'})"
            )
        if d.get("properties"):
            raise ImportRefused(f"{f}: properties {', '.join(d['properties'])} has no stack equivalent: remove it")
        endpoint = self.batch[d["endpoint_name"]]
        if not d.get("compute"):
            raise ImportRefused(f"{f}: compute is missing: name the cluster (compute: azureml:<cluster>) and pass its compute YAML")
        name = str(d["compute"]).removeprefix("azureml:").rsplit("/", 1)[-1]
        if name not in self.clusters:
            raise ImportRefused(
                f"{f}: compute azureml:{name} is a cluster defined elsewhere: pass its compute YAML among the files "
                f"(az ml compute create -f; given: {', '.join(self.clusters) or 'none'}), or write compute: on the batch endpoint by hand (docs/batch.md)"
            )
        if endpoint["entry"].setdefault("compute", self.clusters[name])["name"] != name:
            raise ImportRefused(
                f"{f}: compute azureml:{name}: another deployment of {d['endpoint_name']} runs on {endpoint['entry']['compute']['name']}; "
                "a stack's batch endpoint has one cluster for all its deployments"
            )
        self.dropped(d, "batch deployment")
        entry: dict = {"name": d["name"], **self.runs(d), "instanceCount": d["instance_count"] or 1}
        s = {k: AZ_ML_BATCH_DEFAULTS[k] if v is None else v for k, v in d["settings"].items()}
        stated = [k for k, v in d["settings"].items() if v is None]
        if stated:
            self.notes.append(f"{f}: {', '.join(stated)} stated as Azure ML's defaults (the YAML names none; the stack's own differ)")
        entry.update(
            miniBatchSize=s["mini_batch_size"],
            maxConcurrencyPerInstance=s["max_concurrency_per_instance"],
            outputAction=OUTPUT_ACTIONS[str(s["output_action"]).replace("_", "").lower()],
            outputFileName=s["output_file_name"],
            retrySettings={"maxRetries": s["max_retries"], "timeout": f"PT{int(s['timeout'])}S"},
            errorThreshold=s["error_threshold"],
            loggingLevel=str(s["logging_level"]).capitalize(),
        )
        endpoint["deployments"].append({**entry, **environment_variables(d)})

    def default_deployment(self, name: str, endpoint: dict) -> str:
        names = [d["name"] for d in endpoint["deployments"]]
        chosen = [n for n in self.defaults if n in names]
        if chosen:
            return chosen[0]
        if endpoint["default"]:
            if endpoint["default"] not in names:
                raise ImportRefused(
                    f"{endpoint['file']}: defaults.deployment_name {endpoint['default']} is none of the deployment files given ({', '.join(names)})"
                )
            return endpoint["default"]
        if len(names) == 1:
            self.notes.append(f"{endpoint['file']}: defaultDeployment {names[0]}, its only deployment (the YAML names none)")
            return names[0]
        raise ImportRefused(
            f"{endpoint['file']}: defaults.deployment_name is missing and {name} has {len(names)} deployments ({', '.join(names)}): "
            "pass --default-deployment <name> (what az ml batch-deployment create --set-default does)"
        )

    def endpoint(self, e: dict) -> None:
        self.dropped(e, "endpoint")
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
            reference = self.pinned(model, d["file"], "model", "az ml model list --name")
            model_type = "custom_model" if d.get("code") else "mlflow_model"
            if d.get("code"):
                # An MLflow model may run with a scoring script too: the YAML does not say which the registered one is.
                self.notes.append(
                    f"{d['file']}: modelType custom_model for {reference} (the YAML has code but not the registered model's "
                    "type): write mlflow_model if `az ml model show` says so"
                )
            return reference, model_type
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

    def environment(self, d: dict, model: str) -> str | None:
        env = d["environment"]
        if env is None:
            return None
        if isinstance(env, str):
            return self.pinned(env, d["file"], "environment", "az ml environment list --name")
        if not env.get("image"):
            raise ImportRefused(
                f"{d['file']}: environment.build (a Docker context) has no stack equivalent: write environment.image and conda_file"
            )
        name = env["name"] if not ANONYMOUS.fullmatch(env["name"] or "") else f"{model}-env"
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
        self.dropped(d, "deployment")
        entry = {"name": d["name"], "instanceType": d["instance_type"], "instanceCount": d["instance_count"] or 1, **self.runs(d)}
        endpoints[d["endpoint_name"]]["deployments"].append({**entry, **environment_variables(d)})

    def runs(self, d: dict) -> dict:
        """What an online or batch deployment runs: model (and its type when referenced), code, script, environment."""
        model, model_type = self.model(d)
        entry: dict = {"model": model}
        if model.startswith("azureml:"):
            entry["modelType"] = model_type
        if d.get("code"):
            entry.update(
                code=project_path(d["code"], d["file"], "code_configuration.code", self.project), scoringScript=d["scoring_script"]
            )
        environment = self.environment(d, model_name(model))
        if environment:
            entry["environment"] = environment
        return entry

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
        batch = []
        for name, endpoint in self.batch.items():
            if not endpoint["deployments"]:
                raise ImportRefused(f"{endpoint['file']}: no deployment file names batch endpoint {name}: give at least one")
            batch.append(
                {**endpoint["entry"], "deployments": endpoint["deployments"], "defaultDeployment": self.default_deployment(name, endpoint)}
            )
        if batch:
            out[NS + "batchEndpoints"] = batch
        unused = [f"--pin {p}" for p in self.pins if p not in self.used_pins] + [
            f"--default-deployment {n}"
            for n in self.defaults
            if not any(n in [d["name"] for d in e["deployments"]] for e in self.batch.values())
        ]
        if unused:
            raise ValueError(f"{', '.join(unused)}: no file given names it")
        return out


def convert(
    loaded: list[dict],
    project: Path | None = None,
    image: str | None = None,
    pins: dict[str, str] | None = None,
    defaults: list[str] | None = None,
) -> tuple[dict, list[str]]:
    """(stack config `azureml-endpoints:<key>` -> value, notes on what was stated or left out) from what the
    loader read; endpoints and clusters before the deployments that name them."""
    converter = Converter(project or project_dir(), image, pins or {}, defaults or [])
    for item in loaded:
        if "error" in item:
            raise ValueError(f"{item['file']}: azure-ai-ml refuses it: {item['error']}")
    handlers = {
        "online_endpoint": converter.endpoint,
        "batch_endpoint": converter.batch_endpoint,
        "compute": converter.cluster,
        "online_deployment": converter.deployment,
        "batch_deployment": converter.batch_deployment,
    }
    order = list(handlers)
    for item in sorted(loaded, key=lambda i: order.index(i["kind"])):
        handlers[item["kind"]](item)
    return converter.config(), converter.notes


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
        epilog="Exit codes: 0 converted; 1 a key or value has no stack equivalent (the message says what to write: --image, --pin, the cluster's compute YAML, --default-deployment); 2 bad arguments, a file azure-ai-ml refuses, or a path outside the project; 3 the azure-ai-ml environment could not be built.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        help="az ml endpoint YAML files, the deployment YAML files under them, and the amlcompute YAML of a batch deployment's cluster",
    )
    parser.add_argument("--image", help="the pinned base image to use where a file names an unpinned one (:latest)")
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NAME=VERSION",
        help="the version to write where a file names azureml:NAME@latest (a model or environment); repeatable",
    )
    parser.add_argument(
        "--default-deployment",
        action="append",
        default=[],
        metavar="NAME",
        help="the deployment a batch endpoint invokes by default (where its YAML names no defaults.deployment_name, or instead of it); repeatable",
    )
    parser.add_argument("--stack-file", type=Path, help="merge into this Pulumi.<stack>.yaml instead of printing")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    bad = [p for p in args.pin if not re.fullmatch(r"[^=:@/]+=[0-9A-Za-z][0-9A-Za-z._-]*", p)]
    if bad:
        print(f"error: --pin {bad[0]}: write NAME=VERSION, e.g. --pin heart-classifier-mlflow=1", file=sys.stderr)
        return 2
    try:
        imported, notes = convert(
            load(args.files), image=args.image, pins=dict(p.split("=", 1) for p in args.pin), defaults=args.default_deployment
        )
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
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.stack_file:
        print(f"merged {', '.join(k.removeprefix(NS) for k in imported)} into {args.stack_file}")
    else:
        print(yaml.safe_dump(imported, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
