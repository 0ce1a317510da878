"""User-assigned managed identities, created in the workspace's resource group and location."""

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import managedidentity


def user_assigned_identity(
    logical_name: str, identity_name: str, resource_group: str, location: str, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> managedidentity.UserAssignedIdentity:
    """A user-assigned identity in the workspace's resource group and location (known before a created workspace exists)."""
    # Keyword form: the Args class cannot carry `resource_name` (it clashes with the logical name).
    return managedidentity.UserAssignedIdentity(
        logical_name,
        opts,
        resource_name_=identity_name,
        resource_group_name=resource_group,
        location=location,
        tags=tags,
    )


def ml_identity(user_assigned_ids: Sequence[pulumi.Input[str]]) -> ml.ManagedServiceIdentityArgs:
    """The identity block of an endpoint or compute: the given user-assigned identities, else system-assigned."""
    if user_assigned_ids:
        return ml.ManagedServiceIdentityArgs(
            type=ml.ManagedServiceIdentityType.USER_ASSIGNED, user_assigned_identities=list(user_assigned_ids)
        )
    return ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED)
