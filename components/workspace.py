"""The existing Azure ML workspace, looked up before anything is registered.

Its location, default storage account, default datastore and container registry come from Azure;
a workspace without a registry yet (Azure creates it lazily) is refused with what to do.
"""

import re
from dataclasses import dataclass

from pulumi_azure_native import machinelearningservices

from components.config_model import SettingsError, config_key
from components.settings import CONFIG_NAMESPACE, Workspace

DEFAULT_DATASTORE = "workspaceblobstore"


@dataclass(frozen=True)
class WorkspaceInfo:
    id: str
    name: str
    resource_group: str
    subscription_id: str
    location: str
    storage_account_id: str
    container_registry_id: str
    datastore_name: str
    datastore_account_name: str
    datastore_container_name: str
    datastore_blob_endpoint: str  # e.g. https://<account>.blob.<cloud suffix>/ as the datastore reports it

    @property
    def datastore_resource_group(self) -> str:
        return arm_segment(self.storage_account_id, "resourceGroups")

    def datastore_blob_url(self, path: str) -> str:
        """https:// URL of a path in the default datastore's container (code assets use it)."""
        return f"{self.datastore_blob_endpoint}{self.datastore_container_name}/{path}"

    def datastore_uri(self, path: str) -> str:
        """azureml:// URI of a path in the default datastore (model and code assets use it)."""
        return (
            f"azureml://subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
            f"/workspaces/{self.name}/datastores/{self.datastore_name}/paths/{path}"
        )


def arm_segment(resource_id: str, segment: str) -> str:
    """The value after `segment` in an ARM id (case-insensitive, as ARM treats it)."""
    parts = resource_id.strip("/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == segment.lower():
            return parts[i + 1]
    raise ValueError(f"'{resource_id}' has no '{segment}' segment")


def _field(value, camel_name: str):
    """A field of the datastore's union-typed properties: a raw dict (camelCase) or a typed object."""
    if isinstance(value, dict):
        return value.get(camel_name)
    return getattr(value, re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel_name), None)


def lookup_workspace(workspace: Workspace) -> WorkspaceInfo:
    """Reads the workspace and its default datastore from Azure (synchronous invokes)."""
    found = machinelearningservices.get_workspace(
        resource_group_name=workspace.resource_group, workspace_name=workspace.name
    )
    registry = workspace.container_registry_id or found.container_registry
    if not registry:
        raise SettingsError(
            f"{config_key(CONFIG_NAMESPACE, ('workspace', 'containerRegistryId'))}: workspace '{workspace.name}' has no container "
            "registry yet (Azure creates it on the first image build). Either build one environment image in the "
            "workspace, or attach a registry to the workspace and set this key to its ARM id."
        )
    datastore = machinelearningservices.get_datastore(
        name=DEFAULT_DATASTORE, resource_group_name=workspace.resource_group, workspace_name=workspace.name
    ).properties
    account = _field(datastore, "accountName")
    return WorkspaceInfo(
        id=found.id,
        name=found.name,
        resource_group=workspace.resource_group,
        subscription_id=arm_segment(found.id, "subscriptions"),
        location=found.location,
        storage_account_id=found.storage_account,
        container_registry_id=registry,
        datastore_name=DEFAULT_DATASTORE,
        datastore_account_name=account,
        datastore_container_name=_field(datastore, "containerName"),
        datastore_blob_endpoint=f"{_field(datastore, 'protocol') or 'https'}://{account}.blob.{_field(datastore, 'endpoint')}/",
    )
