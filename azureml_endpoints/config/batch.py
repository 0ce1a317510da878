"""Batch endpoints, their deployments and the AmlCompute cluster they run on.

Azure's "Deploy models for scoring in batch endpoints", "CLI (v2) batch deployment YAML schema" and "Create an
Azure Machine Learning compute cluster".
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.config.base import ConfigModel, iso_duration, unique_ignoring_case
from azureml_endpoints.config.catalog import ModelType
from azureml_endpoints.config.common import (
    CODE_KEY_HELP,
    ENVIRONMENT_KEY_HELP,
    MODEL_KEY_HELP,
    MODEL_TYPE_HELP,
    SCORING_SCRIPT_HELP,
    IdentityType,
    az_ml_deployment_spellings,
    deployment_names_unique,
    names_exist,
)
from azureml_endpoints.config.names import ComputeName, DeploymentName, EndpointName, OutputFileName, UserAssignedIdentityName, VmSize

# Integers Azure ML's REST API carries as int32 ("Microsoft.MachineLearningServices workspaces/batchEndpoints/
# deployments" template reference: errorThreshold int; "CLI (v2) batch deployment YAML schema": -1 ignores
# every failure).
INT32_MAX = 2**31 - 1
_duration = iso_duration()


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


class ComputeIdentityConfig(ConfigModel):
    type: IdentityType = Field(description="SystemAssigned, or UserAssigned with one or more identities; never both.")
    user_assigned_identity_names: list[UserAssignedIdentityName] = Field(
        default_factory=list, description="Identities the program creates for the cluster (UserAssigned only)."
    )

    @field_validator("user_assigned_identity_names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        unique_ignoring_case(value, "identity names must be unique")
        return value

    @model_validator(mode="after")
    def _fields_match_type(self) -> ComputeIdentityConfig:
        if self.type is IdentityType.USER_ASSIGNED and not self.user_assigned_identity_names:
            raise ValueError("userAssignedIdentityNames needs at least one name when type is UserAssigned")
        if self.type is IdentityType.SYSTEM_ASSIGNED and self.user_assigned_identity_names:
            raise ValueError("userAssignedIdentityNames must be empty when type is SystemAssigned (Azure allows one kind, never both)")
        return self


class ComputeClusterConfig(ConfigModel):
    name: ComputeName = Field(description="AmlCompute cluster name, unique in the workspace.")
    vm_size: VmSize = Field(description="VM size, e.g. STANDARD_D2_V2.")
    min_nodes: int = Field(0, ge=0, le=1000, description="Nodes kept running; 0 costs nothing when idle.")
    max_nodes: int = Field(ge=1, le=1000, description="Upper bound the cluster scales to.")
    idle_seconds_before_scale_down: int = Field(120, ge=0, le=86400, description="Idle time before nodes are released.")
    vm_priority: VmPriority = Field(VmPriority.DEDICATED, description="Dedicated or LowPriority.")
    remote_login_port_public_access: RemoteLoginPortPublicAccess = Field(
        RemoteLoginPortPublicAccess.DISABLED,
        description="SSH port exposure; the batch REST example (Azure ML docs 'Deploy models with REST for batch scoring') uses NotSpecified.",
    )
    identity: ComputeIdentityConfig = Field(description="Cluster identity; it reads the data and pulls the image.")

    @field_validator("max_nodes")
    @classmethod
    def _not_below_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_nodes")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least minNodes ({minimum})")
        return value


class RetrySettingsConfig(ConfigModel):
    max_retries: int = Field(3, ge=0, le=100, description="Retries of a failed mini-batch.")
    timeout: str = Field("PT30S", description="ISO 8601 duration one mini-batch may take.")

    _timeout = field_validator("timeout")(_duration)


class BatchDeploymentConfig(ConfigModel):
    name: DeploymentName = Field(description="Deployment name.")
    model: str = Field(description=MODEL_KEY_HELP)
    model_type: ModelType | None = Field(None, description=MODEL_TYPE_HELP)
    code: str | None = Field(None, description=CODE_KEY_HELP)
    scoring_script: str | None = Field(None, description=SCORING_SCRIPT_HELP)
    environment: str | None = Field(None, description=ENVIRONMENT_KEY_HELP)
    instance_count: int = Field(1, ge=1, le=100, description="Nodes a job uses.")
    max_concurrency_per_instance: int = Field(4, ge=1, le=100, description="Parallel mini-batches per node.")
    mini_batch_size: int = Field(5, ge=1, le=10000, description="Files per mini-batch.")
    retry_settings: RetrySettingsConfig = Field(default_factory=RetrySettingsConfig, description="Retries and timeout of each mini-batch.")
    error_threshold: int = Field(
        10, ge=-1, le=INT32_MAX, description="Failed files tolerated per job; -1 ignores all failures (Azure's int32)."
    )
    logging_level: LoggingLevel = Field(LoggingLevel.INFO, description="Info, Warning or Debug.")
    output_action: OutputAction = Field(OutputAction.APPEND_ROW, description="AppendRow or SummaryOnly.")
    output_file_name: OutputFileName = Field("predictions.csv", description="File the rows are appended to.")
    environment_variables: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")

    @model_validator(mode="before")
    @classmethod
    def _az_ml(cls, data: Any) -> Any:
        return az_ml_deployment_spellings(data)


class BatchEndpointConfig(ConfigModel):
    name: EndpointName = Field(description="Batch endpoint name, unique in the Azure region.")
    description: str | None = Field(None, description="Shown on the endpoint in Azure.")
    protect: bool = Field(False, description="Protect the endpoint (always on in prod).")
    compute: ComputeClusterConfig = Field(description="The AmlCompute cluster the deployments run on.")
    deployments: list[BatchDeploymentConfig] = Field(min_length=1, description="Batch deployments.")
    default_deployment: str = Field(description="The deployment the endpoint invokes by default.")

    _unique = field_validator("deployments")(lambda value: deployment_names_unique(value))

    @field_validator("default_deployment")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        names_exist({value: 100}, info)
        return value
