"""Typed stack settings: the stack's config read once, validated against Azure's rules, passed down.

Every rule here is one Azure (or product) rule; a violation is reported with the full config key
(`azureml-endpoints:onlineEndpoints[0].deployments[1].instanceCount`) before any resource exists.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.skus import ONLINE_SKUS, sku_cores

CONFIG_NAMESPACE = "azureml-endpoints"
ONLINE_SCORING_DIR = Path(__file__).resolve().parent.parent / "ml" / "onlinescoring"
DATA_DIR = Path(__file__).resolve().parent.parent / "ml" / "data"

# Names Azure accepts, from the resource providers' naming rules.
ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32, letter first, no trailing '-'
DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32
WORKSPACE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
RESOURCE_GROUP_NAME = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
USER_ASSIGNED_IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
STORAGE_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
BLOB_CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
ISO8601_DURATION = re.compile(r"^PT(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?$")
ARM_REGISTRY_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.ContainerRegistry/registries/[a-zA-Z0-9]{5,50}$"
)
TAG_KEY = re.compile(r"^[^<>%&\\?/]{1,512}$")

# Variables the program sets on every deployment; a stack may not override them.
RESERVED_ENV_VARS = ("STORAGE_ACCOUNT_NAME", "STORAGE_CONTAINER_NAME", "FILE_NAME", "STORAGE_BLOB_ENDPOINT", "UAI_CLIENT_ID")


class SettingsError(Exception):
    """A stack config that breaks a rule; the message names each offending key."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _duration(value: Optional[str]) -> Optional[str]:
    if value is not None and not ISO8601_DURATION.match(value):
        raise ValueError(f"'{value}' is not an ISO 8601 duration such as PT5S or PT1M30S")
    return value


def _check(pattern: re.Pattern, rule: str):
    def validate(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' is not valid: {rule}")
        return value

    return validate


class Environment(str, Enum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class IdentityType(str, Enum):
    SYSTEM_ASSIGNED = "SystemAssigned"
    USER_ASSIGNED = "UserAssigned"


class AuthMode(str, Enum):
    KEY = "Key"
    AML_TOKEN = "AMLToken"
    AAD_TOKEN = "AADToken"


class PublicNetworkAccess(str, Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


class Workspace(_Model):
    name: str = Field(description="Existing Azure ML workspace name.")
    resource_group: str = Field(description="Resource group of the workspace.")
    container_registry_id: Optional[str] = Field(
        None,
        description="ARM id of the workspace's container registry; only needed when the workspace has none yet "
        "(Azure creates it lazily on the first image build).",
    )

    _name = field_validator("name")(_check(WORKSPACE_NAME, "3-33 letters, digits, '-' or '_', starting alphanumeric"))
    _rg = field_validator("resource_group")(
        _check(RESOURCE_GROUP_NAME, "1-90 letters, digits, '-', '_', '.', '(', ')', not ending in '.'")
    )
    _acr = field_validator("container_registry_id")(
        _check(ARM_REGISTRY_ID, "a full ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>")
    )


class DataStorage(_Model):
    account_name: str = Field(description="Storage account for the data the scoring script reads (globally unique).")
    container_name: str = Field("data", description="Private blob container the files are uploaded to.")
    file_name: str = Field("hello.txt", description="File from ml/data uploaded as the blob the scoring script reads (FILE_NAME).")

    _account = field_validator("account_name")(_check(STORAGE_ACCOUNT_NAME, "3-24 lowercase letters and digits"))
    _container = field_validator("container_name")(
        _check(BLOB_CONTAINER_NAME, "3-63 lowercase letters, digits and single '-', starting and ending alphanumeric")
    )

    @field_validator("file_name")
    @classmethod
    def _file_exists(cls, value: str) -> str:
        if "/" in value or "\\" in value or not (DATA_DIR / value).is_file():
            shipped = sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())
            raise ValueError(f"'{value}' must name a file in ml/data (shipped: {', '.join(shipped)})")
        return value


class Identity(_Model):
    type: IdentityType = Field(description="SystemAssigned (created with the endpoint) or UserAssigned (created first).")
    user_assigned_identity_name: Optional[str] = Field(
        None, description="Name of the user-assigned identity the program creates; required for UserAssigned only."
    )

    _uai = field_validator("user_assigned_identity_name")(
        _check(USER_ASSIGNED_IDENTITY_NAME, "3-128 letters, digits, '-' or '_', starting alphanumeric")
    )

    @model_validator(mode="after")
    def _fields_match_type(self) -> "Identity":
        if self.type is IdentityType.USER_ASSIGNED and not self.user_assigned_identity_name:
            raise ValueError("userAssignedIdentityName is required when type is UserAssigned")
        if self.type is IdentityType.SYSTEM_ASSIGNED and self.user_assigned_identity_name:
            raise ValueError("userAssignedIdentityName must not be set when type is SystemAssigned")
        return self


class RequestSettings(_Model):
    request_timeout: Optional[str] = Field(None, description="ISO 8601 duration, e.g. PT5S (Azure allows up to PT3M).")
    max_concurrent_requests_per_instance: Optional[int] = Field(None, ge=1, le=1000, description="Requests one instance serves at once.")
    max_queue_wait: Optional[str] = Field(None, description="ISO 8601 duration a request may wait in the queue.")

    _durations = field_validator("request_timeout", "max_queue_wait")(_duration)


class Probe(_Model):
    initial_delay: Optional[str] = Field(None, description="ISO 8601 duration before the first probe.")
    period: Optional[str] = Field(None, description="ISO 8601 duration between probes.")
    timeout: Optional[str] = Field(None, description="ISO 8601 duration one probe may take.")
    failure_threshold: Optional[int] = Field(None, ge=1, le=100, description="Failures before the instance is unhealthy.")
    success_threshold: Optional[int] = Field(None, ge=1, le=100, description="Successes before the instance is healthy.")

    _durations = field_validator("initial_delay", "period", "timeout")(_duration)


class OnlineDeployment(_Model):
    name: str = Field(description="Deployment name, e.g. blue or green.")
    instance_type: str = Field(description="Managed online endpoint VM SKU, e.g. Standard_DS3_v2.")
    instance_count: int = Field(ge=1, le=100, description="Instances (the deployment sku capacity); 3 or more for high availability.")
    scoring_script: str = Field("score_managedidentity.py", description="Scoring script in ml/onlinescoring.")
    request_settings: Optional[RequestSettings] = None
    liveness_probe: Optional[Probe] = None
    readiness_probe: Optional[Probe] = None
    environment_variables: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")

    _name = field_validator("name")(_check(DEPLOYMENT_NAME, "3-32 letters, digits or '-', starting and ending alphanumeric"))

    @field_validator("instance_type")
    @classmethod
    def _known_sku(cls, value: str) -> str:
        if sku_cores(value) is None:
            raise ValueError(f"'{value}' is not a managed online endpoint SKU this product knows ({', '.join(ONLINE_SKUS)})")
        return value

    @field_validator("scoring_script")
    @classmethod
    def _script_exists(cls, value: str) -> str:
        if "/" in value or not (ONLINE_SCORING_DIR / value).is_file():
            raise ValueError(f"'{value}' must name a script in ml/onlinescoring")
        return value

    @field_validator("environment_variables")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        clash = sorted(set(value) & set(RESERVED_ENV_VARS))
        if clash:
            raise ValueError(f"{', '.join(clash)} are set by the program and cannot be overridden")
        return value


class OnlineEndpoint(_Model):
    name: str = Field(description="Endpoint name, unique in the Azure region.")
    identity: Identity = Field(description="Endpoint identity; immutable once the endpoint exists.")
    auth_mode: AuthMode = Field(description="Key, AMLToken or AADToken (Entra).")
    public_network_access: Optional[PublicNetworkAccess] = Field(None, description="Enabled or Disabled; prod must state it.")
    protect: bool = Field(False, description="Protect the endpoint from deletion and replacement (always on in prod).")
    description: Optional[str] = None
    deployments: list[OnlineDeployment] = Field(min_length=1, description="Deployments of the endpoint.")
    traffic: dict[str, int] = Field(description="Live traffic per deployment in percent; integers summing to 100.")
    mirror_traffic: dict[str, int] = Field(default_factory=dict, description="Mirrored traffic per deployment in percent.")

    _name = field_validator("name")(_check(ENDPOINT_NAME, "3-32 letters, digits or '-', starting with a letter, not ending in '-'"))

    @field_validator("deployments")
    @classmethod
    def _unique_deployments(cls, value: list[OnlineDeployment]) -> list[OnlineDeployment]:
        names = [d.name.lower() for d in value]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"deployment names must be unique (repeated: {', '.join(duplicated)})")
        return value

    @field_validator("traffic", "mirror_traffic", mode="before")
    @classmethod
    def _integer_percentages(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for name, percent in value.items():
                if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
                    raise ValueError(f"'{name}': {percent!r} must be an integer from 0 to 100")
        return value

    @field_validator("traffic")
    @classmethod
    def _traffic(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        _names_exist(value, info)
        if sum(value.values()) != 100:
            raise ValueError(f"percentages must sum to 100 (they sum to {sum(value.values())})")
        return value

    @field_validator("mirror_traffic")
    @classmethod
    def _mirror(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        _names_exist(value, info)
        if sum(value.values()) > 50:
            raise ValueError(f"mirrored traffic may total at most 50 percent (it totals {sum(value.values())})")
        live = info.data.get("traffic") or {}
        serving = sorted(n for n, p in value.items() if p and live.get(n))
        if serving:
            raise ValueError(f"{', '.join(serving)} already receive live traffic; mirror only to a deployment with 0 live traffic")
        return value


def _names_exist(split: dict[str, int], info: ValidationInfo) -> None:
    deployments = info.data.get("deployments")
    if deployments is None:  # deployments failed validation; that error is reported already
        return
    known = {d.name for d in deployments}
    unknown = sorted(set(split) - known)
    if unknown:
        raise ValueError(f"names deployments that do not exist: {', '.join(unknown)} (deployments: {', '.join(sorted(known))})")


class StackSettings(_Model):
    environment: Environment = Field(description="dev, staging or prod; prod always protects endpoints.")
    tags: dict[str, str] = Field(description="Tags on every taggable resource; must include owner.")
    workspace: Workspace
    data_storage: DataStorage
    role_propagation_seconds: int = Field(
        120, ge=0, le=900, description="Wait after role assignments before deployments start (Azure RBAC propagation)."
    )
    online_endpoints: list[OnlineEndpoint] = Field(min_length=1, description="Managed online endpoints.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("owner"):
            raise ValueError("must include a non-empty owner")
        bad = sorted(k for k in value if not TAG_KEY.match(k))
        if bad:
            raise ValueError(f"tag names may not contain < > % & \\ ? / ({', '.join(bad)})")
        long_values = sorted(k for k, v in value.items() if len(v) > 256)
        if long_values:
            raise ValueError(f"tag values are at most 256 characters ({', '.join(long_values)})")
        return value

    @field_validator("online_endpoints")
    @classmethod
    def _unique_endpoints(cls, value: list[OnlineEndpoint]) -> list[OnlineEndpoint]:
        names = [e.name.lower() for e in value]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"endpoint names must be unique (repeated: {', '.join(duplicated)})")
        return value

    @model_validator(mode="after")
    def _identity_names_unique(self) -> "StackSettings":
        uai = [e.identity.user_assigned_identity_name for e in self.online_endpoints if e.identity.user_assigned_identity_name]
        duplicated = sorted({n for n in uai if uai.count(n) > 1})
        if duplicated:
            raise ValueError(
                f"onlineEndpoints: each user-assigned identity belongs to one endpoint (shared: {', '.join(duplicated)})"
            )
        return self

    def tags_for(self, stack: str) -> dict[str, str]:
        """The tags every taggable resource carries."""
        return {**self.tags, "environment": self.environment.value, "stack": stack, "managed-by": "pulumi"}

    def is_protected(self, endpoint: OnlineEndpoint) -> bool:
        return endpoint.protect or self.environment is Environment.PROD


def config_key(location: tuple) -> str:
    """`('onlineEndpoints', 0, 'traffic')` -> `azureml-endpoints:onlineEndpoints[0].traffic`."""
    key = CONFIG_NAMESPACE + ":"
    for i, part in enumerate(location):
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += ("." if i else "") + str(part)
    return key


def parse_settings(raw: Mapping[str, Any]) -> StackSettings:
    """Validates raw config values (keys without the namespace) into settings, or raises SettingsError."""
    try:
        return StackSettings.model_validate(dict(raw))
    except ValidationError as error:
        lines = []
        for e in error.errors():
            location = e["loc"]
            message = e["msg"].removeprefix("Value error, ")
            if e["type"] == "missing":
                message = "is required"
            elif e["type"] == "extra_forbidden":
                message = "is not a known setting (check the spelling against Pulumi.yaml)"
            lines.append(f"{config_key(location)}: {message}")
        raise SettingsError("invalid stack config:\n  " + "\n  ".join(lines)) from None


def load_settings(config) -> StackSettings:
    """Reads every setting from a `pulumi.Config` for the project namespace and validates it."""
    raw = {}
    for field_name, field in StackSettings.model_fields.items():
        key = field.alias or field_name
        value = config.get(key)
        if value is not None:
            raw[key] = _structured(value)
    return parse_settings(raw)


def _structured(value: str) -> Any:
    """The engine hands structured and numeric config to programs as JSON text, plain strings as-is."""
    try:
        return json.loads(value)
    except ValueError:
        return value


__all__ = [
    "AuthMode",
    "DataStorage",
    "Environment",
    "IdentityType",
    "OnlineDeployment",
    "OnlineEndpoint",
    "PublicNetworkAccess",
    "SettingsError",
    "StackSettings",
    "Workspace",
    "load_settings",
    "parse_settings",
    "sku_cores",
]
