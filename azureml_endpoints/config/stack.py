"""The stack's config as one typed value: read once, validated against Azure's rules, passed down.

Every rule is one Azure (or product) rule; a violation is reported with the full config key
(`azureml-endpoints:onlineEndpoints[0].deployments[1].instanceCount`) before any resource exists. The parts
live one module per concept beside this one; this module holds the stack root and the rules across them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.config.base import ConfigModel, KeyedErrors, quote, read_config, unique_ignoring_case, validate_config
from azureml_endpoints.config.batch import BatchEndpointConfig
from azureml_endpoints.config.catalog import (
    SAMPLE_MODEL,
    CatalogEnvironmentConfig,
    CatalogModelConfig,
    DeploymentAssets,
    lock_problem,
    read_model_lock,
    resolve_deployment_assets,
)
from azureml_endpoints.config.names import TAG_NAME
from azureml_endpoints.config.online import OnlineEndpointConfig
from azureml_endpoints.config.operability import MonitoringConfig
from azureml_endpoints.config.storage import DataStorageConfig
from azureml_endpoints.config.workspace import WorkspaceConfig, WorkspaceIdentityType

CONFIG_NAMESPACE = "azureml-endpoints"
# "Use tags to organize your Azure resources" (Limitations): at most 50 tag name-value pairs per resource;
# tag names at most 512 characters, 128 for storage accounts (every stack tags its data account); values at
# most 256; tag names are case-insensitive.
MAX_TAGS = 50
STORAGE_TAG_NAME_LENGTH = 128
TAG_VALUE_LENGTH = 256
PROGRAM_TAGS = ("environment", "stack", "managed-by")  # added by StackConfig.tags_for


class Environment(str, Enum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class StackConfig(ConfigModel):
    environment: Environment = Field(description="dev, staging or prod; prod always protects endpoints.")
    tags: dict[str, str] = Field(description="Tags on every taggable resource; must include owner.")
    workspace: WorkspaceConfig = Field(
        description="The Azure ML workspace the endpoints live in: looked up by name, or created (create: true)."
    )
    data_storage: DataStorageConfig = Field(description="The storage account and container holding the data the scoring scripts read.")
    role_propagation_seconds: int = Field(
        120, ge=0, le=900, description="Wait after role assignments before deployments start (Azure RBAC propagation)."
    )
    online_endpoints: list[OnlineEndpointConfig] = Field(default_factory=list, description="Managed online endpoints.")
    batch_endpoints: list[BatchEndpointConfig] = Field(default_factory=list, description="Batch endpoints.")
    models: list[CatalogModelConfig] = Field(default_factory=list, description="Models this repository ships and registers.")
    environments: list[CatalogEnvironmentConfig] = Field(default_factory=list, description="Environments this repository defines.")
    workspace_identity_baseline: dict[str, str] = Field(
        default_factory=dict,
        description="resourceGroup/workspace (lowercase) -> the identity type each created workspace has in Azure now; "
        "written by `azureml-endpoints baseline --program-config` from the stack's state.",
    )
    monitoring: MonitoringConfig | None = Field(None, description="Logs, Application Insights and alerts for online endpoints.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("owner"):
            raise ValueError("must include a non-empty owner")
        bad = sorted(quote(k) for k in value if not TAG_NAME.pattern.fullmatch(k))
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
    def _unique_endpoints(cls, value: list[OnlineEndpointConfig]) -> list[OnlineEndpointConfig]:
        unique_ignoring_case([e.name for e in value], "endpoint names must be unique in the region")
        uai = [e.identity.user_assigned_identity_name for e in value if e.identity.user_assigned_identity_name]
        unique_ignoring_case(uai, "each user-assigned identity belongs to one endpoint")
        return value

    @field_validator("batch_endpoints")
    @classmethod
    def _unique_batch(cls, value: list[BatchEndpointConfig], info: ValidationInfo) -> list[BatchEndpointConfig]:
        online = [e.name for e in info.data.get("online_endpoints") or []]
        unique_ignoring_case(online + [e.name for e in value], "endpoint names must be unique in the region, online and batch")
        unique_ignoring_case([e.compute.name for e in value], "compute cluster names must be unique in the workspace")
        identities = [e.identity.user_assigned_identity_name for e in info.data.get("online_endpoints") or []]
        identities += [n for e in value for n in e.compute.identity.user_assigned_identity_names]
        workspace = info.data.get("workspace")
        if workspace is not None and workspace.create:
            identities += workspace.identity.user_assigned_identity_names
        unique_ignoring_case(
            [n for n in identities if n], "each user-assigned identity belongs to one endpoint or cluster (or the workspace)"
        )
        return value

    @field_validator("monitoring", mode="before")
    @classmethod
    def _empty_monitoring_is_none(cls, value: Any) -> Any:
        # Pulumi.yaml declares {} as the default (the CLI requires one for an optional key): it means no monitoring.
        return None if value == {} else value

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[CatalogModelConfig]) -> list[CatalogModelConfig]:
        unique_ignoring_case([m.reference for m in value], "each model version is listed once")
        return value

    @field_validator("environments")
    @classmethod
    def _unique_environments(cls, value: list[CatalogEnvironmentConfig]) -> list[CatalogEnvironmentConfig]:
        unique_ignoring_case([e.name for e in value], "environment names must be unique")
        return value

    @model_validator(mode="after")
    def _some_endpoint(self) -> StackConfig:
        if not self.online_endpoints and not self.batch_endpoints:
            raise ValueError("onlineEndpoints, batchEndpoints: the stack needs at least one endpoint")
        return self

    @model_validator(mode="after")
    def _assets_resolve(self) -> StackConfig:
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
            (kind, endpoints[kind][e].name, deployment.name): self._resolve(kind, e, d) for (kind, e, d), deployment in self._deployments()
        }

    def uses_sample_model(self) -> bool:
        return any(d.model is None for _, d in self._deployments())

    @model_validator(mode="after")
    def _workspace_identity_only_grows(self) -> StackConfig:
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

    def is_protected(self, endpoint: OnlineEndpointConfig | BatchEndpointConfig) -> bool:
        return endpoint.protect or self.environment is Environment.PROD


def parse_settings(raw: Mapping[str, Any]) -> StackConfig:
    """Validates raw config values (keys without the namespace) into settings, or raises SettingsError."""
    return validate_config(StackConfig, CONFIG_NAMESPACE, raw)


def load_settings(config) -> StackConfig:
    """Reads every setting from a `pulumi.Config` for the project namespace and validates it."""
    return parse_settings(read_config(config, StackConfig))
