"""Reads `az ml` endpoint and deployment YAML files with Microsoft's own loaders, for `azureml-endpoints import`.

Runs in the azure-ai-ml virtual environment (azure-ai-ml cannot join the program's venv: its opentelemetry
pins clash with pulumi's): `python aml_yaml_loader.py <file>...`. Each file is loaded by the azure-ai-ml
loader its `$schema` names (load_online_endpoint, load_online_deployment, load_batch_endpoint, load_compute;
a batch deployment by its `type`, as Microsoft's azure.azcollection batch deployment module picks:
load_model_batch_deployment for `type: model`, whose `settings:` block load_batch_deployment refuses,
load_batch_deployment for the classic flat form), which validates it against the CLI v2 schema and resolves
its relative paths against the file's folder, as `az ml ... create -f` does. Prints one JSON list: per file
its kind and the fields the importer maps, or {"file", "error"} for a file the loader refuses.
"""

import json
import sys
from pathlib import Path

import yaml
from azure.ai.ml import load_batch_deployment, load_batch_endpoint, load_compute, load_online_deployment, load_online_endpoint
from azure.ai.ml.entities import Environment, Model
from azure.ai.ml.entities._load_functions import load_model_batch_deployment

LOADERS = {
    "managedOnlineEndpoint": ("online_endpoint", load_online_endpoint),
    "managedOnlineDeployment": ("online_deployment", load_online_deployment),
    "batchEndpoint": ("batch_endpoint", load_batch_endpoint),
    "modelBatchDeployment": ("batch_deployment", load_batch_deployment),
    "batchDeployment": ("batch_deployment", load_batch_deployment),
    "amlCompute": ("compute", load_compute),
}


def absolute(base: Path, path) -> str | None:
    if path is None:
        return None
    if str(path).startswith(("azureml:", "http://", "https://")):
        return str(path)
    return str((base / str(path)).resolve())


def asset(value, base: Path):
    """A model or environment: a reference (azureml:, which the loaders strip from a name reference, put back),
    or the inline definition with absolute paths."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.startswith("azureml:") else f"azureml:{value}"
    if isinstance(value, Model):
        return {
            "name": value.name,
            "version": value.version,
            "path": absolute(base, value.path),
            "type": value.type,
            "description": value.description,
        }
    if isinstance(value, Environment):
        conda = getattr(value, "_conda_file_path", None)
        return {"name": value.name, "version": value.version, "image": value.image, "conda_file": absolute(base, conda) if conda else None}
    return str(value)


def settings_of(d) -> dict:
    s = getattr(d, "settings", None) or d
    retry = getattr(s, "retry_settings", None)
    return {
        "mini_batch_size": getattr(s, "mini_batch_size", None),
        "max_concurrency_per_instance": getattr(s, "max_concurrency_per_instance", None),
        "output_action": getattr(s, "output_action", None),
        "output_file_name": getattr(s, "output_file_name", None),
        "error_threshold": getattr(s, "error_threshold", None),
        "logging_level": getattr(s, "logging_level", None),
        "max_retries": getattr(retry, "max_retries", None) if retry else None,
        "timeout": getattr(retry, "timeout", None) if retry else None,
        "environment_variables": getattr(s, "environment_variables", None),
    }


def compute(entity, out: dict) -> dict:
    """An amlcompute cluster: its keys as the YAML read, the VM size and SSH access as azure-ai-ml sends them
    (its defaults filled in: a file without `size` gets the SDK's STANDARD_DS3_V2)."""
    rest = entity._to_rest_object().as_dict()["properties"]
    identity = entity.identity
    out.update(
        type=entity.type,
        location=entity.location,
        vm_size=rest["properties"]["vmSize"],
        min_instances=entity.min_instances,
        max_instances=entity.max_instances,
        idle_time_before_scale_down=entity.idle_time_before_scale_down,
        tier=entity.tier,
        remote_login_port_public_access=rest["properties"].get("remoteLoginPortPublicAccess"),
        enable_node_public_ip=entity.enable_node_public_ip,
        ssh_settings=entity.ssh_settings is not None,
        network=bool(entity.network_settings and (entity.network_settings.subnet or entity.network_settings.vnet_name))
        or bool(getattr(entity, "subnet", None)),
        identity_type=identity.type if identity else None,
    )
    return out


def describe(path: Path) -> dict:
    document = yaml.safe_load(path.read_text()) or {}
    schema = str(document.get("$schema", ""))
    name = schema.rsplit("/", 1)[-1].removesuffix(".schema.json")
    if name not in LOADERS:
        return {
            "file": str(path),
            "error": f"$schema {schema or '(none)'} names no endpoint, deployment or compute schema this importer reads ({', '.join(LOADERS)})",
        }
    kind, load = LOADERS[name]
    deployment_type = str(document.get("type", "")) if kind == "batch_deployment" else ""
    if deployment_type == "pipeline":
        return {"file": str(path), "kind": kind, "deployment_type": deployment_type}
    entity = (load_model_batch_deployment if deployment_type == "model" else load)(source=str(path))
    base = path.parent.resolve()
    out = {"file": str(path), "kind": kind, "name": entity.name, "description": entity.description, "tags": dict(entity.tags or {})}
    if kind == "compute":
        return compute(entity, out)
    if kind == "batch_endpoint":
        defaults = entity.defaults
        default = getattr(defaults, "deployment_name", None) or (getattr(defaults, "_data", None) or {}).get("deploymentName")
        out.update(auth_mode=entity.auth_mode, default_deployment=default, properties=dict(entity.properties or {}))
        return out
    if kind.endswith("endpoint"):
        identity = entity.identity
        out.update(
            auth_mode=entity.auth_mode,
            identity_type=identity.type if identity else None,
            traffic=dict(getattr(entity, "traffic", None) or {}),
            public_network_access=getattr(entity, "public_network_access", None),
        )
        return out
    code = entity.code_configuration
    out.update(
        endpoint_name=entity.endpoint_name,
        model=asset(entity.model, base),
        environment=asset(entity.environment, base),
        code=absolute(base, code.code) if code and code.code else None,
        scoring_script=code.scoring_script if code else None,
        environment_variables=dict(getattr(entity, "environment_variables", None) or {}),
    )
    if kind == "online_deployment":
        out.update(
            instance_type=entity.instance_type, instance_count=entity.instance_count, app_insights_enabled=entity.app_insights_enabled
        )
    else:
        resources, settings = entity.resources, settings_of(entity)
        # A model deployment keeps its environment variables under settings, the classic form at the top.
        out["environment_variables"] = dict(settings.pop("environment_variables") or {}) or out["environment_variables"]
        out.update(
            compute=entity.compute,
            instance_count=resources.instance_count if resources else None,
            settings=settings,
            properties=dict(entity.properties or {}),
        )
    return out


def main(paths: list[str]) -> None:
    results = []
    for path in paths:
        try:
            results.append(describe(Path(path)))
        except Exception as error:  # noqa: BLE001 the loader's own message (schema validation) is the answer
            results.append({"file": path, "error": f"{type(error).__name__}: {error}"})
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
