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

from components.catalog import (
    SAMPLE_MODEL,
    CatalogEnvironment,
    CatalogModel,
    DeploymentAssets,
    lock_problem,
    read_model_lock,
    resolve_deployment_assets,
)
from components.config_model import (
    ConfigModel,
    KeyedErrors,
    SettingsError,
    duration_seconds,
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
# Dependencies a created workspace gets (Azure's naming rules for each resource type).
KEY_VAULT_NAME = re.compile(r"^(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")  # 3-24, globally unique
REGISTRY_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")  # globally unique
LOG_ANALYTICS_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$")  # 4-63
APP_INSIGHTS_NAME = re.compile(r"^[^%&\\?/#<>*]{0,259}[^%&\\?/#<>*. ]$")  # 1-260, not ending in '.' or space
AZURE_REGION = re.compile(r"^[a-z][a-z0-9]{2,39}$")  # a region's programmatic name, e.g. westeurope
TAG_KEY = re.compile(r"[^<>%&\\?/\x00-\x1f\x7f]{1,512}")
COMPUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]$")  # 2-16
VM_SIZE = re.compile(r"^(?i:standard)_[A-Za-z0-9_]+$")
DATASTORE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
GROUP_DISPLAY_NAME = re.compile(r"^[^@\"\\\[\]:;|<>,+=?*/\x00-\x1f\x7f]{1,120}$")
OUTPUT_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")

MODEL_KEY_HELP = (
    "azureml:<name>:<version> (registered), azureml://registries/<registry>/models/<name>/versions/<version>, "
    "or an entry of models (<name> or <name>:<version>); default the shipped sample model"
)
ENVIRONMENT_KEY_HELP = (
    "azureml:<name>:<version>, azureml://registries/<registry>/environments/<name>/versions/<version>, "
    "or an entry of environments; default the shipped environment"
)
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


class WorkspaceIdentityType(str, Enum):
    """The workspace identity kinds the program manages; Azure allows SAI -> SAI+UAI, never back."""

    SYSTEM_ASSIGNED = "SystemAssigned"
    SYSTEM_ASSIGNED_USER_ASSIGNED = "SystemAssigned,UserAssigned"


class SystemDatastoresAuthMode(str, Enum):
    IDENTITY = "Identity"
    ACCESS_KEY = "AccessKey"
    USER_DELEGATION_SAS = "UserDelegationSAS"


class WorkspaceIdentity(ConfigModel):
    type: WorkspaceIdentityType = Field(
        WorkspaceIdentityType.SYSTEM_ASSIGNED, description="SystemAssigned, or SystemAssigned,UserAssigned with identities the program creates."
    )
    user_assigned_identity_names: list[str] = Field(
        default_factory=list, description="User-assigned identities the program creates and attaches (SystemAssigned,UserAssigned only)."
    )
    primary_user_assigned_identity: Optional[str] = Field(
        None, description="The one of userAssignedIdentityNames the workspace uses to reach its storage, vault, registry and insights."
    )

    @field_validator("user_assigned_identity_names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            matches(USER_ASSIGNED_IDENTITY_NAME, "3-128 letters, digits, '-' or '_', starting alphanumeric")(name)
        unique_ignoring_case(value, "identity names must be unique")
        return value

    @model_validator(mode="after")
    def _fields_match_type(self) -> "WorkspaceIdentity":
        if self.type is WorkspaceIdentityType.SYSTEM_ASSIGNED:
            if self.user_assigned_identity_names or self.primary_user_assigned_identity:
                raise ValueError("userAssignedIdentityNames and primaryUserAssignedIdentity need type SystemAssigned,UserAssigned")
            return self
        if not self.user_assigned_identity_names:
            raise ValueError("userAssignedIdentityNames needs at least one name when type is SystemAssigned,UserAssigned")
        if self.primary_user_assigned_identity not in self.user_assigned_identity_names:
            raise ValueError(
                f"primaryUserAssignedIdentity must name one of userAssignedIdentityNames ({', '.join(self.user_assigned_identity_names)})"
            )
        return self


# Keys only a created workspace takes: (field, config key, required when creating).
_CREATE_ONLY = (
    ("location", "location", True),
    ("storage_account_name", "storageAccountName", True),
    ("key_vault_name", "keyVaultName", True),
    ("container_registry_name", "containerRegistryName", True),
    ("log_analytics_workspace_name", "logAnalyticsWorkspaceName", True),
    ("application_insights_name", "applicationInsightsName", True),
    ("public_network_access", "publicNetworkAccess", True),
    ("identity", "identity", False),
    ("system_datastores_auth_mode", "systemDatastoresAuthMode", False),
    ("studio_data_preview", "studioDataPreview", False),
)


class Workspace(ConfigModel):
    name: str = Field(description="Azure ML workspace name: looked up, or created when create is true.")
    resource_group: str = Field(description="Resource group of the workspace (it must exist).")
    container_registry_id: Optional[str] = Field(
        None,
        description="ARM id of the workspace's container registry; only needed when the workspace has none yet "
        "(Azure creates it lazily on the first image build). Looked-up workspaces only.",
    )
    create: bool = Field(False, description="Create the workspace and its dependencies instead of looking it up.")
    location: Optional[str] = Field(None, description="Azure region of a created workspace and its dependencies.")
    storage_account_name: Optional[str] = Field(None, description="Storage account a created workspace gets (globally unique).")
    key_vault_name: Optional[str] = Field(None, description="RBAC-mode, purge-protected Key Vault a created workspace gets (globally unique).")
    container_registry_name: Optional[str] = Field(None, description="Container registry a created workspace gets (globally unique).")
    log_analytics_workspace_name: Optional[str] = Field(None, description="Log Analytics workspace behind Application Insights.")
    application_insights_name: Optional[str] = Field(None, description="Application Insights component of a created workspace.")
    public_network_access: Optional[PublicNetworkAccess] = Field(
        None, description="Enabled or Disabled, stated for the created workspace, vault and registry."
    )
    identity: WorkspaceIdentity = Field(default_factory=WorkspaceIdentity, description="Identity of a created workspace.")
    system_datastores_auth_mode: SystemDatastoresAuthMode = Field(
        SystemDatastoresAuthMode.IDENTITY, description="How a created workspace's system datastores authenticate; Identity stores no keys."
    )
    studio_data_preview: bool = Field(
        False, description="Also grant the workspace identity Storage Blob Data Contributor, for data preview in the studio."
    )

    _name = field_validator("name")(matches(WORKSPACE_NAME, "3-33 letters, digits, '-' or '_', starting alphanumeric"))
    _rg = field_validator("resource_group")(
        matches(RESOURCE_GROUP_NAME, "1-90 letters, digits, '-', '_', '.', '(', ')', not ending in '.'")
    )
    _acr = field_validator("container_registry_id")(
        matches(ARM_REGISTRY_ID, "a full ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>")
    )
    _location = field_validator("location")(matches(AZURE_REGION, "a region name such as westeurope"))
    _storage = field_validator("storage_account_name")(matches(STORAGE_ACCOUNT_NAME, "3-24 lowercase letters and digits"))
    _vault = field_validator("key_vault_name")(
        matches(KEY_VAULT_NAME, "3-24 letters, digits and single '-', starting with a letter, ending alphanumeric")
    )
    _registry = field_validator("container_registry_name")(matches(REGISTRY_NAME, "5-50 letters and digits"))
    _logs = field_validator("log_analytics_workspace_name")(
        matches(LOG_ANALYTICS_NAME, "4-63 letters, digits and '-', starting and ending alphanumeric")
    )
    _insights = field_validator("application_insights_name")(
        matches(APP_INSIGHTS_NAME, "1-260 characters without % & \\ ? / # < > *, not ending in '.' or a space")
    )

    @model_validator(mode="after")
    def _keys_match_mode(self) -> "Workspace":
        if self.create:
            missing = [key for field, key, required in _CREATE_ONLY if required and getattr(self, field) is None]
            if missing:
                raise ValueError(f"create is true, so these keys are required: {', '.join(missing)}")
            if self.container_registry_id:
                raise ValueError("containerRegistryId is for looked-up workspaces; a created workspace gets containerRegistryName")
            return self
        stray = [key for field, key, _ in _CREATE_ONLY if field in self.model_fields_set]
        if stray:
            raise ValueError(f"{', '.join(stray)} only apply when create is true (this workspace is looked up)")
        return self

    @property
    def baseline_key(self) -> str:
        """How the identity baseline names this workspace: resource group / workspace, lowercase."""
        return f"{self.resource_group}/{self.name}".lower()


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


# --- Operability: autoscale, data collection and monitoring (README, "Operability") -----------------------------

# Metrics Azure Monitor publishes for online endpoints and their deployments ("Supported metrics for
# Microsoft.MachineLearningServices/workspaces/onlineEndpoints" and ".../onlineEndpoints/deployments").
ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
ENDPOINT_METRICS = (
    "RequestLatency", "RequestLatency_P50", "RequestLatency_P90", "RequestLatency_P95", "RequestLatency_P99",
    "RequestsPerMinute", "ConnectionsActive", "NewConnectionsPerSecond", "NetworkBytes",
)
DEPLOYMENT_METRICS = (
    "CpuUtilizationPercentage", "CpuMemoryUtilizationPercentage", "DiskUtilization", "DeploymentCapacity",
)
# Azure Monitor autoscale limits ("Understand autoscale settings"): a time grain from 1 minute to 12 hours, a
# window from 5 minutes to 12 hours, a cool-down from 1 minute to 1 week.
_MINUTE = 60


def _seconds(duration: str) -> float:
    """Seconds of an ISO 8601 duration (PT..H..M..S, as duration_seconds reads it), or of P<n>D."""
    days = re.fullmatch(r"P(\d+)D", duration) if isinstance(duration, str) else None
    if days:
        return int(days.group(1)) * 86400
    return duration_seconds(duration)


def _between(low: float, high: float, rule: str):
    def validate(value: str) -> str:
        if not low <= _seconds(value) <= high:
            raise ValueError(f"'{value}' is outside Azure's range: {rule}")
        return value

    return validate


class ScaleDirection(str, Enum):
    INCREASE = "Increase"
    DECREASE = "Decrease"


class ComparisonOperator(str, Enum):
    GREATER_THAN = "GreaterThan"
    GREATER_THAN_OR_EQUAL = "GreaterThanOrEqual"
    LESS_THAN = "LessThan"
    LESS_THAN_OR_EQUAL = "LessThanOrEqual"


class MetricStatistic(str, Enum):
    AVERAGE = "Average"
    MIN = "Min"
    MAX = "Max"


class TimeAggregation(str, Enum):
    AVERAGE = "Average"
    MINIMUM = "Minimum"
    MAXIMUM = "Maximum"
    LAST = "Last"


class AutoscaleRule(ConfigModel):
    """One Azure Monitor scale rule; the metric decides whether the deployment or its endpoint is measured."""

    metric: str = Field(description="A deployment metric (CpuUtilizationPercentage, ...) or an endpoint metric (RequestLatency, ...).")
    operator: ComparisonOperator = Field(description="GreaterThan, GreaterThanOrEqual, LessThan or LessThanOrEqual.")
    threshold: float = Field(ge=0, description="Value the metric is compared with (percent, milliseconds, count).")
    direction: ScaleDirection = Field(description="Increase (scale out) or Decrease (scale in).")
    change_count: int = Field(1, ge=1, le=100, description="Instances added or removed when the rule fires.")
    statistic: MetricStatistic = Field(MetricStatistic.AVERAGE, description="How instances' values combine per time grain.")
    time_aggregation: TimeAggregation = Field(TimeAggregation.AVERAGE, description="How time grains combine over the window.")
    time_grain: str = Field("PT1M", description="ISO 8601 granularity, 1 minute to 12 hours.")
    time_window: str = Field("PT5M", description="ISO 8601 window looked back on, 5 minutes to 12 hours.")
    cooldown: str = Field("PT5M", description="ISO 8601 wait after a scale action, 1 minute to 1 week.")

    _grain = field_validator("time_grain")(_between(_MINUTE, 12 * 3600, "a time grain is 1 minute to 12 hours"))
    _window = field_validator("time_window")(_between(5 * _MINUTE, 12 * 3600, "a time window is 5 minutes to 12 hours"))
    _cooldown = field_validator("cooldown")(_between(_MINUTE, 7 * 86400, "a cool-down is 1 minute to 1 week"))

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in ENDPOINT_METRICS + DEPLOYMENT_METRICS:
            raise ValueError(
                f"'{value}' is not an online endpoint or deployment metric Azure Monitor publishes "
                f"(endpoint: {', '.join(ENDPOINT_METRICS)}; deployment: {', '.join(DEPLOYMENT_METRICS)})"
            )
        return value

    @property
    def on_endpoint(self) -> bool:
        return self.metric in ENDPOINT_METRICS


# azureml-examples' autoscale sample (cli/deploy-moe-autoscale.sh): CPU above 70% on average over 5 minutes adds
# two instances, CPU below 25% removes one, endpoint request latency above 70 ms adds one; 1-minute grains and
# the Azure CLI's 5-minute cool-down.
DEFAULT_AUTOSCALE_RULES = (
    AutoscaleRule(metric="CpuUtilizationPercentage", operator="GreaterThan", threshold=70, direction="Increase", change_count=2),
    AutoscaleRule(metric="CpuUtilizationPercentage", operator="LessThan", threshold=25, direction="Decrease", change_count=1),
    AutoscaleRule(metric="RequestLatency", operator="GreaterThan", threshold=70, direction="Increase", change_count=1),
)


class Autoscale(ConfigModel):
    min_instances: int = Field(ge=1, le=100, description="Fewest instances the scaler keeps; 3 or more for high availability.")
    max_instances: int = Field(ge=1, le=100, description="Most instances the scaler adds; the quota estimate reserves for these.")
    default_instances: int = Field(ge=1, le=100, description="Instances when metrics are missing; the deployment starts with these.")
    rules: list[AutoscaleRule] = Field(
        default_factory=lambda: list(DEFAULT_AUTOSCALE_RULES), min_length=1, max_length=10,
        description="Scale rules, at most 10 per profile (Azure's limit); default: azureml-examples' CPU and request-latency rules.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> "Autoscale":
        if self.min_instances > self.max_instances:
            raise ValueError(f"minInstances ({self.min_instances}) must not exceed maxInstances ({self.max_instances})")
        if not self.min_instances <= self.default_instances <= self.max_instances:
            raise ValueError(
                f"defaultInstances ({self.default_instances}) must lie in [minInstances, maxInstances] "
                f"([{self.min_instances}, {self.max_instances}])"
            )
        return self


class RollingRate(str, Enum):
    MINUTE = "Minute"
    HOUR = "Hour"
    DAY = "Day"
    MONTH = "Month"
    YEAR = "Year"


DATA_COLLECTION_NAME = re.compile(r"^[a-zA-Z0-9_]{1,64}$")


class DataCollector(ConfigModel):
    """Azure ML data collector ("Collect production data from models deployed for real-time inferencing")."""

    collections: list[str] = Field(
        default_factory=lambda: ["model_inputs", "model_outputs"], min_length=1, max_length=5,
        description="Collections to enable: model_inputs/model_outputs (custom logging) or request/response (payload logging).",
    )
    sampling_rate: float = Field(1.0, gt=0, le=1, description="Share of requests collected (0 < rate <= 1).")
    rolling_rate: RollingRate = Field(RollingRate.HOUR, description="How collected files are partitioned: Minute, Hour, Day, Month or Year.")

    @field_validator("collections")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            matches(DATA_COLLECTION_NAME, "1-64 letters, digits or '_'")(name)
        unique_ignoring_case(value, "collection names must be unique")
        return value


ARM_LOG_ANALYTICS_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[a-zA-Z0-9-]{4,63}$"
)
ACTION_GROUP_SHORT_NAME = re.compile(r"^[a-zA-Z0-9 _-]{1,12}$")
RECEIVER_NAME = re.compile(r"^[a-zA-Z0-9 _.-]{1,128}$")
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Metric alert windows and evaluation frequencies Azure accepts ("Create or edit a metric alert rule").
ALERT_WINDOWS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")


class LogAnalytics(ConfigModel):
    """Where endpoint logs go: a workspace the stack creates (workspaceName) or an existing one (workspaceId)."""

    workspace_name: Optional[str] = Field(None, description="Log Analytics workspace the stack creates in the ML workspace's resource group.")
    workspace_id: Optional[str] = Field(None, description="ARM id of an existing Log Analytics workspace.")
    retention_in_days: int = Field(30, ge=30, le=730, description="Retention of a created workspace (30-730 days).")

    _name = field_validator("workspace_name")(matches(LOG_ANALYTICS_NAME, "4-63 letters, digits or '-', starting and ending alphanumeric"))
    _id = field_validator("workspace_id")(
        matches(ARM_LOG_ANALYTICS_ID, "a full ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>")
    )

    @model_validator(mode="after")
    def _one_source(self) -> "LogAnalytics":
        if bool(self.workspace_name) == bool(self.workspace_id):
            raise ValueError("set exactly one of workspaceName (created by the stack) and workspaceId (existing)")
        return self


class AlertThresholds(ConfigModel):
    """Metric alert thresholds per online endpoint; the rollout checks each step against the same values."""

    request_latency_ms: float = Field(1000, gt=0, le=180000, description="Average RequestLatency of the endpoint, in milliseconds.")
    server_errors_per_minute: float = Field(5, ge=0, description="Requests per minute answered with a 5xx status.")
    cpu_percent: float = Field(90, gt=0, le=100, description="Average CPU utilization of a deployment, percent.")
    memory_percent: float = Field(90, gt=0, le=100, description="Average memory utilization of a deployment, percent.")
    severity: int = Field(2, ge=0, le=4, description="Alert severity, 0 (critical) to 4 (verbose).")
    window_size: str = Field("PT5M", description=f"Period each evaluation looks back on ({', '.join(ALERT_WINDOWS)}).")
    evaluation_frequency: str = Field("PT1M", description=f"How often the alert is evaluated ({', '.join(ALERT_FREQUENCIES)}).")

    @field_validator("window_size")
    @classmethod
    def _window(cls, value: str) -> str:
        if value not in ALERT_WINDOWS:
            raise ValueError(f"'{value}' is not a window Azure metric alerts accept ({', '.join(ALERT_WINDOWS)})")
        return value

    @field_validator("evaluation_frequency")
    @classmethod
    def _frequency(cls, value: str, info: ValidationInfo) -> str:
        if value not in ALERT_FREQUENCIES:
            raise ValueError(f"'{value}' is not a frequency Azure metric alerts accept ({', '.join(ALERT_FREQUENCIES)})")
        window = info.data.get("window_size")
        if window and _seconds(value) > _seconds(window):
            raise ValueError(f"'{value}' is longer than windowSize ({window}); Azure requires frequency <= window")
        return value


class EmailReceiver(ConfigModel):
    name: str = Field(description="Receiver name, unique in the action group.")
    address: str = Field(description="Email address alerts are sent to.")

    _name = field_validator("name")(matches(RECEIVER_NAME, "1-128 letters, digits, spaces, '.', '_' or '-'"))
    _address = field_validator("address")(matches(EMAIL_ADDRESS, "an email address such as oncall@example.com"))


class WebhookReceiver(ConfigModel):
    name: str = Field(description="Receiver name, unique in the action group.")
    service_uri: str = Field(description="https URL the alert payload is posted to (common alert schema).")

    _name = field_validator("name")(matches(RECEIVER_NAME, "1-128 letters, digits, spaces, '.', '_' or '-'"))

    @field_validator("service_uri")
    @classmethod
    def _https(cls, value: str) -> str:
        if not re.match(r"^https://[^\s/]+(/\S*)?$", value):
            raise ValueError(f"'{value}' is not an https URL")
        return value


class ActionGroup(ConfigModel):
    short_name: str = Field(description="Short name shown in SMS and email (1-12 characters).")
    emails: list[EmailReceiver] = Field(default_factory=list, description="Email receivers.")
    webhooks: list[WebhookReceiver] = Field(default_factory=list, description="Webhook receivers.")

    _short = field_validator("short_name")(matches(ACTION_GROUP_SHORT_NAME, "1-12 letters, digits, spaces, '_' or '-'"))

    @model_validator(mode="after")
    def _receivers(self) -> "ActionGroup":
        if not self.emails and not self.webhooks:
            raise ValueError("an action group needs at least one receiver (emails or webhooks), each with its address")
        unique_ignoring_case([r.name for r in [*self.emails, *self.webhooks]], "receiver names must be unique")
        return self


class Monitoring(ConfigModel):
    """Logs, Application Insights and alerts for every online endpoint of the stack."""

    log_analytics: Optional[LogAnalytics] = Field(None, description="Send endpoint traffic, console and event logs here.")
    app_insights_enabled: bool = Field(False, description="Deployments send to the workspace's Application Insights.")
    alerts: Optional[AlertThresholds] = Field(None, description="Metric alerts per endpoint; needs actionGroup.")
    action_group: Optional[ActionGroup] = Field(None, description="Who is notified when an alert fires.")

    @model_validator(mode="after")
    def _alerts_notify_someone(self) -> "Monitoring":
        if self.alerts is not None and self.action_group is None:
            raise ValueError("alerts need an actionGroup with at least one receiver")
        if self.action_group is not None and self.alerts is None:
            raise ValueError("actionGroup is set but alerts is not: add alerts (defaults apply with alerts: {})")
        return self


class OnlineDeployment(ConfigModel):
    name: str = Field(description="Deployment name, e.g. blue or green.")
    instance_type: str = Field(description="Managed online endpoint VM SKU, e.g. Standard_DS3_v2.")
    instance_count: Optional[int] = Field(
        None, ge=1, le=100, description="Instances (the deployment sku capacity); 3 or more for high availability. Not with autoscale."
    )
    model: Optional[str] = Field(None, description=MODEL_KEY_HELP)
    code: Optional[str] = Field(None, description="Repository folder with the scoring code (default ml/onlinescoring).")
    scoring_script: Optional[str] = Field(None, description="Script in the code folder (default score_managedidentity.py).")
    environment: Optional[str] = Field(None, description=ENVIRONMENT_KEY_HELP)
    request_settings: Optional[RequestSettings] = None
    liveness_probe: Optional[Probe] = None
    readiness_probe: Optional[Probe] = None
    environment_variables: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    autoscale: Optional[Autoscale] = Field(None, validate_default=True, description="Azure Monitor autoscale; replaces instanceCount.")
    data_collector: Optional[DataCollector] = Field(None, description="Collect model inputs/outputs to the workspace blob store.")

    _name = field_validator("name")(matches(DEPLOYMENT_NAME, "3-32 letters, digits or '-', starting and ending alphanumeric"))

    @field_validator("autoscale")
    @classmethod
    def _count_or_autoscale(cls, value: Optional[Autoscale], info: ValidationInfo) -> Optional[Autoscale]:
        if "instance_count" not in info.data:  # instanceCount failed validation; that error is reported already
            return value
        count = info.data["instance_count"]
        if value is not None and count is not None:
            raise ValueError(
                "instanceCount and autoscale exclude each other: remove instanceCount (the scaler owns the count; "
                "autoscale.defaultInstances is the starting count)"
            )
        if value is None and count is None:
            raise ValueError("set instanceCount (a fixed number of instances) or autoscale")
        return value

    @property
    def initial_instances(self) -> int:
        """The sku capacity sent to Azure: the fixed count, or autoscale's default."""
        return self.autoscale.default_instances if self.autoscale else self.instance_count

    @field_validator("instance_type")
    @classmethod
    def _known_sku(cls, value: str) -> str:
        if sku_cores(value) is None:
            raise ValueError(f"{quote(value)} is not a managed online endpoint SKU this product knows ({', '.join(ONLINE_SKUS)})")
        return value

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
        RemoteLoginPortPublicAccess.DISABLED, description="SSH port exposure; the batch REST example (Azure ML docs 'Deploy models with REST for batch scoring') uses NotSpecified."
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
    model: Optional[str] = Field(None, description=MODEL_KEY_HELP)
    code: Optional[str] = Field(None, description="Repository folder with the batch driver (default ml/batchscoring).")
    scoring_script: Optional[str] = Field(None, description="Script in the code folder (default batch_driver.py).")
    environment: Optional[str] = Field(None, description=ENVIRONMENT_KEY_HELP)
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
    models: list[CatalogModel] = Field(default_factory=list, description="Models this repository ships and registers.")
    environments: list[CatalogEnvironment] = Field(default_factory=list, description="Environments this repository defines.")
    workspace_identity_baseline: dict[str, str] = Field(
        default_factory=dict,
        description="resourceGroup/workspace (lowercase) -> the identity type each created workspace has in Azure now; "
        "written by `python -m tools.baseline --program-config` from the stack's state.",
    )
    monitoring: Optional[Monitoring] = Field(None, description="Logs, Application Insights and alerts for online endpoints.")

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
        workspace = info.data.get("workspace")
        if workspace is not None and workspace.create:
            identities += workspace.identity.user_assigned_identity_names
        unique_ignoring_case([n for n in identities if n], "each user-assigned identity belongs to one endpoint or cluster (or the workspace)")
        return value

    @field_validator("monitoring", mode="before")
    @classmethod
    def _empty_monitoring_is_none(cls, value: Any) -> Any:
        # Pulumi.yaml declares {} as the default (the CLI requires one for an optional key): it means no monitoring.
        return None if value == {} else value

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[CatalogModel]) -> list[CatalogModel]:
        unique_ignoring_case([m.reference for m in value], "each model version is listed once")
        return value

    @field_validator("environments")
    @classmethod
    def _unique_environments(cls, value: list[CatalogEnvironment]) -> list[CatalogEnvironment]:
        unique_ignoring_case([e.name for e in value], "environment names must be unique")
        return value

    @model_validator(mode="after")
    def _some_endpoint(self) -> "StackSettings":
        if not self.online_endpoints and not self.batch_endpoints:
            raise ValueError("onlineEndpoints, batchEndpoints: the stack needs at least one endpoint")
        return self

    @model_validator(mode="after")
    def _assets_resolve(self) -> "StackSettings":
        """Every deployment's model, code and environment resolve, and every shipped model matches the lock file."""
        errors = []
        for key, _ in self._deployments():
            try:
                self._resolve(*key)
            except ValueError as error:
                field, _, message = str(error).partition(": ")
                errors.append(((*self._location(*key), field), message))
        lock = read_model_lock()
        for index, entry in enumerate(self.models):
            problem = lock_problem(entry, lock)
            if problem:
                errors.append((("models", index, "version"), problem))
        if self.uses_sample_model() and all(m.reference != SAMPLE_MODEL.reference for m in self.models):
            problem = lock_problem(SAMPLE_MODEL, lock)
            if problem:
                errors.append(((), f"the shipped sample model: {problem}"))
        if errors:
            raise KeyedErrors(errors)
        return self

    def _deployments(self):
        """((kind, endpoint index, deployment index), deployment) for every deployment."""
        for e, endpoint in enumerate(self.online_endpoints):
            for d, deployment in enumerate(endpoint.deployments):
                yield ("online", e, d), deployment
        for e, endpoint in enumerate(self.batch_endpoints):
            for d, deployment in enumerate(endpoint.deployments):
                yield ("batch", e, d), deployment

    @staticmethod
    def _location(kind: str, endpoint: int, deployment: int) -> tuple:
        return ("onlineEndpoints" if kind == "online" else "batchEndpoints", endpoint, "deployments", deployment)

    def _resolve(self, kind: str, endpoint: int, deployment: int) -> DeploymentAssets:
        endpoints = self.online_endpoints if kind == "online" else self.batch_endpoints
        d = endpoints[endpoint].deployments[deployment]
        return resolve_deployment_assets(
            d.model, d.code, d.scoring_script, d.environment, self.models, self.environments, batch=kind == "batch"
        )

    def deployment_assets(self) -> dict[tuple[str, str, str], DeploymentAssets]:
        """(online|batch, endpoint name, deployment name) -> what that deployment runs."""
        endpoints = {"online": self.online_endpoints, "batch": self.batch_endpoints}
        return {
            (kind, endpoints[kind][e].name, deployment.name): self._resolve(kind, e, d)
            for (kind, e, d), deployment in self._deployments()
        }

    def uses_sample_model(self) -> bool:
        return any(d.model is None for _, d in self._deployments())

    @model_validator(mode="after")
    def _workspace_identity_only_grows(self) -> "StackSettings":
        """Azure changes a workspace identity from SystemAssigned to SystemAssigned,UserAssigned, never back."""
        baseline = {k.lower(): v for k, v in self.workspace_identity_baseline.items()}
        was = baseline.get(self.workspace.baseline_key) or ""
        now = self.workspace.identity.type
        if self.workspace.create and "UserAssigned" in was and now is WorkspaceIdentityType.SYSTEM_ASSIGNED:
            raise ValueError(
                f"workspace.identity.type: workspace '{self.workspace.name}' has a {was} identity in Azure "
                f"(workspaceIdentityBaseline) and Azure cannot change it back to {now.value}: keep "
                f"{WorkspaceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED.value} with at least one user-assigned identity"
            )
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
    "SystemDatastoresAuthMode",
    "Workspace",
    "WorkspaceIdentity",
    "WorkspaceIdentityType",
    "load_settings",
    "parse_settings",
    "sku_cores",
]
