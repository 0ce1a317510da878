"""The storage account baseline every account of the product gets (the policy pack enforces the same)."""

import pulumi
from pulumi_azure_native import storage


def secure_storage_account(
    logical_name: str,
    account_name: str,
    resource_group_name: pulumi.Input[str],
    location: str,
    sku: storage.SkuName,
    allow_shared_key_access: bool,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    public_network_access: str | None = None,
) -> storage.StorageAccount:
    """StorageV2 with TLS 1.2, HTTPS only, no public blob access and no cross-tenant replication; reachable
    only through private endpoints when `public_network_access` is Disabled."""
    return storage.StorageAccount(
        logical_name,
        storage.StorageAccountArgs(
            account_name=account_name,
            resource_group_name=resource_group_name,
            location=location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=sku),
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            enable_https_traffic_only=True,
            allow_blob_public_access=False,
            allow_cross_tenant_replication=False,
            allow_shared_key_access=allow_shared_key_access,
            # An account without shared keys also defaults the portal and tools to Entra sign-in.
            default_to_o_auth_authentication=None if allow_shared_key_access else True,
            public_network_access=public_network_access,
            tags=tags,
        ),
        opts,
    )
