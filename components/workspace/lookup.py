"""A workspace that exists: read from Azure, with its default datastore, before anything is registered.

A workspace without a registry yet (Azure creates it lazily) is refused with what to do.
"""

import re

from pulumi_azure_native import machinelearningservices

from azureml_endpoints.config.base import SettingsError, config_key
from azureml_endpoints.config.network import IsolationMode, isolation_step
from azureml_endpoints.config.stack import CONFIG_NAMESPACE
from azureml_endpoints.config.workspace import WorkspaceConfig
from components.workspace.info import DEFAULT_DATASTORE, WorkspaceInfo, arm_segment


def _field(value, camel_name: str):
    """A field of the datastore's union-typed properties: a raw dict (camelCase) or a typed object."""
    if isinstance(value, dict):
        return value.get(camel_name)
    return getattr(value, re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel_name), None)


def lookup_workspace(workspace: WorkspaceConfig, isolation: IsolationMode | None = None) -> WorkspaceInfo:
    """Reads the workspace and its default datastore from Azure (synchronous invokes); a private stack's
    workspace must already have a managed network at least as isolated as the stack says (its owner's to set),
    and the stack uploads to its storage with Entra: a private workspace's storage may refuse shared keys (the
    landing zone's storage policies usually do), and an Entra upload works either way."""
    found = machinelearningservices.get_workspace(resource_group_name=workspace.resource_group, workspace_name=workspace.name)
    if isolation is not None:
        has = (found.managed_network.isolation_mode if found.managed_network else None) or IsolationMode.DISABLED.value
        if isolation_step(has) < isolation_step(isolation.value):
            raise SettingsError(
                f"{config_key(CONFIG_NAMESPACE, ('network', 'isolationMode'))}: workspace '{workspace.name}' has managed network "
                f"{has}, less isolated than {isolation.value}: its owner sets the managed network of a looked-up workspace"
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
        keyless=isolation is not None,
    )
