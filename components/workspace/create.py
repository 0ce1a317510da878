"""An Azure ML workspace created as code, with the identities, roles and hardened dependencies Azure's
"Set up authentication between Azure Machine Learning and other services" describes.

Creates, in the stack's resource group and the configured location: a storage account (the product's storage
baseline), a Key Vault in RBAC mode with purge protection, a container registry without admin user or
anonymous pull, Application Insights on a Log Analytics workspace, the workspace (system datastores
authenticated by identity), and a private container plus an identity-based datastore for the program's
assets. Its `info` is the same `WorkspaceInfo` a looked-up workspace yields, with outputs where values only
exist after creation.

Order with a user-assigned primary identity (Azure checks the identity's access when the workspace is created):
  identities -> roles on storage, vault, registry, insights -> wait -> workspace -> Contributor on the workspace
"""

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import applicationinsights, containerregistry, keyvault, operationalinsights, storage
from pulumi_azure_native import machinelearningservices as ml

from azureml_endpoints.azure.clouds import BLOB_GROUP, VAULT_GROUP, WORKSPACE_GROUP
from azureml_endpoints.config.network import NetworkConfig
from azureml_endpoints.config.workspace import WorkspaceConfig, WorkspaceIdentityType
from azureml_endpoints.resources.identity import user_assigned_identity
from azureml_endpoints.resources.storage_account import secure_storage_account
from components.data_storage import storage_suffix
from components.role_assignments import RoleAssignments, RoleAssignmentsArgs, RoleGrant
from components.workspace.info import WorkspaceInfo

# The program's own container and identity-based datastore for assets in a created workspace. Azure's default
# container (azureml-blobstore-<workspace GUID>) is named after a GUID that exists only after creation and is not
# a documented contract; a container of this stack is known in every preview and orders the uploads after it.
ASSET_CONTAINER = "assets"
ASSET_DATASTORE = "assets"
# Key Vault keeps a deleted vault (and its name) this many days; purge protection forbids purging it earlier.
KEY_VAULT_RETENTION_DAYS = 90
LOG_RETENTION_DAYS = 30

# The document's role set for the workspace's user-assigned identity: (role, dependency, label). Granted before
# the workspace exists, because Azure checks this access when it creates the workspace.
DEPENDENCY_ROLES = (
    ("Contributor", "storage", "storage-contributor"),
    ("Contributor", "vault", "vault-contributor"),
    ("Key Vault Administrator", "vault", "vault-administrator"),
    ("Contributor", "registry", "registry-contributor"),
    ("Contributor", "insights", "insights-contributor"),
)
STUDIO_DATA_PREVIEW_ROLE = ("Storage Blob Data Contributor", "storage", "storage-blob-data-contributor")


@dataclass(frozen=True)
class MlWorkspaceArgs:
    settings: WorkspaceConfig  # create is true: every dependency name is set
    subscription_id: str
    tenant_id: str
    tags: dict[str, str]
    protect: bool
    propagation_seconds: int
    # A private stack: the managed network and the private endpoints, with the zones (None: left to Azure Policy).
    network: NetworkConfig | None = None
    cloud: str = "public"
    zone_ids: dict[str, pulumi.Input[str]] | None = None


class MlWorkspace(pulumi.ComponentResource):
    def __init__(self, name: str, args: MlWorkspaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:machinelearningservices:MlWorkspace", name, {}, opts)
        s = args.settings
        rg, location, tags = s.resource_group, s.location, args.tags
        child = pulumi.ResourceOptions(parent=self)
        network = s.public_network_access.value
        private = args.network is not None

        # Public stacks keep shared keys on: azure-native's storage.Blob lists the account key to upload the assets
        # (docs/decisions/shared-keys-for-uploads.md). A private stack uploads with Entra (resources/entra_blob.py),
        # so its storage refuses keys. The workspace itself stores no keys (systemDatastoresAuthMode Identity).
        account = secure_storage_account(
            f"{name}-storage",
            s.storage_account_name,
            rg,
            location,
            storage.SkuName.STANDARD_LRS,
            not private,
            tags,
            child,
            public_network_access=network if private else None,
        )
        container = storage.BlobContainer(
            f"{name}-assets-container",
            storage.BlobContainerArgs(
                account_name=account.name,
                resource_group_name=rg,
                container_name=ASSET_CONTAINER,
                public_access=storage.PublicAccess.NONE,
            ),
            child,
        )
        vault = keyvault.Vault(
            f"{name}-vault",
            keyvault.VaultArgs(
                vault_name=s.key_vault_name,
                resource_group_name=rg,
                location=location,
                properties=keyvault.VaultPropertiesArgs(
                    tenant_id=args.tenant_id,
                    sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                    enable_rbac_authorization=True,
                    enable_soft_delete=True,
                    soft_delete_retention_in_days=KEY_VAULT_RETENTION_DAYS,
                    enable_purge_protection=True,
                    public_network_access=network,
                ),
                tags=tags,
            ),
            pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        registry = containerregistry.Registry(
            f"{name}-registry",
            containerregistry.RegistryArgs(
                registry_name=s.container_registry_name,
                resource_group_name=rg,
                location=location,
                sku=containerregistry.SkuArgs(name=s.container_registry_sku.value),
                admin_user_enabled=False,
                anonymous_pull_enabled=False,
                public_network_access=network,
                tags=tags,
            ),
            child,
        )
        logs = operationalinsights.Workspace(
            f"{name}-logs",
            operationalinsights.WorkspaceArgs(
                workspace_name=s.log_analytics_workspace_name,
                resource_group_name=rg,
                location=location,
                sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
                retention_in_days=LOG_RETENTION_DAYS,
                tags=tags,
            ),
            child,
        )
        # Keyword form: the Args class cannot carry `resource_name` (it clashes with the logical name).
        insights = applicationinsights.Component(
            f"{name}-insights",
            child,
            resource_name_=s.application_insights_name,
            resource_group_name=rg,
            location=location,
            kind="web",
            application_type=applicationinsights.ApplicationType.WEB,
            ingestion_mode=applicationinsights.IngestionMode.LOG_ANALYTICS,
            workspace_resource_id=logs.id,
            tags=tags,
        )

        identities = {
            n: user_assigned_identity(f"{name}-identity-{n}", n, rg, location, tags, child) for n in s.identity.user_assigned_identity_names
        }
        primary = identities.get(s.identity.primary_user_assigned_identity)
        ready = []
        if primary is not None:
            scopes = {"storage": account.id, "vault": vault.id, "registry": registry.id, "insights": insights.id}
            roles = DEPENDENCY_ROLES + ((STUDIO_DATA_PREVIEW_ROLE,) if s.studio_data_preview else ())
            dependency_roles = RoleAssignments(
                f"{name}-identity-roles",
                RoleAssignmentsArgs(
                    subscription_id=args.subscription_id,
                    principal_id=primary.principal_id,
                    grants=tuple(RoleGrant(role, scopes[target], label) for role, target, label in roles),
                    propagation_seconds=args.propagation_seconds,
                ),
                child,
            )
            ready.append(dependency_roles.wait)

        user_assigned = s.identity.type is WorkspaceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED
        workspace = ml.Workspace(
            f"{name}-workspace",
            ml.WorkspaceArgs(
                workspace_name=s.name,
                resource_group_name=rg,
                location=location,
                identity=ml.ManagedServiceIdentityArgs(
                    type=s.identity.type.value,
                    user_assigned_identities=[i.id for i in identities.values()] if user_assigned else None,
                ),
                primary_user_assigned_identity=primary.id if primary is not None else None,
                storage_account=account.id,
                key_vault=vault.id,
                container_registry=registry.id,
                application_insights=insights.id,
                system_datastores_auth_mode=s.system_datastores_auth_mode.value,
                public_network_access=network,
                **_managed_network(args.network),
                tags=tags,
            ),
            pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=ready),
        )
        endpoints = []
        if private:
            from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs  # private stacks only

            targets = (
                (WORKSPACE_GROUP, workspace.id, s.name),
                (VAULT_GROUP, vault.id, s.key_vault_name),
                (BLOB_GROUP, account.id, s.storage_account_name),
            )
            endpoints = [
                PrivateEndpoint(
                    f"{name}-{group}-private-endpoint",
                    PrivateEndpointArgs(
                        target_id=target,
                        group=group,
                        endpoint_name=f"pe-{resource_name}-{group}",
                        subnet_id=args.network.private_endpoint_subnet_id,
                        resource_group=rg,
                        location=location,
                        cloud=args.cloud,
                        zone_ids=args.zone_ids,
                        tags=tags,
                    ),
                    child,
                )
                for group, target, resource_name in targets
            ]
        if primary is not None:
            RoleAssignments(
                f"{name}-identity-workspace-role",
                RoleAssignmentsArgs(
                    subscription_id=args.subscription_id,
                    principal_id=primary.principal_id,
                    grants=(RoleGrant("Contributor", workspace.id, "workspace-contributor"),),
                    propagation_seconds=None,
                ),
                child,
            )

        datastore = ml.Datastore(
            f"{name}-assets-datastore",
            ml.DatastoreArgs(
                name=ASSET_DATASTORE,
                resource_group_name=rg,
                workspace_name=workspace.name,
                properties=ml.AzureBlobDatastoreArgs(
                    datastore_type="AzureBlob",
                    account_name=account.name,
                    container_name=container.name,
                    endpoint=account.primary_endpoints.apply(lambda e: storage_suffix(e.blob)),
                    protocol="https",
                    credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
                    description="Model and code assets the program uploads; read with the caller's or the compute's identity",
                ),
            ),
            child,
        )

        self.info = WorkspaceInfo(
            id=workspace.id,
            name=workspace.name,
            resource_group=rg,
            subscription_id=args.subscription_id,
            location=location,
            storage_account_id=account.id,
            container_registry_id=registry.id,
            datastore_name=datastore.name,
            datastore_account_name=account.name,
            datastore_container_name=container.name,
            datastore_blob_endpoint=account.primary_endpoints.apply(lambda e: e.blob),
            datastore_resource_group=rg,
            network_ready=(workspace, *endpoints) if private else (),
            network_approver_principal_id=primary.principal_id if private and primary is not None else None,
            keyless=private,
        )
        self.workspace_id = workspace.id
        self.primary_identity_id = primary.id if primary is not None else None
        self.register_outputs(
            {
                "workspaceId": self.workspace_id,
                "workspaceName": workspace.name,
                "storageAccountId": account.id,
                "keyVaultId": vault.id,
                "containerRegistryId": registry.id,
                "applicationInsightsId": insights.id,
                "primaryUserAssignedIdentityId": self.primary_identity_id,
            }
        )


def _managed_network(settings: NetworkConfig | None) -> dict:
    """The workspace's managed network, provisioned with the workspace: "You can't create online deployments
    until you provision the managed network" (Azure's "Network isolation with managed online endpoints").
    azure-native 3.29.0 has no resource for the provisionManagedNetwork action; `provisionNetworkNow` is its way."""
    if settings is None:
        return {}
    return {
        "managed_network": ml.ManagedNetworkSettingsArgs(
            isolation_mode=settings.isolation_mode.value,
            # Only FQDN rules run on the Azure Firewall (and cost it): no SKU without them.
            firewall_sku=settings.firewall_sku.value if settings.has_fqdn_rules else None,
        ),
        "provision_network_now": True,
        # A registry behind a network cannot build images; the named cluster builds them.
        "image_build_compute": settings.image_build_compute,
    }


def create_workspace(
    settings: WorkspaceConfig,
    subscription_id: str,
    tenant_id: str,
    tags: dict[str, str],
    protect: bool,
    propagation_seconds: int,
    network: NetworkConfig | None = None,
    cloud: str = "public",
    zone_ids: dict[str, pulumi.Input[str]] | None = None,
) -> WorkspaceInfo:
    """The created workspace's `WorkspaceInfo` (the other way to obtain one is `lookup_workspace`)."""
    return MlWorkspace(
        "workspace",
        MlWorkspaceArgs(
            settings=settings,
            subscription_id=subscription_id,
            tenant_id=tenant_id,
            tags=tags,
            protect=protect,
            propagation_seconds=propagation_seconds,
            network=network,
            cloud=cloud,
            zone_ids=zone_ids,
        ),
    ).info
