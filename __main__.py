"""Azure ML managed online endpoints that read Azure resources through managed identities.

Config is read and validated once (azureml_endpoints.config.stack); the workspace is looked up before any resource
is registered, or created (workspace.create); everything else is built from those two values. A feature's
components (workspace creation, private networking, monitoring, batch) are imported in the branch that uses them, so a stack
pays only for the features it names (docs/performance.md#what-a-stack-imports).
"""

import pulumi
from pulumi_azure_native import authorization
from pulumi_azure_native import machinelearningservices as ml

from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.online import AuthMode
from azureml_endpoints.config.stack import Environment, load_settings, provider_cloud
from azureml_endpoints.paths import data_dir
from components.assets import WorkspaceAssets, WorkspaceAssetsArgs
from components.data_storage import DataStorage, DataStorageArgs, PrivateAccess
from components.endpoint_monitoring import EndpointOperability
from components.online_endpoint import DataAccess, OnlineEndpoint, OnlineEndpointArgs
from components.workspace.lookup import lookup_workspace


class ConfigRefused(SettingsError, pulumi.RunError):
    """A refused config as Pulumi's Python language host prints it: the message alone.

    The host prints a pulumi.RunError with `pulumi.log.error(str(e))` and any other exception as "Program failed
    with an unhandled exception:" plus the traceback (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec).
    Converted here, at the program's boundary, so the config package stays free of the Pulumi SDK for the tools;
    still a SettingsError for everything that reads the program's refusals offline."""


try:
    settings = load_settings(pulumi.Config())
except SettingsError as refused:
    raise ConfigRefused(str(refused)) from None
tags = settings.tags_for(pulumi.get_stack())
private = settings.network  # set: private end to end (docs/private-networking.md)
cloud = provider_cloud(pulumi.Config("azure-native").get("environment"))
zone_ids = None
if private is not None:
    from components.private_endpoint import PrivateDns, PrivateDnsArgs

    zone_ids = PrivateDns(
        "private-dns",
        PrivateDnsArgs(
            settings=private,
            cloud=cloud,
            groups=tuple(settings.private_endpoint_groups()),
            resource_group=settings.workspace.resource_group,
            tags=tags,
        ),
    ).zone_ids
if settings.workspace.create:
    from components.workspace.create import create_workspace

    client = authorization.get_client_config()
    workspace = create_workspace(
        settings.workspace,
        client.subscription_id,
        client.tenant_id,
        tags,
        protect=settings.environment is Environment.PROD,
        propagation_seconds=settings.role_propagation_seconds,
        network=private,
        cloud=cloud,
        zone_ids=zone_ids,
    )
else:
    workspace = lookup_workspace(settings.workspace, private.isolation_mode if private else None)

files = [(data_dir() / settings.data_storage.file_name, settings.data_storage.file_name)]
# Each batch endpoint's input folder, uploaded once however many endpoints name it (docs/batch.md#input-data).
files += list(dict.fromkeys(f for b in settings.batch_endpoints if b.input for f in b.input.files()))
data = DataStorage(
    "data",
    DataStorageArgs(
        workspace=workspace,
        account_name=settings.data_storage.account_name,
        container_name=settings.data_storage.container_name,
        datastore_name=settings.data_storage.datastore_name,
        files=tuple(files),
        tags=tags,
        private=PrivateAccess(private.private_endpoint_subnet_id, cloud, zone_ids) if private else None,
    ),
)
# What deployments wait for besides the data: in a private stack, the provisioned managed network and its rules.
network_ready = ()
if private is not None:
    from azureml_endpoints.config.network import DATA_STORAGE_RULE, DEFAULT_STORAGE_RULES, REGISTRY_GROUP, registry_rule_name
    from components.network import ManagedNetworkRules, ManagedNetworkRulesArgs, PrivateEndpointRule
    from components.role_assignments import RoleAssignments, RoleAssignmentsArgs, RoleGrant

    rules = [PrivateEndpointRule(DATA_STORAGE_RULE, data.account_id, "blob")]
    if settings.batch_endpoints:  # batch endpoints use the default storage's queues and tables
        rules += [PrivateEndpointRule(name, workspace.storage_account_id, group) for group, name in DEFAULT_STORAGE_RULES.items()]
    # Each registry the deployments run assets of, by the id network.registries gives (the config refuses one missing).
    rules += [PrivateEndpointRule(registry_rule_name(r.name), r.resource_id, REGISTRY_GROUP) for r in private.registries]
    managed_rules = ManagedNetworkRules(
        "managed-network", ManagedNetworkRulesArgs(settings=private, workspace=workspace, private_endpoints=tuple(rules))
    )
    network_ready = (*workspace.network_ready, data.private_endpoint, *managed_rules.rules)
    if workspace.network_approver_principal_id is not None:
        RoleAssignments(
            "workspace-network-approver",
            RoleAssignmentsArgs(
                subscription_id=workspace.subscription_id,
                principal_id=workspace.network_approver_principal_id,
                grants=(RoleGrant("Azure AI Enterprise Network Connection Approver", data.account_id, "data-storage"),),
                propagation_seconds=None,
            ),
        )
# What each deployment runs; every model, code folder and environment is registered once for the stack.
deployment_assets = settings.deployment_assets()
runs = list(deployment_assets.values())
assets = WorkspaceAssets(
    "assets",
    WorkspaceAssetsArgs(
        workspace=workspace,
        models=tuple(settings.models) + tuple(r.model.entry for r in runs if r.model.kind == "catalog"),
        code_folders=tuple(dict.fromkeys(r.code for r in runs if r.code)),
        environments=tuple(r.environment.entry for r in runs if r.environment and r.environment.kind == "catalog"),
    ),
)


def deployment_ids(kind: str, endpoint_settings) -> dict:
    return {d.name: assets.ids_for(deployment_assets[(kind, endpoint_settings.name, d.name)]) for d in endpoint_settings.deployments}


operability = EndpointOperability()
if settings.monitoring is not None and settings.online_endpoints:
    from components.endpoint_monitoring import StackMonitoring, StackMonitoringArgs

    stack_monitoring = StackMonitoring(
        "monitoring",
        StackMonitoringArgs(
            settings=settings.monitoring,
            workspace=workspace,
            action_group_name=f"ag-{pulumi.get_project()}-{pulumi.get_stack()}",
            tags=tags,
        ),
    )
    operability = EndpointOperability(
        log_analytics_workspace_id=stack_monitoring.log_analytics_workspace_id,
        alerts=settings.monitoring.alerts,
        action_group_id=stack_monitoring.action_group_id,
        app_insights_enabled=settings.monitoring.app_insights_enabled,
    )

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
            assets=deployment_ids("online", endpoint_settings),
            tags=tags,
            protect=settings.is_protected(endpoint_settings),
            propagation_seconds=settings.role_propagation_seconds,
            ready_after=(data, *network_ready),
            operability=operability,
        ),
    )
    outputs = {
        "name": endpoint.endpoint_name,
        "scoringUri": endpoint.scoring_uri,
        "identityType": endpoint_settings.identity.type.value,
        "principalId": endpoint.principal_id,
        "authMode": endpoint_settings.auth_mode.value,
        "models": {
            d.name: deployment_assets[("online", endpoint_settings.name, d.name)].model.label for d in endpoint_settings.deployments
        },
    }
    if endpoint.client_id is not None:
        outputs["clientId"] = endpoint.client_id
    if endpoint.callers is not None:
        outputs["callerGroupObjectIds"] = endpoint.callers.group_object_ids
    # Keys are read after `up` only: a preview runs as the read-only pipeline identity, which may not list keys.
    if endpoint_settings.auth_mode is AuthMode.KEY and not pulumi.runtime.is_dry_run():
        keys = ml.list_online_endpoint_keys_output(
            endpoint_name=endpoint.endpoint_name,
            resource_group_name=workspace.resource_group,
            workspace_name=workspace.name,
        )
        endpoint_keys[endpoint_settings.name] = pulumi.Output.secret(keys.primary_key)
    endpoints[endpoint_settings.name] = outputs

batch_endpoints = {}
if settings.batch_endpoints:
    from components.batch_endpoint import BatchEndpoint, BatchEndpointArgs
for batch_settings in settings.batch_endpoints:
    batch = BatchEndpoint(
        batch_settings.name,
        BatchEndpointArgs(
            settings=batch_settings,
            workspace=workspace,
            data_account_id=data.account_id,
            assets=deployment_ids("batch", batch_settings),
            tags=tags,
            protect=settings.is_protected(batch_settings),
            propagation_seconds=settings.role_propagation_seconds,
            ready_after=(data, *network_ready),
            private=private is not None,
        ),
    )
    batch_endpoints[batch_settings.name] = {
        "name": batch.endpoint_name,
        "scoringUri": batch.scoring_uri,
        "defaultDeployment": batch_settings.default_deployment,
        "computeId": batch.compute_id,
        "computePrincipalIds": batch.compute_principal_ids,
    }
    if batch_settings.input is not None:  # where its jobs read by default (docs/batch.md#input-data)
        batch_endpoints[batch_settings.name]["input"] = batch_settings.input.uri or pulumi.Output.concat(
            "azureml://datastores/", data.datastore_name, f"/paths/{batch_settings.input.blob_prefix}"
        )

pulumi.export("onlineEndpoints", endpoints)
pulumi.export("batchEndpoints", batch_endpoints)
pulumi.export("onlineEndpointKeys", pulumi.Output.secret(endpoint_keys))
pulumi.export("dataStorageAccount", data.account_name)
pulumi.export("dataContainer", data.container_name)
pulumi.export("datastore", data.datastore_name)
pulumi.export("workspaceId", workspace.id)
