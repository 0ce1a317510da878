"""User-assigned managed identities, created in the workspace's resource group and location."""

import pulumi
from pulumi_azure_native import managedidentity

from components.workspace import WorkspaceInfo


def user_assigned_identity(
    logical_name: str, identity_name: str, ws: WorkspaceInfo, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> managedidentity.UserAssignedIdentity:
    # Keyword form: the Args class cannot carry `resource_name` (it clashes with the logical name).
    return managedidentity.UserAssignedIdentity(
        logical_name,
        opts,
        resource_name_=identity_name,
        resource_group_name=ws.resource_group,
        location=ws.location,
        tags=tags,
    )
