"""What online and batch endpoints (and the workspace) share: identity kinds, network access, name checks."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import Field, ValidationInfo

from azureml_endpoints.config.base import ConfigModel, quote, unique_ignoring_case

MODEL_KEY_HELP = (
    "Required. An entry of models (<name> or <name>:<version>), azureml:<name>:<version> (registered), or "
    "azureml://registries/<registry>/models/<name>/versions/<version>"
)
MODEL_TYPE_HELP = "custom_model or mlflow_model; required for an azureml: or registry model (the models entry states its own)."
CODE_KEY_HELP = "Project folder with the scoring code; default the model's models entry's code."
SCORING_SCRIPT_HELP = "The script that defines init() and run(), relative to code (subfolders allowed); default the models entry's."
ENVIRONMENT_KEY_HELP = (
    "azureml:<name>:<version>, azureml://registries/<registry>/environments/<name>/versions/<version>, "
    "or an entry of environments; default the models entry's environment"
)
# `az ml` deployment YAML keys ("CLI (v2) managed online deployment YAML schema", "CLI (v2) batch deployment
# YAML schema") that mean something else in a stack, with what to write instead. Keys that are only spelled
# differently (instance_type) are caught for every model by ConfigModel.
AZ_ML_DEPLOYMENT_KEYS = {
    "endpoint_name": "remove it: a deployment belongs to the endpoint it is listed under",
    "app_insights_enabled": "write monitoring.appInsightsEnabled on the stack instead",
    "scale_settings": "write instanceCount, or autoscale (Azure Monitor autoscale), instead",
    "compute": "write compute on the batch endpoint instead (its deployments run on the endpoint's cluster)",
    "resources": "write instanceCount instead (the cluster's vmSize is the batch endpoint's compute)",
    "$schema": "remove it: stack config is validated by this product, not by the az ml schema",
}
# Variables the program sets on every deployment; a stack may not override them.
RESERVED_ENV_VARS = ("STORAGE_ACCOUNT_NAME", "STORAGE_CONTAINER_NAME", "FILE_NAME", "STORAGE_BLOB_ENDPOINT", "UAI_CLIENT_ID")


class IdentityType(str, Enum):
    SYSTEM_ASSIGNED = "SystemAssigned"
    USER_ASSIGNED = "UserAssigned"


class PublicNetworkAccess(str, Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


def deployment_names_unique(deployments: list) -> list:
    unique_ignoring_case([d.name for d in deployments], "deployment names must be unique")
    return deployments


def names_exist(split: dict[str, int], info: ValidationInfo) -> None:
    """Every deployment a traffic split (or default deployment) names is a deployment of the endpoint."""
    deployments = info.data.get("deployments")
    if deployments is None:  # deployments failed validation; that error is reported already
        return
    known = {d.name for d in deployments}
    unknown = sorted(set(split) - known)
    if unknown:
        raise ValueError(f"names deployments that do not exist: {', '.join(map(quote, unknown))} (deployments: {', '.join(sorted(known))})")


class AzMlCodeConfiguration(ConfigModel):
    """`az ml`'s code_configuration, as pasted from deployment YAML: declared so that the stack schema and the
    reference know the spelling; `az_ml_deployment_spellings` reads it as code and scoringScript before validation."""

    code: str = Field(description="The project folder with the scoring code (the deployment's code).")
    scoring_script: str = Field(alias="scoring_script", description="The script in code (the deployment's scoringScript).")


def code_configuration_field() -> Any:
    """A deployment's `code_configuration` key: always read as code and scoringScript, so never set once validated."""
    return Field(
        None,
        alias="code_configuration",
        exclude=True,
        description="az ml's spelling of code and scoringScript ({code, scoring_script}), read as those keys; not with them.",
    )


def az_ml_deployment_spellings(data: Any) -> Any:
    """`code_configuration: {code, scoring_script}` read as code and scoringScript (az ml YAML pasted into a stack);
    other az ml keys with a stack equivalent refused, saying what to write instead."""
    if not isinstance(data, Mapping):
        return data
    for key, instead in AZ_ML_DEPLOYMENT_KEYS.items():
        if key in data:
            raise ValueError(f"{key}: an az ml deployment key; {instead}")
    if isinstance(data.get("model"), Mapping):
        raise ValueError(
            "model: an inline model ({path: ...}) is a models entry here: add {name, version, path, type} under models "
            "and write model: <name>:<version>"
        )
    if "code_configuration" not in data:
        return data
    configuration = data["code_configuration"]
    given = [k for k in ("code", "scoringScript", "scoring_script") if k in data]
    if given:
        raise ValueError(f"code_configuration: also {', '.join(given)} given; write either code_configuration or code and scoringScript")
    if not isinstance(configuration, Mapping) or set(configuration) - {"code", "scoring_script", "scoringScript"}:
        raise ValueError("code_configuration: is {code: <project folder>, scoring_script: <file in it>}")
    code = configuration.get("code")
    if isinstance(code, str) and code.startswith("azureml:"):
        raise ValueError(
            "code_configuration.code: a registered code asset is not deployed from here; name the project folder it was made from"
        )
    rest = {k: v for k, v in data.items() if k != "code_configuration"}
    script = configuration.get("scoring_script", configuration.get("scoringScript"))
    return {**rest, **({"code": code} if code is not None else {}), **({"scoringScript": script} if script is not None else {})}
