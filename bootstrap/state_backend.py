"""Where every stack's state and secrets live: a Blob container for azblob:// and a Key Vault key.

The account takes Entra sign-in only (no shared keys): the pipelines reach it with their OIDC identities.
The vault uses Azure RBAC, soft delete and purge protection, so losing the key cannot lose the secrets.
"""

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import keyvault, resources, storage

from bootstrap_settings import State
from components.storage_account import secure_storage_account


@dataclass(frozen=True)
class StateBackendArgs:
    state: State
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
        # Entra sign-in only: the pipelines reach the state with their OIDC identities, never a key.
        account = secure_storage_account(
            f"{name}-account", s.storage_account, group.name, args.location, storage.SkuName.STANDARD_ZRS, False, args.tags, child
        )
        container = storage.BlobContainer(
            f"{name}-container",
            storage.BlobContainerArgs(
                account_name=account.name,
                resource_group_name=group.name,
                container_name=s.container,
                public_access=storage.PublicAccess.NONE,
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
        key = keyvault.Key(
            f"{name}-key",
            keyvault.KeyArgs(
                key_name=s.key_name,
                vault_name=vault.name,
                resource_group_name=group.name,
                properties=keyvault.KeyPropertiesArgs(
                    kty=keyvault.JsonWebKeyType.RSA,
                    key_size=2048,
                    key_ops=[keyvault.JsonWebKeyOperation.WRAP_KEY, keyvault.JsonWebKeyOperation.UNWRAP_KEY,
                             keyvault.JsonWebKeyOperation.ENCRYPT, keyvault.JsonWebKeyOperation.DECRYPT],
                ),
                tags=args.tags,
            ),
            child,
        )
        self.account_name = account.name
        self.container_id = container.id
        self.key_id = key.id
        self.backend_url = pulumi.Output.concat("azblob://", container.name)
        # The vault's own URI carries this cloud's vault host; the secrets provider URL is built from it.
        self.secrets_provider_url = pulumi.Output.all(vault.properties.apply(lambda p: p.vault_uri), key.name).apply(
            lambda v: f"azurekeyvault://{v[0].split('://', 1)[1].rstrip('/')}/keys/{v[1]}"
        )
        self.register_outputs(
            {
                "accountName": self.account_name,
                "containerId": self.container_id,
                "keyId": self.key_id,
                "backendUrl": self.backend_url,
                "secretsProviderUrl": self.secrets_provider_url,
            }
        )
