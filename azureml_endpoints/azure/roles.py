"""Azure RBAC facts: the one role-name -> definition-id table, and deterministic assignment names.

Used by the program's components, bootstrap/ and the offline preview; the policy pack keeps its own copy
(it is a self-contained pack) and a test keeps the two equal.
"""

import uuid

# Built-in role definition GUIDs (identical in every Azure cloud; Azure's "Azure built-in roles" reference):
# the one table of the program and of bootstrap/. Workload identities (endpoints, clusters) get only the first
# two; a created workspace's user-assigned identity gets Contributor, Key Vault Administrator and (for studio
# data preview) Storage Blob Data Contributor on the workspace and its dependencies; the rest are the pipeline
# identities' roles, granted by bootstrap/ (the policy pack enforces who may hold which, and where).
ROLE_DEFINITIONS: dict[str, str] = {
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    # A private stack only: a created workspace's user-assigned identity approves the private endpoints its
    # managed network makes to the data storage ("Managed virtual network isolation"; "Azure built-in roles").
    "Azure AI Enterprise Network Connection Approver": "b556d68e-0be0-4f35-a333-ad7ee1ce17ea",
}
# The custom role that may only score online endpoints. bootstrap/ creates it once per subscription under
# this GUID (no built-in role is that narrow); the policy pack derives the same GUID to allow it.
INVOKER_ROLE = "AzureML Online Endpoint Invoker"
INVOKER_ROLE_NAMESPACE = uuid.UUID("9d0c5b8e-3f21-4c6a-8e0b-6a7d2f4c1b93")

# Namespace for role assignment names (uuid5), fixed so names never change between runs.
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("6f1b6c3e-2f7a-4f5e-9a53-5d0f0b7c1e42")


# The custom role a private environment's deployer holds on the platform team's private-endpoint subnet
# (bootstrap/, environments.<env>.privateNetworking): read the subnet and join private endpoints to it, nothing
# else (Azure's "Azure RBAC permissions for Azure Private Link"; Network Contributor would also let it rewrite
# or delete the subnet). bootstrap/ creates it per subscription under this GUID; the policy pack derives it too.
SUBNET_JOIN_ROLE = "AzureML Endpoints Private Endpoint Subnet Joiner"
SUBNET_JOIN_ROLE_NAMESPACE = uuid.UUID("7206b305-daef-487d-8994-26276c4e44e4")


def invoker_role_guid(subscription_id: str) -> str:
    return str(uuid.uuid5(INVOKER_ROLE_NAMESPACE, subscription_id.lower()))


def subnet_join_role_guid(subscription_id: str) -> str:
    return str(uuid.uuid5(SUBNET_JOIN_ROLE_NAMESPACE, subscription_id.lower()))


def role_definition_id(subscription_id: str, role_name: str) -> str:
    """The full role definition id ARM expects, for a built-in role or one of the two custom roles."""
    custom = {INVOKER_ROLE: invoker_role_guid, SUBNET_JOIN_ROLE: subnet_join_role_guid}
    guid = custom[role_name](subscription_id) if role_name in custom else ROLE_DEFINITIONS[role_name]
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def role_assignment_name(scope: str, principal_id: str, definition_id: str) -> str:
    """Deterministic GUID, as Bicep's guid(scope, principalId, roleDefinitionId)."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope.lower()}|{principal_id}|{definition_id.lower()}"))
