"""Where the stacks' state and secrets live: one Blob container and one Key Vault key per environment.

Each environment's identities are granted its own container and key only, so no environment's pipeline can
read, overwrite or delete another's state or decrypt its secrets. The account takes Entra sign-in only (no
shared keys) and keeps what is overwritten or deleted: blob versioning, blob and container soft delete, and a
delete lock on the resource group. The vault uses Azure RBAC, soft delete and purge protection, so losing a
key cannot lose the secrets.
"""

from dataclasses import dataclass

import pulumi
from bootstrap_settings import State, state_container, state_key
from pulumi_azure_native import authorization, keyvault, resources, storage

from azureml_endpoints.resources.storage_account import secure_storage_account

# Days a deleted or overwritten state blob, and a deleted container, can be restored.
RETENTION_DAYS = 30
# ISO 8601 durations of the keys' rotation policy (Key Vault, "Configure cryptographic key auto-rotation"): a
# KeyNearExpiry event a year after a version is created, and the expiry set on each new version.
KEY_ROTATION_DUE = "P1Y"
KEY_EXPIRY = "P2Y"


@dataclass(frozen=True)
class StateBackendArgs:
    state: State
    environments: tuple[str, ...]
    location: str
    tenant_id: str
    tags: dict[str, str]


class StateBackend(pulumi.ComponentResource):
    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:bootstrap:StateBackend", name, {}, opts)
        s = args.state
        child = pulumi.ResourceOptions(parent=self, protect=True)
        group = resources.ResourceGroup(
            f"{name}-group",
            resources.ResourceGroupArgs(resource_group_name=s.resource_group, location=args.location, tags=args.tags),
            child,
        )
        # `protect` only stops Pulumi; the lock stops anyone deleting the account, vault or group in Azure.
        authorization.ManagementLockAtResourceGroupLevel(
            f"{name}-lock",
            authorization.ManagementLockAtResourceGroupLevelArgs(
                lock_name="pulumi-state-do-not-delete",
                resource_group_name=group.name,
                level=authorization.LockLevel.CAN_NOT_DELETE,
                notes="Pulumi state and secrets keys of every environment; see the bootstrap project.",
            ),
            child,
        )
        # Entra sign-in only: the pipelines reach the state with their OIDC identities, never a key.
        account = secure_storage_account(
            f"{name}-account", s.storage_account, group.name, args.location, storage.SkuName.STANDARD_ZRS, False, args.tags, child
        )
        # A state overwritten by a bad run or deleted blob by blob can be restored from a version or soft delete.
        blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            storage.BlobServicePropertiesArgs(
                account_name=account.name,
                resource_group_name=group.name,
                blob_services_name="default",
                is_versioning_enabled=True,
                delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=RETENTION_DAYS),
                container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=RETENTION_DAYS),
            ),
            child,
        )
        vault = keyvault.Vault(
            f"{name}-vault",
            keyvault.VaultArgs(
                vault_name=s.key_vault,
                resource_group_name=group.name,
                location=args.location,
                properties=keyvault.VaultPropertiesArgs(
                    tenant_id=args.tenant_id,
                    sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                    enable_rbac_authorization=True,
                    enable_soft_delete=True,
                    soft_delete_retention_in_days=90,
                    enable_purge_protection=True,
                ),
                tags=args.tags,
            ),
            child,
        )
        # The vault's own URI carries this cloud's vault host; the secrets provider URLs are built from it.
        vault_host = vault.properties.apply(lambda p: p.vault_uri.split("://", 1)[1].rstrip("/"))
        self.container_ids: dict[str, pulumi.Output[str]] = {}
        self.key_ids: dict[str, pulumi.Output[str]] = {}
        self.backend_urls: dict[str, pulumi.Output[str]] = {}
        self.secrets_provider_urls: dict[str, pulumi.Output[str]] = {}
        for env in args.environments:
            container = storage.BlobContainer(
                f"{name}-container-{env}",
                storage.BlobContainerArgs(
                    account_name=account.name,
                    resource_group_name=group.name,
                    container_name=state_container(s, env),
                    public_access=storage.PublicAccess.NONE,
                ),
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[blob_service])),
            )
            key = keyvault.Key(
                f"{name}-key-{env}",
                keyvault.KeyArgs(
                    key_name=state_key(s, env),
                    vault_name=vault.name,
                    resource_group_name=group.name,
                    properties=keyvault.KeyPropertiesArgs(
                        kty=keyvault.JsonWebKeyType.RSA,
                        key_size=2048,
                        key_ops=[
                            keyvault.JsonWebKeyOperation.WRAP_KEY,
                            keyvault.JsonWebKeyOperation.UNWRAP_KEY,
                            keyvault.JsonWebKeyOperation.ENCRYPT,
                            keyvault.JsonWebKeyOperation.DECRYPT,
                        ],
                        # Notify, never rotate on its own: a versionless azurekeyvault:// URL cannot decrypt a data key
                        # wrapped by the previous version (pulumi/pulumi#22338); rotating is the two-step
                        # change-secrets-provider procedure in docs/security.md#rotating-a-state-key.
                        rotation_policy=keyvault.RotationPolicyArgs(
                            attributes=keyvault.KeyRotationPolicyAttributesArgs(expiry_time=KEY_EXPIRY),
                            lifetime_actions=[
                                keyvault.LifetimeActionArgs(
                                    action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.NOTIFY),
                                    trigger=keyvault.TriggerArgs(time_after_create=KEY_ROTATION_DUE),
                                )
                            ],
                        ),
                    ),
                    tags=args.tags,
                ),
                child,
            )
            self.container_ids[env] = container.id
            self.key_ids[env] = key.id
            self.backend_urls[env] = pulumi.Output.concat("azblob://", container.name)
            self.secrets_provider_urls[env] = pulumi.Output.concat("azurekeyvault://", vault_host, "/keys/", key.name)
        self.account_name = account.name
        self.resource_group_name = group.name
        self.vault_id = vault.id
        self.blob_service_id = blob_service.id
        self.register_outputs(
            {
                "accountName": self.account_name,
                "containerIds": self.container_ids,
                "keyIds": self.key_ids,
                "backendUrls": self.backend_urls,
                "secretsProviderUrls": self.secrets_provider_urls,
            }
        )
