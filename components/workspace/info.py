"""The Azure ML workspace everything else is built in: one `WorkspaceInfo`, looked up or created.

Looked up (components/workspace/lookup.py): its location, default storage account, default datastore and
container registry come from Azure before anything is registered, as plain strings. Created
(components/workspace/create.py): the values that exist only after creation are outputs of the created
resources. Consumers treat every field typed `pulumi.Input[str]` as possibly an output.
"""

from dataclasses import dataclass

import pulumi

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
    # A private stack: what deployments wait for (the workspace with its managed network provisioned), and the
    # identity Azure uses to approve the managed network's private endpoints (a created UAI workspace's primary).
    network_ready: tuple[pulumi.Resource, ...] = ()
    network_approver_principal_id: pulumi.Input[str] | None = None
    keyless: bool = False  # its storage refuses shared keys: uploads go through Entra

    def datastore_uri(self, path: str) -> pulumi.Input[str]:
        """azureml:// URI of a path in the asset datastore (model assets use it)."""
        return _join(
            "azureml://subscriptions/",
            self.subscription_id,
            "/resourcegroups/",
            self.resource_group,
            "/workspaces/",
            self.name,
            "/datastores/",
            self.datastore_name,
            "/paths/",
            path,
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
