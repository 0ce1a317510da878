"""Azure ML managed online endpoints that read Azure resources through managed identities.

Config is read and validated once (components.settings); the workspace is looked up before any resource
is registered; everything else is built from those two values.
"""

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.assets import WorkspaceAssets, WorkspaceAssetsArgs
from components.data_storage import DataStorage, DataStorageArgs
from components.online_endpoint import DataAccess, ModelAssets, OnlineEndpoint, OnlineEndpointArgs
from components.settings import DATA_DIR, AuthMode, load_settings
from components.workspace import lookup_workspace

settings = load_settings(pulumi.Config())
workspace = lookup_workspace(settings.workspace)
tags = settings.tags_for(pulumi.get_stack())

data = DataStorage(
    "data",
    DataStorageArgs(
        resource_group_name=workspace.resource_group,
        location=workspace.location,
        account_name=settings.data_storage.account_name,
        container_name=settings.data_storage.container_name,
        files=(DATA_DIR / settings.data_storage.file_name,),
        tags=tags,
    ),
)
assets = WorkspaceAssets("assets", WorkspaceAssetsArgs(workspace=workspace))

endpoints = {}
endpoint_keys = {}  # Key-auth endpoints only; a secret output
for endpoint_settings in settings.online_endpoints:
    endpoint = OnlineEndpoint(
        endpoint_settings.name,
        OnlineEndpointArgs(
            settings=endpoint_settings,
            workspace=workspace,
            data=DataAccess(
                account_id=data.account_id,
                account_name=data.account_name,
                container_name=data.container_name,
                blob_endpoint=data.blob_endpoint,
                file_name=settings.data_storage.file_name,
            ),
            assets=ModelAssets(code_id=assets.code_ids["onlinescoring"], model_id=assets.model_id, environment_id=assets.environment_id),
            tags=tags,
            protect=settings.is_protected(endpoint_settings),
            propagation_seconds=settings.role_propagation_seconds,
            ready_after=(data,),
        ),
    )
    outputs = {
        "name": endpoint.endpoint_name,
        "scoringUri": endpoint.scoring_uri,
        "identityType": endpoint_settings.identity.type.value,
        "principalId": endpoint.principal_id,
        "authMode": endpoint_settings.auth_mode.value,
    }
    if endpoint.client_id is not None:
        outputs["clientId"] = endpoint.client_id
    if endpoint_settings.auth_mode is AuthMode.KEY:
        keys = ml.list_online_endpoint_keys_output(
            endpoint_name=endpoint.endpoint_name,
            resource_group_name=workspace.resource_group,
            workspace_name=workspace.name,
        )
        endpoint_keys[endpoint_settings.name] = pulumi.Output.secret(keys.primary_key)
    endpoints[endpoint_settings.name] = outputs

pulumi.export("onlineEndpoints", endpoints)
pulumi.export("onlineEndpointKeys", pulumi.Output.secret(endpoint_keys))
pulumi.export("dataStorageAccount", data.account_name)
pulumi.export("dataContainer", data.container_name)
pulumi.export("workspaceId", workspace.id)
