"""A blob uploaded with an Entra identity, for storage accounts that refuse shared keys.

azure-native's `storage.Blob` lists the account key and signs with it, so it cannot write to an account with
`allowSharedKeyAccess: false`. This dynamic resource uploads with azure-storage-blob and
`DefaultAzureCredential` (the pipeline's OIDC identity, a developer's `az login`, a managed identity), which
needs Storage Blob Data Contributor on the account and, when the account is private, a runner that reaches
its blob private endpoint (docs/private-networking.md#where-the-runners-sit).

Content-addressed: the SHA-256 of the file is an input, so an unchanged file shows no diff and is never
sent again; the blob carries the hash in its metadata, so a create over a blob that already holds the same
content sends nothing either.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from azureml_endpoints.paths import REPO

HASH_METADATA = "contentsha256"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class EntraSignInError(RuntimeError):
    """No identity could get a storage token. Not an azure-core error, so the storage client's retry policy (which
    retries every AzureError, backing off for about 80 seconds) does not retry it: a wrong sign-in fails at once."""


class _FailFastCredential:
    """DefaultAzureCredential whose failure is one line and final."""

    def __init__(self, account_url: str):
        from azure.identity import DefaultAzureCredential

        self._credential, self._account_url = DefaultAzureCredential(), account_url

    def get_token(self, *scopes, **kwargs):
        from azure.core.exceptions import ClientAuthenticationError

        try:
            return self._credential.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise EntraSignInError(
                f"no Entra token for {self._account_url}: {first.rstrip('.')}; sign in as an identity with Storage Blob Data "
                "Contributor on the account (the deployer, docs/private-networking.md#keyless-uploads)"
            ) from None


def _blob_client(props: dict):
    from azure.storage.blob import BlobClient

    account_url = props["accountUrl"].rstrip("/")
    return BlobClient(account_url, props["containerName"], props["blobName"], credential=_FailFastCredential(account_url))


def upload(props: dict) -> bool:
    """Uploads the file unless the blob already holds this content; True when bytes were sent."""
    from azure.core.exceptions import ResourceNotFoundError

    client = _blob_client(props)
    try:
        if (client.get_blob_properties().metadata or {}).get(HASH_METADATA) == props["sha256"]:
            return False
    except ResourceNotFoundError:
        pass
    data = Path(props["source"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != props["sha256"]:
        raise RuntimeError(f"{props['source']} changed after the preview: run the update again")
    client.upload_blob(data, overwrite=True, metadata={HASH_METADATA: props["sha256"]})
    return True


def _outs(props: dict) -> dict:
    return {**props, "url": f"{props['accountUrl'].rstrip('/')}/{props['containerName']}/{props['blobName']}"}


class EntraBlobProvider(ResourceProvider):
    def create(self, props):
        upload(props)
        outs = _outs(props)
        return CreateResult(id_=outs["url"], outs=outs)

    def diff(self, _id, olds, news):
        target = [k for k in ("accountUrl", "containerName", "blobName") if olds.get(k) != news.get(k)]
        changed = target or olds.get("sha256") != news.get("sha256")
        return DiffResult(changes=bool(changed), replaces=target, delete_before_replace=False)

    def update(self, _id, _olds, news):
        upload(news)
        return UpdateResult(outs=_outs(news))

    def delete(self, _id, props):
        from azure.core.exceptions import ResourceNotFoundError

        try:
            _blob_client(props).delete_blob()
        except ResourceNotFoundError:
            pass


class EntraBlob(pulumi.dynamic.Resource):
    """The file at `source` as block blob `blob_name` in `container_name` of the account at `account_url`."""

    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        account_url: pulumi.Input[str],
        container_name: pulumi.Input[str],
        blob_name: str,
        source: Path,
        opts: pulumi.ResourceOptions,
    ):
        props = {
            "accountUrl": account_url,
            "containerName": container_name,
            "blobName": blob_name,
            "source": str(source.relative_to(REPO)) if source.is_relative_to(REPO) else str(source),
            "sha256": file_sha256(source),
            "url": None,
        }
        super().__init__(EntraBlobProvider(), name, props, opts)
