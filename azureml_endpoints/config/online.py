"""Managed online endpoints and their deployments: identity, auth, traffic, the model each deployment serves.

Azure's "Access Azure resources from an online endpoint with a managed identity", "Perform safe rollout of new
deployments for real-time inference" (traffic and mirror traffic) and "CLI (v2) managed online deployment YAML
schema" (request settings and probes).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.azure.skus import ONLINE_SKUS, sku_cores
from azureml_endpoints.config.base import ConfigModel, iso_duration, quote, unique_ignoring_case
from azureml_endpoints.config.catalog import ModelType
from azureml_endpoints.config.common import (
    CODE_KEY_HELP,
    ENVIRONMENT_KEY_HELP,
    MODEL_KEY_HELP,
    MODEL_TYPE_HELP,
    RESERVED_ENV_VARS,
    SCORING_SCRIPT_HELP,
    AzMlCodeConfiguration,
    IdentityType,
    PublicNetworkAccess,
    az_ml_deployment_spellings,
    code_configuration_field,
    deployment_names_unique,
    names_exist,
)
from azureml_endpoints.config.names import DeploymentName, EndpointName, EntraObjectId, GroupDisplayName, UserAssignedIdentityName
from azureml_endpoints.config.operability import MAX_INSTANCES_PER_DEPLOYMENT, AutoscaleConfig, DataCollectorConfig

# "CLI (v2) managed online deployment YAML schema": request_settings.request_timeout_ms allows at most
# 180000 ms (PT3M).
MAX_REQUEST_TIMEOUT_SECONDS = 180
_duration = iso_duration()


class AuthMode(str, Enum):
    KEY = "Key"
    AML_TOKEN = "AMLToken"
    AAD_TOKEN = "AADToken"


class EndpointIdentityConfig(ConfigModel):
    type: IdentityType = Field(description="SystemAssigned (created with the endpoint) or UserAssigned (created first).")
    user_assigned_identity_name: UserAssignedIdentityName | None = Field(
        None, description="Name of the user-assigned identity the program creates; required for UserAssigned only."
    )

    @model_validator(mode="after")
    def _fields_match_type(self) -> EndpointIdentityConfig:
        if self.type is IdentityType.USER_ASSIGNED and not self.user_assigned_identity_name:
            raise ValueError("userAssignedIdentityName is required when type is UserAssigned")
        if self.type is IdentityType.SYSTEM_ASSIGNED and self.user_assigned_identity_name:
            raise ValueError("userAssignedIdentityName must not be set when type is SystemAssigned")
        return self


class RequestSettingsConfig(ConfigModel):
    request_timeout: str | None = Field(None, description="ISO 8601 duration, e.g. PT5S; at most PT3M (Azure's limit).")
    max_concurrent_requests_per_instance: int | None = Field(None, ge=1, le=1000, description="Requests one instance serves at once.")
    max_queue_wait: str | None = Field(None, description="ISO 8601 duration a request may wait in the queue.")

    _timeout = field_validator("request_timeout")(
        iso_duration(MAX_REQUEST_TIMEOUT_SECONDS, "PT3M, the longest scoring timeout Azure allows (180000 ms)")
    )
    _queue = field_validator("max_queue_wait")(_duration)


class ProbeConfig(ConfigModel):
    initial_delay: str | None = Field(None, description="ISO 8601 duration before the first probe.")
    period: str | None = Field(None, description="ISO 8601 duration between probes.")
    timeout: str | None = Field(None, description="ISO 8601 duration one probe may take.")
    failure_threshold: int | None = Field(None, ge=1, le=100, description="Failures before the instance is unhealthy.")
    success_threshold: int | None = Field(None, ge=1, le=100, description="Successes before the instance is healthy.")

    _durations = field_validator("initial_delay", "period", "timeout")(_duration)


class OnlineDeploymentConfig(ConfigModel):
    name: DeploymentName = Field(description="Deployment name, e.g. blue or green.")
    instance_type: str = Field(description="Managed online endpoint VM SKU, e.g. Standard_DS3_v2.")
    instance_count: int | None = Field(
        None,
        ge=1,
        le=MAX_INSTANCES_PER_DEPLOYMENT,
        description="Instances (the deployment sku capacity), at most 50 (Azure's per-deployment limit); 3 or more for "
        "high availability. Not with autoscale.",
    )
    model: str = Field(description=MODEL_KEY_HELP)
    model_type: ModelType | None = Field(None, description=MODEL_TYPE_HELP)
    code: str | None = Field(None, description=CODE_KEY_HELP)
    scoring_script: str | None = Field(None, description=SCORING_SCRIPT_HELP)
    code_configuration: AzMlCodeConfiguration | None = code_configuration_field()
    environment: str | None = Field(None, description=ENVIRONMENT_KEY_HELP)
    request_settings: RequestSettingsConfig | None = Field(
        None, description="Scoring timeout, concurrency and queue wait; Azure's defaults when not set."
    )
    liveness_probe: ProbeConfig | None = Field(
        None, description="When Azure restarts an instance whose scoring server stopped answering; Azure's defaults when not set."
    )
    readiness_probe: ProbeConfig | None = Field(None, description="When an instance receives traffic; Azure's defaults when not set.")
    environment_variables: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    autoscale: AutoscaleConfig | None = Field(None, validate_default=True, description="Azure Monitor autoscale; replaces instanceCount.")
    data_collector: DataCollectorConfig | None = Field(None, description="Collect model inputs/outputs to the workspace blob store.")

    @field_validator("autoscale")
    @classmethod
    def _count_or_autoscale(cls, value: AutoscaleConfig | None, info: ValidationInfo) -> AutoscaleConfig | None:
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

    @model_validator(mode="before")
    @classmethod
    def _az_ml(cls, data: Any) -> Any:
        return az_ml_deployment_spellings(data)


class CallersConfig(ConfigModel):
    """Entra groups whose members may score an Entra-token endpoint (the invoker role at endpoint scope)."""

    group_object_ids: list[EntraObjectId] = Field(default_factory=list, description="Existing Entra groups, by object id.")
    groups: list[GroupDisplayName] = Field(
        default_factory=list, description="Display names of security groups the program creates (needs Graph rights)."
    )

    @field_validator("group_object_ids")
    @classmethod
    def _object_ids(cls, value: list[str]) -> list[str]:
        unique_ignoring_case(value, "group object ids must be unique")
        return value

    @field_validator("groups")
    @classmethod
    def _display_names(cls, value: list[str]) -> list[str]:
        unique_ignoring_case(value, "group names must be unique")
        return value


class OnlineEndpointConfig(ConfigModel):
    name: EndpointName = Field(description="Endpoint name, unique in the Azure region.")
    identity: EndpointIdentityConfig = Field(description="Endpoint identity; immutable once the endpoint exists.")
    auth_mode: AuthMode = Field(description="Key, AMLToken or AADToken (Entra).")
    public_network_access: PublicNetworkAccess | None = Field(None, description="Enabled or Disabled; prod must state it.")
    protect: bool = Field(False, description="Protect the endpoint from deletion and replacement (always on in prod).")
    description: str | None = Field(None, description="Shown on the endpoint in Azure.")
    deployments: list[OnlineDeploymentConfig] = Field(min_length=1, description="Deployments of the endpoint.")
    traffic: dict[str, int] = Field(description="Live traffic per deployment in percent; integers summing to 100.")
    mirror_traffic: dict[str, int] = Field(default_factory=dict, description="Mirrored traffic per deployment in percent.")
    callers: CallersConfig | None = Field(None, description="Entra groups allowed to score; AADToken endpoints only.")

    _unique = field_validator("deployments")(lambda value: deployment_names_unique(value))

    @field_validator("callers")
    @classmethod
    def _callers_need_entra_auth(cls, value: CallersConfig | None, info: ValidationInfo) -> CallersConfig | None:
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
        names_exist(value, info)
        if sum(value.values()) != 100:
            raise ValueError(f"percentages must sum to 100 (they sum to {sum(value.values())})")
        return value

    @field_validator("mirror_traffic")
    @classmethod
    def _mirror(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        names_exist(value, info)
        if sum(value.values()) > 50:
            raise ValueError(f"mirrored traffic may total at most 50 percent (it totals {sum(value.values())})")
        live = info.data.get("traffic") or {}
        serving = sorted(n for n, p in value.items() if p and live.get(n))
        if serving:
            raise ValueError(
                f"{', '.join(map(quote, serving))} already receive live traffic; mirror only to a deployment with 0 live traffic"
            )
        return value
