"""The workspace a stack deploys into: looked up by name, or created with its dependencies (workspace as code).

Azure's "Create a workspace" and "Workspace managed identity" documents: a workspace identity goes from
SystemAssigned to SystemAssigned,UserAssigned, never back.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field, field_validator, model_validator

from azureml_endpoints.config.base import ConfigModel, unique_ignoring_case
from azureml_endpoints.config.common import PublicNetworkAccess
from azureml_endpoints.config.names import (
    AppInsightsName,
    AzureRegion,
    ContainerRegistryId,
    ContainerRegistryName,
    KeyVaultName,
    LogAnalyticsName,
    ResourceGroupName,
    StorageAccountName,
    UserAssignedIdentityName,
    WorkspaceName,
)


class WorkspaceIdentityType(str, Enum):
    """The workspace identity kinds the program manages; Azure allows SAI -> SAI+UAI, never back."""

    SYSTEM_ASSIGNED = "SystemAssigned"
    SYSTEM_ASSIGNED_USER_ASSIGNED = "SystemAssigned,UserAssigned"


class RegistrySku(str, Enum):
    BASIC = "Basic"
    STANDARD = "Standard"
    PREMIUM = "Premium"


class SystemDatastoresAuthMode(str, Enum):
    IDENTITY = "Identity"
    ACCESS_KEY = "AccessKey"
    USER_DELEGATION_SAS = "UserDelegationSAS"


class WorkspaceIdentityConfig(ConfigModel):
    type: WorkspaceIdentityType = Field(
        WorkspaceIdentityType.SYSTEM_ASSIGNED,
        description="SystemAssigned, or SystemAssigned,UserAssigned with identities the program creates.",
    )
    user_assigned_identity_names: list[UserAssignedIdentityName] = Field(
        default_factory=list, description="User-assigned identities the program creates and attaches (SystemAssigned,UserAssigned only)."
    )
    primary_user_assigned_identity: str | None = Field(
        None, description="The one of userAssignedIdentityNames the workspace uses to reach its storage, vault, registry and insights."
    )

    @field_validator("user_assigned_identity_names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        unique_ignoring_case(value, "identity names must be unique")
        return value

    @model_validator(mode="after")
    def _fields_match_type(self) -> WorkspaceIdentityConfig:
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
    ("container_registry_sku", "containerRegistrySku", False),
    ("identity", "identity", False),
    ("system_datastores_auth_mode", "systemDatastoresAuthMode", False),
    ("studio_data_preview", "studioDataPreview", False),
)


class WorkspaceConfig(ConfigModel):
    name: WorkspaceName = Field(description="Azure ML workspace name: looked up, or created when create is true.")
    resource_group: ResourceGroupName = Field(description="Resource group of the workspace (it must exist).")
    container_registry_id: ContainerRegistryId | None = Field(
        None,
        description="ARM id of the workspace's container registry; only needed when the workspace has none yet "
        "(Azure creates it lazily on the first image build). Looked-up workspaces only.",
    )
    create: bool = Field(False, description="Create the workspace and its dependencies instead of looking it up.")
    location: AzureRegion | None = Field(None, description="Azure region of a created workspace and its dependencies.")
    storage_account_name: StorageAccountName | None = Field(None, description="Storage account a created workspace gets (globally unique).")
    key_vault_name: KeyVaultName | None = Field(
        None, description="RBAC-mode, purge-protected Key Vault a created workspace gets (globally unique)."
    )
    container_registry_name: ContainerRegistryName | None = Field(
        None, description="Container registry a created workspace gets (globally unique)."
    )
    container_registry_sku: RegistrySku = Field(
        RegistrySku.BASIC,
        description="Tier of the created registry; only Premium can disable public network access or take a private endpoint.",
    )
    log_analytics_workspace_name: LogAnalyticsName | None = Field(None, description="Log Analytics workspace behind Application Insights.")
    application_insights_name: AppInsightsName | None = Field(None, description="Application Insights component of a created workspace.")
    public_network_access: PublicNetworkAccess | None = Field(
        None, description="Enabled or Disabled, stated for the created workspace, vault and registry."
    )
    identity: WorkspaceIdentityConfig = Field(default_factory=WorkspaceIdentityConfig, description="Identity of a created workspace.")
    system_datastores_auth_mode: SystemDatastoresAuthMode = Field(
        SystemDatastoresAuthMode.IDENTITY,
        description="How a created workspace's system datastores authenticate; EndpointIdentityConfig stores no keys.",
    )
    studio_data_preview: bool = Field(
        False, description="Also grant the workspace identity Storage Blob Data Contributor, for data preview in the studio."
    )

    @model_validator(mode="after")
    def _keys_match_mode(self) -> WorkspaceConfig:
        if self.create:
            missing = [key for field, key, required in _CREATE_ONLY if required and getattr(self, field) is None]
            if missing:
                raise ValueError(f"create is true, so these keys are required: {', '.join(missing)}")
            if self.container_registry_id:
                raise ValueError("containerRegistryId is for looked-up workspaces; a created workspace gets containerRegistryName")
            # Azure's "Azure Container Registry service tiers": private endpoints and disabled public access are Premium only.
            if self.public_network_access is PublicNetworkAccess.DISABLED and self.container_registry_sku is not RegistrySku.PREMIUM:
                raise ValueError(
                    f"containerRegistrySku {self.container_registry_sku.value} cannot disable public network access "
                    "(publicNetworkAccess Disabled): only a Premium registry can; set containerRegistrySku: Premium"
                )
            return self
        stray = [key for field, key, _ in _CREATE_ONLY if field in self.model_fields_set]
        if stray:
            raise ValueError(f"{', '.join(stray)} only apply when create is true (this workspace is looked up)")
        return self

    @property
    def baseline_key(self) -> str:
        """How the identity baseline names this workspace: resource group / workspace, lowercase."""
        return f"{self.resource_group}/{self.name}".lower()
