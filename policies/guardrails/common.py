"""What the rules share: resource types, role definition ids, reading ARM ids and possibly unknown values."""

import uuid
from typing import Any

from pulumi_policy.proxy import UnknownValueError

ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
BATCH_ENDPOINT = "azure-native:machinelearningservices:BatchEndpoint"
ENDPOINTS = (ONLINE_ENDPOINT, BATCH_ENDPOINT)
ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
AUTOSCALE_SETTING = "azure-native:monitor:AutoscaleSetting"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
BLOB = "azure-native:storage:Blob"
REGISTRY = "azure-native:containerregistry:Registry"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
KEY_VAULT = "azure-native:keyvault:Vault"
APPLICATION_INSIGHTS = "azure-native:applicationinsights:Component"

# Built-in role definition GUIDs, the same in every cloud. The program's table
# (components/role_assignments.py) must agree; a test checks it. The pack runs on its own, so it keeps a copy.
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
KEY_VAULT_ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
# The custom invoker role bootstrap/ defines per subscription, under uuid5(this namespace, subscription id);
# components/role_assignments.py derives the same GUID (a test keeps the two equal).
INVOKER_ROLE_NAMESPACE = "9d0c5b8e-3f21-4c6a-8e0b-6a7d2f4c1b93"
ONLINE_ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
ROLE_NAMES = {
    STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    ACR_PULL: "AcrPull",
    OWNER: "Owner",
    CONTRIBUTOR: "Contributor",
    USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
    RBAC_ADMINISTRATOR: "Role Based Access Control Administrator",
    KEY_VAULT_ADMINISTRATOR: "Key Vault Administrator",
    STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
}


class Unknown:
    """Stands for a value the engine does not know yet (preview of a resource still to be created)."""

    def __repr__(self) -> str:
        return "<unknown until apply>"


UNKNOWN = Unknown()


def read(container: Any, *path: Any, default: Any = None) -> Any:
    """Follows a path of keys/indexes; returns UNKNOWN instead of raising when the engine does not know it yet."""
    value = container
    try:
        for key in path:
            if value is None:
                return default
            if isinstance(key, int):
                value = value[key] if key < len(value) else None
            else:
                value = value.get(key)
        return default if value is None else value
    except UnknownValueError:
        return UNKNOWN


def plain(value: Any) -> Any:
    """A proxied value as plain data, each unknown replaced by UNKNOWN."""
    try:
        if isinstance(value, str) or value is None or isinstance(value, (int, float, bool)):
            return value
        if hasattr(value, "items"):
            return {k: plain(read(value, k)) for k in list(value.keys())}
        if hasattr(value, "__len__"):
            return [plain(read(value, i)) for i in range(len(value))]
        return value
    except UnknownValueError:
        return UNKNOWN


def role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def invoker_guid(role_definition_id: str) -> str | None:
    """The invoker role's GUID for the subscription a role definition id names, or None without one."""
    parts = role_definition_id.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    return str(uuid.uuid5(uuid.UUID(INVOKER_ROLE_NAMESPACE), parts[1].lower()))


def arm_type(resource_id: str) -> str:
    """`Microsoft.Storage/storageAccounts` for an id of a storage account (the last provider's type)."""
    parts = resource_id.strip("/").split("/")
    if "providers" not in [p.lower() for p in parts]:
        return ""
    i = max(i for i, p in enumerate(parts) if p.lower() == "providers")
    namespace, rest = parts[i + 1], parts[i + 2 :]
    return "/".join([namespace] + rest[0::2])


def container_scope(scope: Any) -> bool | None:
    """Whether a role assignment's scope is one blob container; None while the engine does not know it."""
    if scope is UNKNOWN:
        return None
    return isinstance(scope, str) and arm_type(scope) == BLOB_CONTAINER_TYPE
