"""The private stack's uploads (azureml_endpoints/resources/entra_blob.py) against Azurite with OAuth on loopback:
written with an Entra token from DefaultAzureCredential (here the managed identity endpoint), never a key, and
an unchanged file is not sent again."""

import pytest

from azureml_endpoints.local.runtime import EMULATOR_KEY, Azurite, TokenEndpoint
from azureml_endpoints.resources.entra_blob import HASH_METADATA, EntraBlobProvider, EntraSignInError, file_sha256

ACCOUNT = "stmlepsbxpdata"
CONTAINER = "data"


@pytest.fixture
def storage(tmp_path, monkeypatch):
    with TokenEndpoint() as token, Azurite(ACCOUNT, tmp_path) as azurite:
        azurite.upload(CONTAINER, "placeholder", b"")  # the container, as the program's BlobContainer makes it
        # DefaultAzureCredential's managed identity, as on Azure ML compute (MSI_ENDPOINT and MSI_SECRET).
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MSI_ENDPOINT", token.url)
        monkeypatch.setenv("MSI_SECRET", token.secret)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite.cert))
        yield token, azurite


def read_back(azurite, blob: str):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(
        azurite.blob_endpoint.rstrip("/"),
        credential={"account_name": ACCOUNT, "account_key": EMULATOR_KEY},
        connection_verify=str(azurite.cert),
    )
    client = service.get_blob_client(CONTAINER, blob)
    return client.download_blob().readall(), client.get_blob_properties()


def read_back_exists(azurite, blob: str) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        read_back(azurite, blob)
    except ResourceNotFoundError:
        return False
    return True


def props(azurite, source):
    return {
        "accountUrl": azurite.blob_endpoint,
        "containerName": CONTAINER,
        "blobName": "hello.txt",
        "source": str(source),
        "sha256": file_sha256(source),
    }


def test_upload_with_entra_and_content_addressed(storage, tmp_path):
    token, azurite = storage
    source = tmp_path / "hello.txt"
    source.write_text("hello from the private stack")
    provider = EntraBlobProvider()

    created = provider.create(props(azurite, source))
    data, properties = read_back(azurite, "hello.txt")
    assert data == b"hello from the private stack"
    assert properties.metadata[HASH_METADATA] == file_sha256(source)
    assert any(q["resource"][0].rstrip("/").startswith("https://storage.azure.com") for q in token.requests)

    # Unchanged: no diff, and a create over the same content sends nothing (the blob keeps its ETag).
    assert provider.diff(created.id, created.outs, props(azurite, source)).changes is False
    provider.create(props(azurite, source))
    assert read_back(azurite, "hello.txt")[1].etag == properties.etag

    # Changed: a diff, and the update writes the new bytes.
    source.write_text("changed")
    assert provider.diff(created.id, created.outs, props(azurite, source)).changes is True
    provider.update(created.id, created.outs, props(azurite, source))
    assert read_back(azurite, "hello.txt")[0] == b"changed"


def test_without_a_token_nothing_is_written(storage, tmp_path, monkeypatch):
    _, azurite = storage
    monkeypatch.setenv("MSI_SECRET", "wrong")
    source = tmp_path / "hello.txt"
    source.write_text("x")
    # One line, and not retried: the storage client's policy would back off for about 80 seconds on an azure-core error.
    with pytest.raises(
        EntraSignInError, match=r"^no Entra token for https://[^ ]+: DefaultAzureCredential failed to retrieve a token"
    ) as error:
        EntraBlobProvider().create(props(azurite, source))
    assert "\n" not in str(error.value) and "Storage Blob Data Contributor" in str(error.value)
    assert not read_back_exists(azurite, "hello.txt")
