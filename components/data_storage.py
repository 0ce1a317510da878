"""The storage account the scoring script reads through the endpoint's managed identity (SPEC section 1)."""

from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_azure_native import storage


@dataclass(frozen=True)
class DataStorageArgs:
    resource_group_name: str
    location: str
    account_name: str
    container_name: str
    files: tuple[Path, ...]  # uploaded as blobs named after the file
    tags: dict[str, str]


class DataStorage(pulumi.ComponentResource):
    """Standard_LRS account (TLS 1.2, HTTPS only, no public blob access), a private container, the files.

    Shared-key access stays enabled on this account only because azure-native uploads blobs with the
    account key; nothing else uses keys (the endpoints read with Entra tokens).
    """

    def __init__(self, name: str, args: DataStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:storage:DataStorage", name, {}, opts)
        account = storage.StorageAccount(
            f"{name}-account",
            storage.StorageAccountArgs(
                account_name=args.account_name,
                resource_group_name=args.resource_group_name,
                location=args.location,
                kind=storage.Kind.STORAGE_V2,
                sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
                minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
                enable_https_traffic_only=True,
                allow_blob_public_access=False,
                allow_cross_tenant_replication=False,
                allow_shared_key_access=True,
                tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        container = storage.BlobContainer(
            f"{name}-container",
            storage.BlobContainerArgs(
                account_name=account.name,
                resource_group_name=args.resource_group_name,
                container_name=args.container_name,
                public_access=storage.PublicAccess.NONE,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        for path in args.files:
            storage.Blob(
                f"{name}-{path.name}",
                storage.BlobArgs(
                    account_name=account.name,
                    resource_group_name=args.resource_group_name,
                    container_name=container.name,
                    blob_name=path.name,
                    type=storage.BlobType.BLOCK,
                    source=pulumi.FileAsset(str(path)),
                ),
                pulumi.ResourceOptions(parent=self),
            )
        self.account_id = account.id
        self.account_name = account.name
        self.container_name = container.name
        self.blob_endpoint = account.primary_endpoints.apply(lambda e: e.blob)
        self.register_outputs(
            {
                "accountId": self.account_id,
                "accountName": self.account_name,
                "containerName": self.container_name,
                "blobEndpoint": self.blob_endpoint,
            }
        )
