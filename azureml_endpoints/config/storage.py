"""The data the scoring scripts read: one storage account per stack, a private container, an identity datastore."""

from __future__ import annotations

from pydantic import Field, field_validator

from azureml_endpoints.config.base import ConfigModel, shipped_file
from azureml_endpoints.config.names import BlobContainerName, DatastoreName, StorageAccountName
from azureml_endpoints.paths import DATA, data_dir


class DataStorageConfig(ConfigModel):
    account_name: StorageAccountName = Field(description="Storage account for the data the scoring script reads (globally unique).")
    container_name: BlobContainerName = Field("data", description="Private blob container the files are uploaded to.")
    file_name: str = Field("hello.txt", description="File from ml/data uploaded as the blob the scoring script reads (FILE_NAME).")
    datastore_name: DatastoreName = Field(
        "endpointdata", description="Identity-based workspace datastore (no stored credentials) over the container."
    )

    _file = field_validator("file_name")(shipped_file(data_dir, DATA))
