"""A managed online endpoint that reads Azure resources with a managed identity (Azure ML docs "Access Azure resources from an online endpoint with a managed identity" and "Deploy and score a machine learning model by using an online endpoint").

Order Azure requires, made explicit:
  user-assigned:   identity -> role assignments -> wait ----------------\
                   identity -> endpoint ------------------------------- deployments -> traffic
  system-assigned: endpoint -> role assignments (its principal) -> wait -/
Traffic is set by an ARM template deployment that re-sends the endpoint with its traffic split, after
the deployments exist. Every later PUT of the endpoint carries the split Azure has then, and every PUT of an
autoscaled deployment the capacity Azure has then, so no update resets either (docs/online-endpoints.md#traffic).
"""

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from azureml_endpoints.config.common import IdentityType
from azureml_endpoints.config.online import OnlineDeploymentConfig, OnlineEndpointConfig
from azureml_endpoints.resources.endpoint_redeploy import endpoint_template, redeploy_endpoint
from azureml_endpoints.resources.identity import ml_identity, user_assigned_identity
from azureml_endpoints.resources.live_endpoint import LiveEndpoint, live_endpoint
from components.assets import DeploymentAssetIds
from components.endpoint_monitoring import EndpointMonitoring, EndpointMonitoringArgs, EndpointOperability
from components.role_assignments import RoleAssignments, RoleAssignmentsArgs, RoleGrant
from components.workspace.info import DEFAULT_DATASTORE, WorkspaceInfo

# Deployments take 8 to 14 minutes (Azure ML docs, "Access Azure resources from an online endpoint with a managed identity"); leave room for image builds and retries.
DEPLOYMENT_TIMEOUTS = pulumi.CustomTimeouts(create="40m", update="40m", delete="20m")


@dataclass(frozen=True)
class DataAccess:
    """Where the scoring script's data lives (outputs of DataStorage)."""

    account_id: pulumi.Input[str]
    account_name: pulumi.Input[str]
    container_name: pulumi.Input[str]
    blob_endpoint: pulumi.Input[str]
    file_name: str


@dataclass(frozen=True)
class OnlineEndpointArgs:
    settings: OnlineEndpointConfig
    workspace: WorkspaceInfo
    data: DataAccess
    assets: dict[str, DeploymentAssetIds]  # deployment name -> what it runs
    tags: dict[str, str]
    protect: bool
    propagation_seconds: int
    ready_after: tuple[pulumi.Resource, ...] = ()  # e.g. the uploaded data blobs init() reads
    operability: EndpointOperability = EndpointOperability()  # logs, alerts, Application Insights (docs/operability.md)


class OnlineEndpoint(pulumi.ComponentResource):
    def __init__(self, name: str, args: OnlineEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:machinelearningservices:OnlineEndpoint", name, {}, opts)
        s, ws = args.settings, args.workspace
        user_assigned = s.identity.type is IdentityType.USER_ASSIGNED

        # What Azure has now (None before the first `up`): later PUTs re-send it, as `az ml ... update` does.
        live = live_endpoint(ws.resource_group, ws.name, s.name, [d.name for d in s.deployments])
        uai = None
        if user_assigned:
            uai = user_assigned_identity(
                f"{name}-identity",
                s.identity.user_assigned_identity_name,
                ws.resource_group,
                ws.location,
                args.tags,
                pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            # The reference set for a user-assigned identity (Azure ML docs, "Access Azure resources from an online endpoint with a managed identity"): it needs them all itself.
            roles = self._grant(
                name,
                args,
                uai.principal_id,
                (
                    RoleGrant("Storage Blob Data Reader", args.data.account_id, "data-blob-reader"),
                    RoleGrant("AcrPull", ws.container_registry_id, "registry-acr-pull"),
                    RoleGrant("Storage Blob Data Reader", ws.storage_account_id, "workspace-blob-reader"),
                    *_data_collector_grants(s, ws),
                ),
            )

        endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            ml.OnlineEndpointArgs(
                endpoint_name=s.name,
                resource_group_name=ws.resource_group,
                workspace_name=ws.name,
                location=ws.location,
                identity=ml_identity([uai.id] if uai else []),
                properties=ml.OnlineEndpointPropertiesArgs(
                    auth_mode=s.auth_mode.value,
                    public_network_access=s.public_network_access.value if s.public_network_access else None,
                    description=s.description,
                    # The PUT replaces the whole endpoint: without traffic Azure sets every deployment to 0 %
                    # (microsoft/genaiops-promptflow-template#182). So from the second `up` on it carries the split
                    # Azure has; the template below sets the declared one once the deployments are updated.
                    traffic=live.apply(lambda now: now.traffic if now else None),
                    mirror_traffic=live.apply(lambda now: now.mirror_traffic if now else None),
                ),
                tags=args.tags,
            ),
            pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # Azure cannot change an endpoint's identity: a new identity means a new endpoint. The name
                # stays, so the old one must go first (and protection stops exactly that in protected stacks).
                replace_on_changes=["identity"],
                delete_before_replace=True,
            ),
        )

        if user_assigned:
            principal_id, client_id = uai.principal_id, uai.client_id
        else:
            principal_id = endpoint.identity.apply(lambda i: i.principal_id)
            client_id = None
            # Azure grants a system-assigned endpoint the workspace registry and storage roles itself.
            roles = self._grant(
                name,
                args,
                principal_id,
                (
                    RoleGrant("Storage Blob Data Reader", args.data.account_id, "data-blob-reader"),
                    *_data_collector_grants(s, ws),
                ),
            )

        self.callers = None
        if s.callers is not None:
            from components.endpoint_callers import EndpointCallers, EndpointCallersArgs  # only stacks with callers

            self.callers = EndpointCallers(
                f"{name}-callers",
                EndpointCallersArgs(callers=s.callers, endpoint_id=endpoint.id, endpoint_name=s.name, subscription_id=ws.subscription_id),
                pulumi.ResourceOptions(parent=self),
            )

        deployments = [self._deployment(name, args, endpoint, d, client_id, [roles.wait, *args.ready_after], live) for d in s.deployments]
        traffic = redeploy_endpoint(
            f"{name}-traffic",
            ws.resource_group,
            f"traffic-{s.name}",
            pulumi.Output.from_input(uai.id if uai else None).apply(
                lambda uai_id: endpoint_template("onlineEndpoints", ws.name, ws.location, s.name, args.tags, traffic_properties(s), uai_id)
            ),
            parent=self,
            depends_on=[endpoint, *deployments],
        )

        for d, deployment in zip(s.deployments, deployments):
            if d.autoscale is not None:
                from components.autoscale import DeploymentAutoscale, DeploymentAutoscaleArgs  # only autoscaled deployments

                DeploymentAutoscale(
                    f"{name}-{d.name}-autoscale",
                    DeploymentAutoscaleArgs(
                        settings=d.autoscale,
                        workspace=ws,
                        endpoint_name=s.name,
                        deployment_name=d.name,
                        endpoint_id=endpoint.id,
                        deployment_id=deployment.id,
                        tags=args.tags,
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
        ops = args.operability
        if ops.log_analytics_workspace_id is not None or ops.alerts is not None:
            EndpointMonitoring(
                f"{name}-monitoring",
                EndpointMonitoringArgs(
                    endpoint_name=s.name,
                    endpoint_id=endpoint.id,
                    deployments=[(d.name, deployment.id) for d, deployment in zip(s.deployments, deployments)],
                    workspace=ws,
                    tags=args.tags,
                    log_analytics_workspace_id=ops.log_analytics_workspace_id,
                    alerts=ops.alerts,
                    action_group_id=ops.action_group_id,
                ),
                pulumi.ResourceOptions(parent=self),
            )

        self.endpoint_name = endpoint.name
        self.endpoint_id = endpoint.id
        self.scoring_uri = endpoint.properties.apply(lambda p: p.scoring_uri)
        self.principal_id = principal_id
        self.client_id = client_id
        self.deployment_names = [d.name for d in deployments]
        self.traffic_deployment_id = traffic.id
        self.register_outputs(
            {
                "endpointName": self.endpoint_name,
                "endpointId": self.endpoint_id,
                "scoringUri": self.scoring_uri,
                "principalId": self.principal_id,
                "clientId": self.client_id,
                "deploymentNames": self.deployment_names,
            }
        )

    def _grant(self, name, args: OnlineEndpointArgs, principal_id, grants) -> RoleAssignments:
        return RoleAssignments(
            f"{name}-roles",
            RoleAssignmentsArgs(
                subscription_id=args.workspace.subscription_id,
                principal_id=principal_id,
                grants=grants,
                propagation_seconds=args.propagation_seconds,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _deployment(self, name, args: OnlineEndpointArgs, endpoint, d: OnlineDeploymentConfig, client_id, ready_after, live):
        env = {
            **d.environment_variables,
            "STORAGE_ACCOUNT_NAME": args.data.account_name,
            "STORAGE_CONTAINER_NAME": args.data.container_name,
            "FILE_NAME": args.data.file_name,
            "STORAGE_BLOB_ENDPOINT": args.data.blob_endpoint,
        }
        if client_id is not None:
            env["UAI_CLIENT_ID"] = client_id
        assets = args.assets[d.name]
        return ml.OnlineDeployment(
            f"{name}-{d.name}",
            ml.OnlineDeploymentArgs(
                deployment_name=d.name,
                endpoint_name=endpoint.name,
                resource_group_name=args.workspace.resource_group,
                workspace_name=args.workspace.name,
                location=args.workspace.location,
                sku=ml.SkuArgs(name="Default", capacity=live.apply(lambda now: _capacity(d, now))),
                properties=ml.ManagedOnlineDeploymentArgs(
                    endpoint_compute_type="Managed",
                    instance_type=d.instance_type,
                    model=assets.model_id,
                    code_configuration=assets.code_configuration(),
                    environment_id=assets.environment_id,
                    environment_variables=env,
                    scale_settings=ml.DefaultScaleSettingsArgs(scale_type="Default"),
                    request_settings=_request_settings(d),
                    liveness_probe=_probe(d.liveness_probe),
                    readiness_probe=_probe(d.readiness_probe),
                    app_insights_enabled=True if args.operability.app_insights_enabled else None,
                    data_collector=_data_collector(d, client_id),
                ),
                tags=args.tags,
            ),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=ready_after,
                custom_timeouts=DEPLOYMENT_TIMEOUTS,
            ),
        )


def _capacity(d: OnlineDeploymentConfig, now: LiveEndpoint | None) -> int:
    """The capacity a deployment PUT carries. Under autoscale the scaler owns the count, and the PUT replaces the
    whole deployment: it carries the count Azure has now (within the configured bounds), never the first one.
    `ignore_changes` would not do: Pulumi then sends the last value it sent itself (docs/operability.md#autoscale)."""
    if d.autoscale is None or now is None or d.name not in now.capacities:
        return d.initial_instances
    return min(max(now.capacities[d.name], d.autoscale.min_instances), d.autoscale.max_instances)


# "Collect production data from models deployed for real-time inferencing": the collector writes into the
# workspace's default datastore (workspaceblobstore), under
# modelDataCollector/<endpoint>/<deployment>/<collection>/<yyyy>/<MM>/<dd>/<HH>/<file>.jsonl.
DATA_COLLECTOR_ROOT = "modelDataCollector"
# The data actions of Storage Blob Data Contributor ("Azure built-in roles for Storage"); the condition lets each
# through only under the collector's own paths ("Actions and attributes for Azure role assignment conditions for
# Azure Blob Storage": the blob path attribute, a path inside the container, compared with StringLike).
_BLOB_ACTIONS = tuple(
    f"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{action}"
    for action in ("read", "write", "delete", "add/action", "move/action")
)
_BLOB_PATH = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"


def _pairs(expressions: list[str], operator: str) -> str:
    """Joins expressions two at a time: Azure wants parentheses around three or more ("Azure role assignment
    condition format and syntax")."""
    while len(expressions) > 1:
        expressions = [
            f"({expressions[i]} {operator} {expressions[i + 1]})" if i + 1 < len(expressions) else expressions[i]
            for i in range(0, len(expressions), 2)
        ]
    return expressions[0]


def data_collector_condition(s: OnlineEndpointConfig) -> str:
    """Blob data actions only under modelDataCollector/<endpoint>/<deployment>/<collection>/ of each collection a
    deployment of this endpoint enables: never on the models and code in the same container."""
    paths = [
        f"{_BLOB_PATH} StringLike '{DATA_COLLECTOR_ROOT}/{s.name}/{d.name}/{collection}/*'"
        for d in s.deployments
        if d.data_collector
        for collection in d.data_collector.collections
    ]
    other_actions = _pairs([f"!(ActionMatches{{'{a}'}})" for a in _BLOB_ACTIONS], "AND")
    return f"({other_actions} OR {_pairs(paths, 'OR')})"


def _container_name(properties) -> str:
    """A datastore's container from getDatastore's union-typed properties (a typed object or a raw dict)."""
    return properties["containerName"] if isinstance(properties, dict) else properties.container_name


def _data_collector_grants(s: OnlineEndpointConfig, ws: WorkspaceInfo) -> tuple[RoleGrant, ...]:
    """The data collector writes as the endpoint identity into the default datastore's container: Storage Blob
    Data Contributor on that container, narrowed by an ABAC condition to the collector's paths, only when a
    deployment collects (docs/operability.md#data-collection)."""
    if not any(d.data_collector for d in s.deployments):
        return ()
    if ws.datastore_name == DEFAULT_DATASTORE:  # a looked-up workspace: read before anything was registered
        account_id, container_name = ws.storage_account_id, ws.datastore_container_name
    else:  # a created one: Azure creates the default datastore with the workspace; read it once it exists
        default = ml.get_datastore_output(name=DEFAULT_DATASTORE, resource_group_name=ws.resource_group, workspace_name=ws.name)
        account_id, container_name = ws.storage_account_id, default.properties.apply(_container_name)
    container = pulumi.Output.concat(account_id, "/blobServices/default/containers/", container_name)
    return (RoleGrant("Storage Blob Data Contributor", container, "data-collector-writer", data_collector_condition(s)),)


def _data_collector(d: OnlineDeploymentConfig, client_id):
    c = d.data_collector
    if c is None:
        return None
    return ml.DataCollectorArgs(
        collections={
            # client_id: the user-assigned identity writes; without one Azure uses the endpoint's system identity.
            name: ml.CollectionArgs(data_collection_mode="Enabled", sampling_rate=c.sampling_rate, client_id=client_id)
            for name in c.collections
        },
        rolling_rate=c.rolling_rate.value,
    )


def _request_settings(d: OnlineDeploymentConfig):
    r = d.request_settings
    if r is None:
        return None
    return ml.OnlineRequestSettingsArgs(
        request_timeout=r.request_timeout,
        max_concurrent_requests_per_instance=r.max_concurrent_requests_per_instance,
        max_queue_wait=r.max_queue_wait,
    )


def _probe(p):
    if p is None:
        return None
    return ml.ProbeSettingsArgs(
        initial_delay=p.initial_delay,
        period=p.period,
        timeout=p.timeout,
        failure_threshold=p.failure_threshold,
        success_threshold=p.success_threshold,
    )


def traffic_properties(s: OnlineEndpointConfig) -> dict:
    """The endpoint's properties as declared, plus its traffic split. Mirror traffic is always sent, `{}` when
    nothing is mirrored, as azure-ai-ml sends it (OnlineEndpoint._to_rest_online_endpoint) and Microsoft's
    safe-rollout sample clears it with an explicit `green=0`: an explicit empty mirror clears one left on."""
    properties = {"authMode": s.auth_mode.value, "traffic": dict(s.traffic), "mirrorTraffic": dict(s.mirror_traffic)}
    if s.public_network_access:
        properties["publicNetworkAccess"] = s.public_network_access.value
    if s.description:
        properties["description"] = s.description
    return properties
