"""The storage account the scoring script reads through the endpoint's managed identity (Azure ML docs, "Access Azure resources from an online endpoint with a managed identity")."""

from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import storage

from azureml_endpoints.azure.clouds import BLOB_GROUP
from azureml_endpoints.resources.entra_blob import EntraBlob
from azureml_endpoints.resources.storage_account import secure_storage_account
from components.workspace.info import WorkspaceInfo


@dataclass(frozen=True)
class PrivateAccess:
    """A private stack's inbound side for the account: its blob private endpoint, and its DNS zones."""

    subnet_id: str
    cloud: str
    zone_ids: dict[str, pulumi.Input[str]] | None  # None: the zone group is left to Azure Policy


@dataclass(frozen=True)
class DataStorageArgs:
    workspace: WorkspaceInfo  # the account lives in its resource group and location
    account_name: str
    container_name: str
    datastore_name: str
    files: tuple[tuple[Path, str], ...]  # (file in the repo, blob name)
    tags: dict[str, str]
    private: PrivateAccess | None = None  # set: no shared keys, no public access, Entra uploads, a private endpoint


class DataStorage(pulumi.ComponentResource):
    """Standard_LRS account (TLS 1.2, HTTPS only, no public blob access), a private container, the files,
    and an identity-based workspace datastore over the container (it stores no credentials, Azure ML docs, "Set up authentication between Azure Machine Learning and other services").

    A public stack keeps shared-key access on this account only because azure-native uploads blobs with the
    account key; nothing else uses keys (the endpoints read with Entra tokens). A private stack refuses keys
    and public access, uploads with Entra (resources/entra_blob.py) and reaches the account through a blob
    private endpoint in the stack's subnet.
    """

    def __init__(self, name: str, args: DataStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:storage:DataStorage", name, {}, opts)
        private = args.private
        account = secure_storage_account(
            f"{name}-account",
            args.account_name,
            args.workspace.resource_group,
            args.workspace.location,
            storage.SkuName.STANDARD_LRS,
            private is None,  # public stacks: azure-native uploads the blobs below with the account key
            args.tags,
            pulumi.ResourceOptions(parent=self),
            public_network_access="Disabled" if private else None,
        )
        endpoint = None
        if private is not None:
            from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs  # private stacks only

            endpoint = PrivateEndpoint(
                f"{name}-blob-private-endpoint",
                PrivateEndpointArgs(
                    target_id=account.id,
                    group=BLOB_GROUP,
                    endpoint_name=f"pe-{args.account_name}-{BLOB_GROUP}",
                    subnet_id=private.subnet_id,
                    resource_group=args.workspace.resource_group,
                    location=args.workspace.location,
                    cloud=private.cloud,
                    zone_ids=private.zone_ids,
                    tags=args.tags,
                ),
                pulumi.ResourceOptions(parent=self),
            )
        container = storage.BlobContainer(
            f"{name}-container",
            storage.BlobContainerArgs(
                account_name=account.name,
                resource_group_name=args.workspace.resource_group,
                container_name=args.container_name,
                public_access=storage.PublicAccess.NONE,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        blob_endpoint = account.primary_endpoints.apply(lambda e: e.blob)
        for path, blob_name in args.files:
            if private is not None:  # after the endpoint: the runner reaches the account only through it
                EntraBlob(
                    f"{name}-{blob_name.replace('/', '-')}",
                    blob_endpoint,
                    container.name,
                    blob_name,
                    path,
                    pulumi.ResourceOptions(parent=self, depends_on=[endpoint]),
                )
                continue
            storage.Blob(
                f"{name}-{blob_name.replace('/', '-')}",
                storage.BlobArgs(
                    account_name=account.name,
                    resource_group_name=args.workspace.resource_group,
                    container_name=container.name,
                    blob_name=blob_name,
                    type=storage.BlobType.BLOCK,
                    source=pulumi.FileAsset(str(path)),
                ),
                pulumi.ResourceOptions(parent=self),
            )
        datastore = ml.Datastore(
            f"{name}-datastore",
            ml.DatastoreArgs(
                name=args.datastore_name,
                resource_group_name=args.workspace.resource_group,
                workspace_name=args.workspace.name,
                properties=ml.AzureBlobDatastoreArgs(
                    datastore_type="AzureBlob",
                    account_name=account.name,
                    container_name=container.name,
                    # The storage suffix of this cloud, as Azure reports it in the account's blob endpoint.
                    endpoint=blob_endpoint.apply(storage_suffix),
                    protocol="https",
                    credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
                    description="Data the endpoints read; access with the caller's or the compute's identity",
                ),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.account_id = account.id
        self.account_name = account.name
        self.container_name = container.name
        self.blob_endpoint = blob_endpoint
        self.datastore_name = datastore.name
        self.private_endpoint = endpoint
        self.register_outputs(
            {
                "accountId": self.account_id,
                "accountName": self.account_name,
                "containerName": self.container_name,
                "blobEndpoint": self.blob_endpoint,
                "datastoreName": self.datastore_name,
            }
        )


def storage_suffix(blob_endpoint: str) -> str:
    """`https://acct.blob.<suffix>/` -> `<suffix>`, the storage suffix of the cloud the account lives in."""
    host = blob_endpoint.split("://", 1)[-1].split("/", 1)[0]
    return host.split(".blob.", 1)[1]
