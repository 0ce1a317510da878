"""The stack's config as one typed value: read once, validated against Azure's rules, passed down.

Every rule is one Azure (or product) rule; a violation is reported with the full config key
(`azureml-endpoints:onlineEndpoints[0].deployments[1].instanceCount`) before any resource exists. The parts
live one module per concept beside this one; this module holds the stack root and the rules across them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.azure.clouds import BLOB_GROUP, VAULT_GROUP, WORKSPACE_GROUP, cloud_name
from azureml_endpoints.config.base import (
    ConfigModel,
    KeyedErrors,
    SettingsError,
    config_key,
    quote,
    read_config,
    unique_ignoring_case,
    validate_config,
)
from azureml_endpoints.config.batch import BatchEndpointConfig
from azureml_endpoints.config.catalog import (
    CatalogEnvironmentConfig,
    CatalogModelConfig,
    DeploymentAssets,
    code_identity,
    lock_problem,
    parse_environment_reference,
    project_relative,
    read_model_lock,
    resolve_deployment_assets,
)
from azureml_endpoints.config.common import PublicNetworkAccess
from azureml_endpoints.config.names import TAG_NAME
from azureml_endpoints.config.network import (
    SHARED_REGISTRIES,
    IsolationMode,
    NetworkConfig,
    OutboundRuleType,
    covers,
    isolation_step,
    zone_problems,
)
from azureml_endpoints.config.online import OnlineEndpointConfig
from azureml_endpoints.config.operability import MonitoringConfig
from azureml_endpoints.config.storage import DataStorageConfig
from azureml_endpoints.config.workspace import RegistrySku, WorkspaceConfig, WorkspaceIdentityType

CONFIG_NAMESPACE = "azureml-endpoints"
# "Use tags to organize your Azure resources" (Limitations): at most 50 tag name-value pairs per resource;
# tag names at most 512 characters, 128 for storage accounts (every stack tags its data account); values at
# most 256; tag names are case-insensitive.
MAX_TAGS = 50
# "Autoscale Settings - Create Or Update" (Azure Monitor REST): "A maximum of 15 tags can be provided for a
# resource", keys of at most 128 characters, values of at most 256. Every autoscale setting carries the stack tags.
MAX_AUTOSCALE_SETTING_TAGS = 15
STORAGE_TAG_NAME_LENGTH = 128
TAG_VALUE_LENGTH = 256
PROGRAM_TAGS = ("environment", "stack", "managed-by")  # added by StackConfig.tags_for


# Kinds of named Azure resource with the scope their names are unique in (Azure's "Naming rules and restrictions
# for Azure resources": storage account names are global, Log Analytics workspaces and identities per resource group).
STORAGE_ACCOUNT = "storage account (names are global)"
LOG_ANALYTICS = "Log Analytics workspace (the stack creates both in the workspace's resource group)"
DATASTORE = "datastore of the workspace"
# The datastores Azure ML creates in every workspace ("Create datastores": workspaceblobstore, workspacefilestore;
# the studio lists workspaceartifactstore and workspaceworkingdirectory too): a stack datastore by one of these
# names would take over Azure's.
SYSTEM_DATASTORES = ("workspaceblobstore", "workspacefilestore", "workspaceartifactstore", "workspaceworkingdirectory")


def _dotted(location: tuple) -> str:
    return config_key("", location).removeprefix(":") if location else "a datastore Azure ML creates in every workspace"


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
    network: NetworkConfig | None = Field(
        None, description="Private end to end: managed network, private endpoints, DNS (docs/private-networking.md)."
    )
    network_isolation_baseline: dict[str, str] = Field(
        default_factory=dict,
        description="resourceGroup/workspace (lowercase) -> the managed network isolation mode the workspace has in Azure now.",
    )

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
        return value

    @field_validator("monitoring", "network", mode="before")
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

    def _named_resources(self) -> list[tuple[str, tuple, str]]:
        """(kind of Azure resource and its name scope, config key, name) for every resource the stack creates by a
        configured name that another key could name too; one name per kind is one Azure resource."""
        named: list[tuple[str, tuple, str]] = []
        identity = "user-assigned identity (one per endpoint, cluster or workspace in the resource group)"
        for e, endpoint in enumerate(self.online_endpoints):
            if endpoint.identity.user_assigned_identity_name:
                named.append(
                    (
                        identity,
                        ("onlineEndpoints", e, "identity", "userAssignedIdentityName"),
                        endpoint.identity.user_assigned_identity_name,
                    )
                )
        for e, endpoint in enumerate(self.batch_endpoints):
            for i, name in enumerate(endpoint.compute.identity.user_assigned_identity_names):
                named.append((identity, ("batchEndpoints", e, "compute", "identity", "userAssignedIdentityNames", i), name))
        w = self.workspace
        if w.create:
            for i, name in enumerate(w.identity.user_assigned_identity_names):
                named.append((identity, ("workspace", "identity", "userAssignedIdentityNames", i), name))
            named.append((STORAGE_ACCOUNT, ("workspace", "storageAccountName"), w.storage_account_name))
            named.append((LOG_ANALYTICS, ("workspace", "logAnalyticsWorkspaceName"), w.log_analytics_workspace_name))
        named.append((STORAGE_ACCOUNT, ("dataStorage", "accountName"), self.data_storage.account_name))
        named += [(DATASTORE, (), n) for n in SYSTEM_DATASTORES]
        named.append((DATASTORE, ("dataStorage", "datastoreName"), self.data_storage.datastore_name))
        analytics = self.monitoring.log_analytics if self.monitoring else None
        if analytics is not None and analytics.workspace_name:
            named.append((LOG_ANALYTICS, ("monitoring", "logAnalytics", "workspaceName"), analytics.workspace_name))
        return named

    @model_validator(mode="after")
    def _one_resource_per_name(self) -> StackConfig:
        """Two keys naming one Azure resource would make two Pulumi resources manage it (each undoing the other,
        and a delete of one deleting both): refused at the second key, whether or not the stack has batch endpoints."""
        seen: dict[tuple[str, str], tuple] = {}
        errors = []
        for kind, location, name in self._named_resources():
            first = seen.setdefault((kind, name.casefold()), location)
            if first is not location:
                errors.append(
                    (
                        location,
                        f"{quote(name)} is also {_dotted(first)}: two resources would manage one {kind}, ignoring case as Azure does",
                    )
                )
        if errors:
            raise KeyedErrors(errors)
        return self

    @model_validator(mode="after")
    def _autoscale_setting_tags(self) -> StackConfig:
        """An autoscale setting takes fewer tags than other resources, and it carries the stack's tags."""
        total = len(self.tags) + len(PROGRAM_TAGS)
        if total > MAX_AUTOSCALE_SETTING_TAGS and any(d.autoscale for e in self.online_endpoints for d in e.deployments):
            raise KeyedErrors(
                [
                    (
                        ("tags",),
                        f"{len(self.tags)} tags plus the program's {len(PROGRAM_TAGS)} exceed the {MAX_AUTOSCALE_SETTING_TAGS} "
                        f'an autoscale setting takes ("Autoscale Settings - Create Or Update"); with autoscale keep at most '
                        f"{MAX_AUTOSCALE_SETTING_TAGS - len(PROGRAM_TAGS)}",
                    )
                ]
            )
        return self

    @model_validator(mode="after")
    def _assets_resolve(self) -> StackConfig:
        """Every deployment's model, code and environment resolve, every models entry's environment resolves,
        and every shipped model matches the lock file."""
        errors = []
        for index, entry in enumerate(self.models):
            if entry.environment is not None:
                try:
                    parse_environment_reference(entry.environment, self.environments)
                except ValueError as error:
                    errors.append((("models", index, "environment"), str(error)))
        if errors:  # a deployment of such an entry would repeat the error
            raise KeyedErrors(errors)
        code_folders: dict[tuple[str, str], Path] = {}
        for key, _ in self._deployments():
            try:
                assets = self._resolve(*key)
            except ValueError as error:
                field, _, message = str(error).partition(": ")
                errors.append(((*self._location(*key), field), message))
                continue
            if assets.code is None:
                continue
            # Two folders with the same name and the same files would be one Azure code asset (name, content version).
            identity = code_identity(assets.code)
            other = code_folders.setdefault(identity, assets.code)
            if other != assets.code:
                errors.append(
                    (
                        (*self._location(*key), "code"),
                        f"{project_relative(assets.code)} and {project_relative(other)} hold the same files under the same folder "
                        f"name, so both would be code asset {identity[0]}:{identity[1]}: name one of the two folders in both deployments",
                    )
                )
        lock = read_model_lock()
        for index, entry in enumerate(self.models):
            problem = lock_problem(entry, lock)
            if problem:
                errors.append((("models", index, "version"), problem))
        if errors:
            raise KeyedErrors(errors)
        return self

    @model_validator(mode="after")
    def _registries_reached(self) -> StackConfig:
        """In a private stack every registry a deployment runs an asset of is reachable from the managed network:
        listed in network.registries (one private endpoint rule each), or one Azure runs for every tenant, with the
        FQDN rules it needs in AllowOnlyApprovedOutbound. A listed registry no deployment uses is refused: its rule
        would be a private endpoint billed for nothing, and it is most often a misspelling of the one in use."""
        if self.network is None:
            return self
        listed = {r.name.casefold() for r in self.network.registries}
        approved_only = self.network.isolation_mode is IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND
        fqdn = [r.destination for r in self.network.outbound_rules if r.type is OutboundRuleType.FQDN]
        errors, used = [], set()
        for key, _ in self._deployments():
            assets = self._resolve(*key)
            for field, ref in (("model", assets.model), ("environment", assets.environment)):
                if ref is None or ref.kind != "registry":
                    continue
                registry = ref.registry.casefold()
                used.add(registry)
                if registry in SHARED_REGISTRIES:
                    missing = [h for h in SHARED_REGISTRIES[registry] if approved_only and not any(covers(d, h) for d in fqdn)]
                    if missing:
                        errors.append(
                            (
                                (*self._location(*key), field),
                                f"registry {quote(ref.registry)} serves its files from outside Azure, and a managed network in "
                                f"AllowOnlyApprovedOutbound reaches them only through FQDN rules: add network.outboundRules of "
                                f"type FQDN for {', '.join(missing)}",
                            )
                        )
                elif registry not in listed:
                    errors.append(
                        (
                            (*self._location(*key), field),
                            f"registry {quote(ref.registry)} is not in network.registries: the managed network reaches a "
                            f"registry only through a private endpoint rule to its ARM id; add {{name: {ref.registry}, "
                            f"resourceId: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/"
                            f"registries/{ref.registry}}} to network.registries",
                        )
                    )
        for index, registry in enumerate(self.network.registries):
            if registry.name.casefold() not in used:
                errors.append(
                    (
                        ("network", "registries", index),
                        f"no deployment runs a model or environment of registry {quote(registry.name)}: remove it, or "
                        "name it in a deployment's azureml://registries/<name>/... (the names compare ignoring case)",
                    )
                )
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
        return resolve_deployment_assets(d.model, d.code, d.scoring_script, d.environment, self.models, self.environments, d.model_type)

    def deployment_assets(self) -> dict[tuple[str, str, str], DeploymentAssets]:
        """(online|batch, endpoint name, deployment name) -> what that deployment runs."""
        endpoints = {"online": self.online_endpoints, "batch": self.batch_endpoints}
        return {
            (kind, endpoints[kind][e].name, deployment.name): self._resolve(kind, e, d) for (kind, e, d), deployment in self._deployments()
        }

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

    @model_validator(mode="after")
    def _private_end_to_end(self) -> StackConfig:
        """With network set, nothing the stack creates stays reachable from the internet, each refusal at its key."""
        if self.network is None:
            return self
        errors = []
        w = self.workspace
        if w.create and w.public_network_access is not PublicNetworkAccess.DISABLED:
            errors.append((("workspace", "publicNetworkAccess"), "must be Disabled: the stack is private (network)"))
        if w.create and w.container_registry_sku is not RegistrySku.PREMIUM:
            errors.append(
                (("workspace", "containerRegistrySku"), "must be Premium: only Premium registries take private endpoints (network)")
            )
        for index, endpoint in enumerate(self.online_endpoints):
            if endpoint.public_network_access is not PublicNetworkAccess.DISABLED:
                errors.append((("onlineEndpoints", index, "publicNetworkAccess"), "must be Disabled: the stack is private (network)"))
        clusters = [e.compute.name for e in self.batch_endpoints]
        build = self.network.image_build_compute
        if w.create and build is None:
            errors.append(
                (("network", "imageBuildCompute"), "is required for a created workspace: a registry behind a network cannot build images")
            )
        elif build is not None and build not in clusters:
            errors.append(
                (("network", "imageBuildCompute"), f"{quote(build)} is not a batch endpoint's cluster ({', '.join(clusters) or 'none'})")
            )
        if errors:
            raise KeyedErrors(errors)
        return self

    @model_validator(mode="after")
    def _isolation_only_forward(self) -> StackConfig:
        """Azure: managed network isolation cannot be disabled once enabled, nor loosened."""
        baseline = {k.lower(): v for k, v in self.network_isolation_baseline.items()}
        was = baseline.get(self.workspace.baseline_key)
        now = self.network.isolation_mode if self.network else IsolationMode.DISABLED
        if was in [m.value for m in IsolationMode] and isolation_step(was) > isolation_step(now.value):
            raise KeyedErrors(
                [
                    (
                        ("network", "isolationMode"),
                        f"workspace '{self.workspace.name}' has managed network {was} in Azure (networkIsolationBaseline) and "
                        f"isolation only moves forward (Disabled -> AllowInternetOutbound -> AllowOnlyApprovedOutbound): not {now.value}",
                    )
                ]
            )
        return self

    def private_endpoint_groups(self) -> list[str]:
        """The private endpoint groups the stack creates: the data storage's blob; a created workspace's own and its vault's."""
        if self.network is None:
            return []
        return [BLOB_GROUP] + ([WORKSPACE_GROUP, VAULT_GROUP] if self.workspace.create else [])

    def tags_for(self, stack: str) -> dict[str, str]:
        """The tags every taggable resource carries."""
        return {**self.tags, "environment": self.environment.value, "stack": stack, "managed-by": "pulumi"}

    def is_protected(self, endpoint: OnlineEndpointConfig | BatchEndpointConfig) -> bool:
        return endpoint.protect or self.environment is Environment.PROD


def parse_settings(raw: Mapping[str, Any]) -> StackConfig:
    """Validates raw config values (keys without the namespace) into settings, or raises SettingsError."""
    return validate_config(StackConfig, CONFIG_NAMESPACE, raw)


def check_cloud(settings: StackConfig, cloud: str) -> StackConfig:
    """Rules that need the cloud the provider deploys to (private DNS zone names differ per cloud)."""
    if settings.network is not None:
        problems = zone_problems(settings.network, cloud, settings.private_endpoint_groups())
        if problems:
            key = config_key(CONFIG_NAMESPACE, ("network", "dns", "zoneIds"))
            raise SettingsError(f"invalid {CONFIG_NAMESPACE} config:\n  " + "\n  ".join(f"{key}: {p}" for p in problems))
    return settings


def provider_cloud(environment: str | None) -> str:
    """The cloud azure-native deploys to: its `environment` setting, else ARM_ENVIRONMENT, else public."""
    try:
        return cloud_name(environment or os.environ.get("ARM_ENVIRONMENT"))
    except ValueError as error:
        raise SettingsError(f"azure-native:environment: {error}") from None


def stack_file_settings(stack: str) -> StackConfig:
    """A stack's settings as the program would read them, from Pulumi.<stack>.yaml over Pulumi.yaml's defaults,
    without the Pulumi CLI (the commands that judge or place a stack); raises SettingsError naming each key."""
    from azureml_endpoints.config.base import decode_config
    from azureml_endpoints.pulumi_io.stack_files import project_defaults, stack_config

    values = {**project_defaults(), **stack_config(stack)}
    prefix = CONFIG_NAMESPACE + ":"
    return parse_settings(decode_config({k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}, StackConfig))


def load_settings(config) -> StackConfig:
    """Reads every setting from a `pulumi.Config` for the project namespace and validates it, with the
    provider's cloud (`azure-native:environment`) for the rules that depend on it."""
    import pulumi

    settings = parse_settings(read_config(config, StackConfig))
    return check_cloud(settings, provider_cloud(pulumi.Config("azure-native").get("environment")))
