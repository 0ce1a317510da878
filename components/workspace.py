"""The Azure ML workspace everything else is built in: one `WorkspaceInfo`, looked up or created.

Looked up (`lookup_workspace`): its location, default storage account, default datastore and container
registry come from Azure before anything is registered, as plain strings; a workspace without a registry
yet (Azure creates it lazily) is refused with what to do. Created (components/ml_workspace.py): the values
that exist only after creation are outputs of the created resources. Consumers treat every field typed
`pulumi.Input[str]` as possibly an output.
"""

import re
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices

from components.config_model import SettingsError, config_key
from components.settings import CONFIG_NAMESPACE, Workspace

DEFAULT_DATASTORE = "workspaceblobstore"


@dataclass(frozen=True)
class WorkspaceInfo:
    """The workspace as its consumers need it. Plain `str` fields are known before anything is registered
    (config or lookup) in both modes; `pulumi.Input[str]` fields are outputs when the workspace is created."""

    id: pulumi.Input[str]
    name: pulumi.Input[str]  # an output when created, so everything in the workspace waits for it
    resource_group: str
    subscription_id: str
    location: str
    storage_account_id: pulumi.Input[str]
    container_registry_id: pulumi.Input[str]
    datastore_name: pulumi.Input[str]  # the datastore assets are uploaded to and referenced in
    datastore_account_name: pulumi.Input[str]
    datastore_container_name: pulumi.Input[str]
    datastore_blob_endpoint: pulumi.Input[str]  # e.g. https://<account>.blob.<cloud suffix>/ as Azure reports it
    datastore_resource_group: str  # of the datastore's storage account (uploads name it)

    def datastore_uri(self, path: str) -> pulumi.Input[str]:
        """azureml:// URI of a path in the asset datastore (model assets use it)."""
        return _join(
            "azureml://subscriptions/", self.subscription_id, "/resourcegroups/", self.resource_group,
            "/workspaces/", self.name, "/datastores/", self.datastore_name, "/paths/", path,
        )

    def datastore_blob_url(self, path: str) -> pulumi.Input[str]:
        """https URL of a path in the asset datastore's container (code assets use it)."""
        return _join(self.datastore_blob_endpoint, self.datastore_container_name, "/", path)


def _join(*parts: pulumi.Input[str]) -> pulumi.Input[str]:
    """Concatenation that stays a plain string when every part is one (a looked-up workspace)."""
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)
    return pulumi.Output.concat(*parts)


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
        datastore_resource_group=arm_segment(found.storage_account, "resourceGroups"),
    )
