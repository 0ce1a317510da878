"""What online and batch endpoints (and the workspace) share: identity kinds, network access, name checks."""

from __future__ import annotations

from enum import Enum

from pydantic import ValidationInfo

from azureml_endpoints.config.base import quote, unique_ignoring_case

MODEL_KEY_HELP = (
    "azureml:<name>:<version> (registered), azureml://registries/<registry>/models/<name>/versions/<version>, "
    "or an entry of models (<name> or <name>:<version>); default the shipped sample model"
)
ENVIRONMENT_KEY_HELP = (
    "azureml:<name>:<version>, azureml://registries/<registry>/environments/<name>/versions/<version>, "
    "or an entry of environments; default the shipped environment"
)
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
