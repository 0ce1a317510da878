"""Typed stack settings: the stack's config read once, validated against Azure's rules, passed down.

Every rule here is one Azure (or product) rule; a violation is reported with the full config key
(`azureml-endpoints:onlineEndpoints[0].deployments[1].instanceCount`) before any resource exists.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from components.config_model import (
    ConfigModel,
    SettingsError,
    iso_duration,
    matches,
    quote,
    read_config,
    shipped_file,
    unique_ignoring_case,
    validate_config,
)
from components.skus import ONLINE_SKUS, sku_cores

CONFIG_NAMESPACE = "azureml-endpoints"
ML_DIR = Path(__file__).resolve().parent.parent / "ml"
ONLINE_SCORING_DIR = ML_DIR / "onlinescoring"
BATCH_SCORING_DIR = ML_DIR / "batchscoring"
DATA_DIR = ML_DIR / "data"
BATCH_DATA_DIR = ML_DIR / "batch-data"

# Names Azure accepts, from the resource providers' naming rules.
ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32, letter first, no trailing '-'
DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32
WORKSPACE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
RESOURCE_GROUP_NAME = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
USER_ASSIGNED_IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
STORAGE_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
BLOB_CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
ARM_REGISTRY_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.ContainerRegistry/registries/[a-zA-Z0-9]{5,50}$"
)
TAG_KEY = re.compile(r"[^<>%&\\?/\x00-\x1f\x7f]{1,512}")
COMPUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]$")  # 2-16
VM_SIZE = re.compile(r"^(?i:standard)_[A-Za-z0-9_]+$")
DATASTORE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
GROUP_DISPLAY_NAME = re.compile(r"^[^@\"\\\[\]:;|<>,+=?*/\x00-\x1f\x7f]{1,120}$")
OUTPUT_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")

# "Use tags to organize your Azure resources" (Limitations): at most 50 tag name-value pairs per resource;
# tag names at most 512 characters, 128 for storage accounts (every stack tags its data account); values at
# most 256; tag names are case-insensitive.
MAX_TAGS = 50
STORAGE_TAG_NAME_LENGTH = 128
TAG_VALUE_LENGTH = 256
PROGRAM_TAGS = ("environment", "stack", "managed-by")  # added by StackSettings.tags_for
# "CLI (v2) managed online deployment YAML schema": request_settings.request_timeout_ms allows at most
# 180000 ms (PT3M).
MAX_REQUEST_TIMEOUT_SECONDS = 180
# Integers Azure ML's REST API carries as int32 ("Microsoft.MachineLearningServices workspaces/batchEndpoints/
# deployments" template reference: errorThreshold int; "CLI (v2) batch deployment YAML schema": -1 ignores
# every failure).
INT32_MAX = 2**31 - 1

# Variables the program sets on every deployment; a stack may not override them.
RESERVED_ENV_VARS = ("STORAGE_ACCOUNT_NAME", "STORAGE_CONTAINER_NAME", "FILE_NAME", "STORAGE_BLOB_ENDPOINT", "UAI_CLIENT_ID")


_duration = iso_duration()


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


class Workspace(ConfigModel):
    name: str = Field(description="Existing Azure ML workspace name.")
    resource_group: str = Field(description="Resource group of the workspace.")
    container_registry_id: Optional[str] = Field(
        None,
        description="ARM id of the workspace's container registry; only needed when the workspace has none yet "
        "(Azure creates it lazily on the first image build).",
    )

    _name = field_validator("name")(matches(WORKSPACE_NAME, "3-33 letters, digits, '-' or '_', starting alphanumeric"))
    _rg = field_validator("resource_group")(
        matches(RESOURCE_GROUP_NAME, "1-90 letters, digits, '-', '_', '.', '(', ')', not ending in '.'")
    )
    _acr = field_validator("container_registry_id")(
        matches(ARM_REGISTRY_ID, "a full ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>")
    )


class DataStorage(ConfigModel):
    account_name: str = Field(description="Storage account for the data the scoring script reads (globally unique).")
    container_name: str = Field("data", description="Private blob container the files are uploaded to.")
    file_name: str = Field("hello.txt", description="File from ml/data uploaded as the blob the scoring script reads (FILE_NAME).")
    datastore_name: str = Field(
        "endpointdata", description="Identity-based workspace datastore (no stored credentials) over the container."
    )

    _account = field_validator("account_name")(matches(STORAGE_ACCOUNT_NAME, "3-24 lowercase letters and digits"))
    _datastore = field_validator("datastore_name")(matches(DATASTORE_NAME, "lowercase letters, digits and '_'"))
    _container = field_validator("container_name")(
        matches(BLOB_CONTAINER_NAME, "3-63 lowercase letters, digits and single '-', starting and ending alphanumeric")
    )

    _file = field_validator("file_name")(shipped_file(DATA_DIR, "ml/data"))


class Identity(ConfigModel):
    type: IdentityType = Field(description="SystemAssigned (created with the endpoint) or UserAssigned (created first).")
    user_assigned_identity_name: Optional[str] = Field(
        None, description="Name of the user-assigned identity the program creates; required for UserAssigned only."
    )

    _uai = field_validator("user_assigned_identity_name")(
        matches(USER_ASSIGNED_IDENTITY_NAME, "3-128 letters, digits, '-' or '_', starting alphanumeric")
    )

    @model_validator(mode="after")
    def _fields_match_type(self) -> "Identity":
        if self.type is IdentityType.USER_ASSIGNED and not self.user_assigned_identity_name:
            raise ValueError("userAssignedIdentityName is required when type is UserAssigned")
        if self.type is IdentityType.SYSTEM_ASSIGNED and self.user_assigned_identity_name:
            raise ValueError("userAssignedIdentityName must not be set when type is SystemAssigned")
        return self


class RequestSettings(ConfigModel):
    request_timeout: Optional[str] = Field(None, description="ISO 8601 duration, e.g. PT5S; at most PT3M (Azure's limit).")
    max_concurrent_requests_per_instance: Optional[int] = Field(None, ge=1, le=1000, description="Requests one instance serves at once.")
    max_queue_wait: Optional[str] = Field(None, description="ISO 8601 duration a request may wait in the queue.")

    _timeout = field_validator("request_timeout")(
        iso_duration(MAX_REQUEST_TIMEOUT_SECONDS, "PT3M, the longest scoring timeout Azure allows (180000 ms)")
    )
    _queue = field_validator("max_queue_wait")(_duration)


class Probe(ConfigModel):
    initial_delay: Optional[str] = Field(None, description="ISO 8601 duration before the first probe.")
    period: Optional[str] = Field(None, description="ISO 8601 duration between probes.")
    timeout: Optional[str] = Field(None, description="ISO 8601 duration one probe may take.")
    failure_threshold: Optional[int] = Field(None, ge=1, le=100, description="Failures before the instance is unhealthy.")
    success_threshold: Optional[int] = Field(None, ge=1, le=100, description="Successes before the instance is healthy.")

    _durations = field_validator("initial_delay", "period", "timeout")(_duration)


class OnlineDeployment(ConfigModel):
    name: str = Field(description="Deployment name, e.g. blue or green.")
    instance_type: str = Field(description="Managed online endpoint VM SKU, e.g. Standard_DS3_v2.")
    instance_count: int = Field(ge=1, le=100, description="Instances (the deployment sku capacity); 3 or more for high availability.")
    scoring_script: str = Field("score_managedidentity.py", description="Scoring script in ml/onlinescoring.")
    request_settings: Optional[RequestSettings] = None
    liveness_probe: Optional[Probe] = None
    readiness_probe: Optional[Probe] = None
    environment_variables: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")

    _name = field_validator("name")(matches(DEPLOYMENT_NAME, "3-32 letters, digits or '-', starting and ending alphanumeric"))

    @field_validator("instance_type")
    @classmethod
    def _known_sku(cls, value: str) -> str:
        if sku_cores(value) is None:
            raise ValueError(f"{quote(value)} is not a managed online endpoint SKU this product knows ({', '.join(ONLINE_SKUS)})")
        return value

    _script = field_validator("scoring_script")(shipped_file(ONLINE_SCORING_DIR, "ml/onlinescoring"))

    @field_validator("environment_variables")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        clash = sorted(set(value) & set(RESERVED_ENV_VARS))
        if clash:
            raise ValueError(f"{', '.join(clash)} are set by the program and cannot be overridden")
        return value


class Callers(ConfigModel):
    """Entra groups whose members may score an Entra-token endpoint (the invoker role at endpoint scope)."""

    group_object_ids: list[str] = Field(default_factory=list, description="Existing Entra groups, by object id.")
    groups: list[str] = Field(
        default_factory=list, description="Display names of security groups the program creates (needs Graph rights)."
    )

    @field_validator("group_object_ids")
    @classmethod
    def _object_ids(cls, value: list[str]) -> list[str]:
        for object_id in value:
            matches(OBJECT_ID, "an Entra object id (GUID)")(object_id)
        unique_ignoring_case(value, "group object ids must be unique")
        return value

    @field_validator("groups")
    @classmethod
    def _display_names(cls, value: list[str]) -> list[str]:
        for name in value:
            matches(GROUP_DISPLAY_NAME, "1-120 characters without @ \" \\ [ ] : ; | < > , + = ? * / or control characters")(name)
        unique_ignoring_case(value, "group names must be unique")
        return value


class OnlineEndpoint(ConfigModel):
    name: str = Field(description="Endpoint name, unique in the Azure region.")
    identity: Identity = Field(description="Endpoint identity; immutable once the endpoint exists.")
    auth_mode: AuthMode = Field(description="Key, AMLToken or AADToken (Entra).")
    public_network_access: Optional[PublicNetworkAccess] = Field(None, description="Enabled or Disabled; prod must state it.")
    protect: bool = Field(False, description="Protect the endpoint from deletion and replacement (always on in prod).")
    description: Optional[str] = None
    deployments: list[OnlineDeployment] = Field(min_length=1, description="Deployments of the endpoint.")
    traffic: dict[str, int] = Field(description="Live traffic per deployment in percent; integers summing to 100.")
    mirror_traffic: dict[str, int] = Field(default_factory=dict, description="Mirrored traffic per deployment in percent.")
    callers: Optional[Callers] = Field(None, description="Entra groups allowed to score; AADToken endpoints only.")

    _name = field_validator("name")(matches(ENDPOINT_NAME, "3-32 letters, digits or '-', starting with a letter, not ending in '-'"))

    _unique = field_validator("deployments")(lambda value: _deployment_names_unique(value))

    @field_validator("callers")
    @classmethod
    def _callers_need_entra_auth(cls, value: Optional[Callers], info: ValidationInfo) -> Optional[Callers]:
        mode = info.data.get("auth_mode")
        if value is not None and mode is not None and mode is not AuthMode.AAD_TOKEN:
            raise ValueError(
                f"only endpoints with authMode AADToken take callers; with {mode.value} the caller holds a key or an "
                "Azure ML token and no Entra role is checked"
            )
        return value

    @field_validator("traffic", "mirror_traffic", mode="before")
    @classmethod
    def _integer_percentages(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for name, percent in value.items():
                if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
                    raise ValueError(f"{quote(name)}: {quote(percent)} must be an integer from 0 to 100")
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
            raise ValueError(f"{', '.join(map(quote, serving))} already receive live traffic; mirror only to a deployment with 0 live traffic")
        return value


def _deployment_names_unique(deployments: list) -> list:
    unique_ignoring_case([d.name for d in deployments], "deployment names must be unique")
    return deployments


def _names_exist(split: dict[str, int], info: ValidationInfo) -> None:
    deployments = info.data.get("deployments")
    if deployments is None:  # deployments failed validation; that error is reported already
        return
    known = {d.name for d in deployments}
    unknown = sorted(set(split) - known)
    if unknown:
        raise ValueError(
            f"names deployments that do not exist: {', '.join(map(quote, unknown))} (deployments: {', '.join(sorted(known))})"
        )


class RemoteLoginPortPublicAccess(str, Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    NOT_SPECIFIED = "NotSpecified"


class VmPriority(str, Enum):
    DEDICATED = "Dedicated"
    LOW_PRIORITY = "LowPriority"


class LoggingLevel(str, Enum):
    INFO = "Info"
    WARNING = "Warning"
    DEBUG = "Debug"


class OutputAction(str, Enum):
    APPEND_ROW = "AppendRow"
    SUMMARY_ONLY = "SummaryOnly"


class ComputeIdentity(ConfigModel):
    type: IdentityType = Field(description="SystemAssigned, or UserAssigned with one or more identities; never both.")
    user_assigned_identity_names: list[str] = Field(
        default_factory=list, description="Identities the program creates for the cluster (UserAssigned only)."
    )

    @field_validator("user_assigned_identity_names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            matches(USER_ASSIGNED_IDENTITY_NAME, "3-128 letters, digits, '-' or '_', starting alphanumeric")(name)
        unique_ignoring_case(value, "identity names must be unique")
        return value

    @model_validator(mode="after")
    def _fields_match_type(self) -> "ComputeIdentity":
        if self.type is IdentityType.USER_ASSIGNED and not self.user_assigned_identity_names:
            raise ValueError("userAssignedIdentityNames needs at least one name when type is UserAssigned")
        if self.type is IdentityType.SYSTEM_ASSIGNED and self.user_assigned_identity_names:
            raise ValueError("userAssignedIdentityNames must be empty when type is SystemAssigned (Azure allows one kind, never both)")
        return self


class ComputeCluster(ConfigModel):
    name: str = Field(description="AmlCompute cluster name, unique in the workspace.")
    vm_size: str = Field(description="VM size, e.g. STANDARD_D2_V2.")
    min_nodes: int = Field(0, ge=0, le=1000, description="Nodes kept running; 0 costs nothing when idle.")
    max_nodes: int = Field(ge=1, le=1000, description="Upper bound the cluster scales to.")
    idle_seconds_before_scale_down: int = Field(120, ge=0, le=86400, description="Idle time before nodes are released.")
    vm_priority: VmPriority = Field(VmPriority.DEDICATED, description="Dedicated or LowPriority.")
    remote_login_port_public_access: RemoteLoginPortPublicAccess = Field(
        RemoteLoginPortPublicAccess.DISABLED, description="SSH port exposure; SPEC's example uses NotSpecified."
    )
    identity: ComputeIdentity = Field(description="Cluster identity; it reads the data and pulls the image.")

    _name = field_validator("name")(matches(COMPUTE_NAME, "2-16 letters, digits or '-', starting with a letter, ending alphanumeric"))
    _vm_size = field_validator("vm_size")(matches(VM_SIZE, "an Azure VM size such as STANDARD_D2_V2"))

    @field_validator("max_nodes")
    @classmethod
    def _not_below_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_nodes")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least minNodes ({minimum})")
        return value


class RetrySettings(ConfigModel):
    max_retries: int = Field(3, ge=0, le=100, description="Retries of a failed mini-batch.")
    timeout: str = Field("PT30S", description="ISO 8601 duration one mini-batch may take.")

    _timeout = field_validator("timeout")(_duration)


class BatchDeployment(ConfigModel):
    name: str = Field(description="Deployment name.")
    scoring_script: str = Field("batch_driver.py", description="Scoring script in ml/batchscoring.")
    instance_count: int = Field(1, ge=1, le=100, description="Nodes a job uses.")
    max_concurrency_per_instance: int = Field(4, ge=1, le=100, description="Parallel mini-batches per node.")
    mini_batch_size: int = Field(5, ge=1, le=10000, description="Files per mini-batch.")
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    error_threshold: int = Field(
        10, ge=-1, le=INT32_MAX, description="Failed files tolerated per job; -1 ignores all failures (Azure's int32)."
    )
    logging_level: LoggingLevel = Field(LoggingLevel.INFO, description="Info, Warning or Debug.")
    output_action: OutputAction = Field(OutputAction.APPEND_ROW, description="AppendRow or SummaryOnly.")
    output_file_name: str = Field("predictions.csv", description="File the rows are appended to.")
    environment_variables: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")

    _name = field_validator("name")(matches(DEPLOYMENT_NAME, "3-32 letters, digits or '-', starting and ending alphanumeric"))
    _output = field_validator("output_file_name")(matches(OUTPUT_FILE_NAME, "a file name without folders"))

    _script = field_validator("scoring_script")(shipped_file(BATCH_SCORING_DIR, "ml/batchscoring"))


class BatchEndpoint(ConfigModel):
    name: str = Field(description="Batch endpoint name, unique in the Azure region.")
    description: Optional[str] = None
    protect: bool = Field(False, description="Protect the endpoint (always on in prod).")
    compute: ComputeCluster = Field(description="The AmlCompute cluster the deployments run on.")
    deployments: list[BatchDeployment] = Field(min_length=1, description="Batch deployments.")
    default_deployment: str = Field(description="The deployment the endpoint invokes by default.")

    _name = field_validator("name")(matches(ENDPOINT_NAME, "3-32 letters, digits or '-', starting with a letter, not ending in '-'"))
    _unique = field_validator("deployments")(lambda value: _deployment_names_unique(value))

    @field_validator("default_deployment")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        _names_exist({value: 100}, info)
        return value


class StackSettings(ConfigModel):
    environment: Environment = Field(description="dev, staging or prod; prod always protects endpoints.")
    tags: dict[str, str] = Field(description="Tags on every taggable resource; must include owner.")
    workspace: Workspace
    data_storage: DataStorage
    role_propagation_seconds: int = Field(
        120, ge=0, le=900, description="Wait after role assignments before deployments start (Azure RBAC propagation)."
    )
    online_endpoints: list[OnlineEndpoint] = Field(default_factory=list, description="Managed online endpoints.")
    batch_endpoints: list[BatchEndpoint] = Field(default_factory=list, description="Batch endpoints.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("owner"):
            raise ValueError("must include a non-empty owner")
        bad = sorted(quote(k) for k in value if not TAG_KEY.fullmatch(k))
        if bad:
            raise ValueError(f"tag names are 1-512 characters without < > % & \\ ? / or control characters ({', '.join(bad)})")
        long_names = sorted(quote(k) for k in value if len(k) > STORAGE_TAG_NAME_LENGTH)
        if long_names:
            raise ValueError(f"tag names are at most {STORAGE_TAG_NAME_LENGTH} characters on storage accounts ({', '.join(long_names)})")
        long_values = sorted(quote(k) for k, v in value.items() if len(v) > TAG_VALUE_LENGTH)
        if long_values:
            raise ValueError(f"tag values are at most {TAG_VALUE_LENGTH} characters ({', '.join(long_values)})")
        reserved = sorted(quote(k) for k in value if k.casefold() in PROGRAM_TAGS)
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: set by the program on every resource ({', '.join(PROGRAM_TAGS)})")
        unique_ignoring_case(list(value), "tag names must be unique")
        if len(value) + len(PROGRAM_TAGS) > MAX_TAGS:
            raise ValueError(
                f"{len(value)} tags plus the program's {len(PROGRAM_TAGS)} exceed Azure's {MAX_TAGS} per resource; "
                f"keep at most {MAX_TAGS - len(PROGRAM_TAGS)}"
            )
        return value

    @field_validator("online_endpoints")
    @classmethod
    def _unique_endpoints(cls, value: list[OnlineEndpoint]) -> list[OnlineEndpoint]:
        unique_ignoring_case([e.name for e in value], "endpoint names must be unique in the region")
        uai = [e.identity.user_assigned_identity_name for e in value if e.identity.user_assigned_identity_name]
        unique_ignoring_case(uai, "each user-assigned identity belongs to one endpoint")
        return value

    @field_validator("batch_endpoints")
    @classmethod
    def _unique_batch(cls, value: list[BatchEndpoint], info: ValidationInfo) -> list[BatchEndpoint]:
        online = [e.name for e in info.data.get("online_endpoints") or []]
        unique_ignoring_case(online + [e.name for e in value], "endpoint names must be unique in the region, online and batch")
        unique_ignoring_case([e.compute.name for e in value], "compute cluster names must be unique in the workspace")
        identities = [e.identity.user_assigned_identity_name for e in info.data.get("online_endpoints") or []]
        identities += [n for e in value for n in e.compute.identity.user_assigned_identity_names]
        unique_ignoring_case([n for n in identities if n], "each user-assigned identity belongs to one endpoint or cluster")
        return value

    @model_validator(mode="after")
    def _some_endpoint(self) -> "StackSettings":
        if not self.online_endpoints and not self.batch_endpoints:
            raise ValueError("onlineEndpoints, batchEndpoints: the stack needs at least one endpoint")
        return self

    def tags_for(self, stack: str) -> dict[str, str]:
        """The tags every taggable resource carries."""
        return {**self.tags, "environment": self.environment.value, "stack": stack, "managed-by": "pulumi"}

    def is_protected(self, endpoint: "OnlineEndpoint | BatchEndpoint") -> bool:
        return endpoint.protect or self.environment is Environment.PROD


def parse_settings(raw: Mapping[str, Any]) -> StackSettings:
    """Validates raw config values (keys without the namespace) into settings, or raises SettingsError."""
    return validate_config(StackSettings, CONFIG_NAMESPACE, raw)


def load_settings(config) -> StackSettings:
    """Reads every setting from a `pulumi.Config` for the project namespace and validates it."""
    return parse_settings(read_config(config, StackSettings))


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
