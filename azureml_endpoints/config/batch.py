"""Batch endpoints, their deployments and the AmlCompute cluster they run on.

Azure's "Deploy models for scoring in batch endpoints", "CLI (v2) batch deployment YAML schema" and "Create an
Azure Machine Learning compute cluster".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.config.base import ConfigModel, iso_duration, quote, unique_ignoring_case
from azureml_endpoints.config.catalog import ModelType, asset_files, project_relative, repository_path
from azureml_endpoints.config.common import (
    CODE_KEY_HELP,
    ENVIRONMENT_KEY_HELP,
    MODEL_KEY_HELP,
    MODEL_TYPE_HELP,
    SCORING_SCRIPT_HELP,
    AzMlCodeConfiguration,
    IdentityType,
    az_ml_deployment_spellings,
    code_configuration_field,
    deployment_names_unique,
    names_exist,
)
from azureml_endpoints.config.names import ComputeName, DeploymentName, EndpointName, OutputFileName, UserAssignedIdentityName, VmSize

# Integers Azure ML's REST API carries as int32 ("Microsoft.MachineLearningServices workspaces/batchEndpoints/
# deployments" template reference: errorThreshold int; "CLI (v2) batch deployment YAML schema": -1 ignores
# every failure).
INT32_MAX = 2**31 - 1
_duration = iso_duration()
# Where a batch job reads its input ("Create jobs and input data for batch endpoints"; "Data concepts in Azure
# Machine Learning", URI forms): a datastore path, short or workspace-qualified, or a data asset by name and version.
DATASTORE_PATH = re.compile(
    r"azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/workspaces/[^/]+/)?datastores/[A-Za-z0-9_]{1,255}/paths/\S*"
)
DATA_ASSET = re.compile(r"azureml:[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}:[A-Za-z0-9][A-Za-z0-9._-]{0,29}")
# The batch deployment YAML's `settings:` block ("CLI (v2) batch deployment YAML schema") and the stack key of each.
AZ_ML_BATCH_SETTINGS = {
    "max_concurrency_per_instance": "maxConcurrencyPerInstance",
    "mini_batch_size": "miniBatchSize",
    "output_action": "outputAction",
    "output_file_name": "outputFileName",
    "retry_settings": "retrySettings: {maxRetries, timeout}",
    "logging_level": "loggingLevel",
    "environment_variables": "environmentVariables",
    "error_threshold": "errorThreshold",
}


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
    code_configuration: AzMlCodeConfiguration | None = code_configuration_field()
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
        if isinstance(data, Mapping) and isinstance(data.get("settings"), Mapping):
            written = [f"{AZ_ML_BATCH_SETTINGS.get(k, k)}" for k in data["settings"]]
            raise ValueError(
                f"settings: the az ml batch deployment block; write {', '.join(written) or 'its keys'} on the deployment itself instead"
            )
        return az_ml_deployment_spellings(data)


class BatchInputConfig(ConfigModel):
    """What a job of the endpoint reads by default: a project folder this stack uploads, or data already in Azure."""

    folder: str | None = Field(
        None, description="Project folder uploaded to the data container under batch-input/<folder>/ (every file, sub-folders kept)."
    )
    uri: str | None = Field(
        None,
        description="Data already in Azure: azureml://datastores/<datastore>/paths/<path> (or its workspace-qualified form), "
        "or a data asset azureml:<name>:<version>.",
    )

    @field_validator("folder")
    @classmethod
    def _folder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        folder = repository_path(value, "folder")
        if not asset_files(folder):
            raise ValueError(f"{quote(value)} holds no files to upload")
        return project_relative(folder)

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if value is not None and not (DATASTORE_PATH.fullmatch(value) or DATA_ASSET.fullmatch(value)):
            raise ValueError(
                f"{quote(value)} is not a batch input: write azureml://datastores/<datastore>/paths/<path> "
                "or a data asset azureml:<name>:<version>"
            )
        return value

    @model_validator(mode="after")
    def _one(self) -> BatchInputConfig:
        if (self.folder is None) == (self.uri is None):
            raise ValueError("name exactly one of folder (a project folder to upload) or uri (data already in Azure)")
        return self

    def files(self) -> list[tuple[Path, str]]:
        """(file, blob name) of an uploaded folder: under batch-input/<folder>/, so each folder keeps its own blobs."""
        if self.folder is None:
            return []
        root = repository_path(self.folder, "folder")
        return [(path, f"{self.blob_prefix}{path.relative_to(root).as_posix()}") for path in asset_files(root)]

    @property
    def blob_prefix(self) -> str:
        return f"batch-input/{self.folder}/"


class BatchEndpointConfig(ConfigModel):
    name: EndpointName = Field(description="Batch endpoint name, unique in the Azure region.")
    description: str | None = Field(None, description="Shown on the endpoint in Azure.")
    protect: bool = Field(False, description="Protect the endpoint (always on in prod).")
    compute: ComputeClusterConfig = Field(description="The AmlCompute cluster the deployments run on.")
    input: BatchInputConfig | None = Field(
        None,
        description="The data its jobs read unless the caller names other: {folder: <project folder>} uploaded here, or "
        "{uri: azureml://...}; the endpoint's `input` output says where. Without it nothing is uploaded (docs/batch.md#input-data).",
    )
    deployments: list[BatchDeploymentConfig] = Field(min_length=1, description="Batch deployments.")
    default_deployment: str = Field(description="The deployment the endpoint invokes by default.")

    _unique = field_validator("deployments")(lambda value: deployment_names_unique(value))

    @field_validator("default_deployment")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        names_exist({value: 100}, info)
        return value
