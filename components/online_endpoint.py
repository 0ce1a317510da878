"""A managed online endpoint that reads Azure resources with a managed identity (Azure ML docs "Access Azure resources from an online endpoint with a managed identity" and "Deploy and score a machine learning model by using an online endpoint").

Order Azure requires, made explicit:
  user-assigned:   identity -> role assignments -> wait ----------------\
                   identity -> endpoint ------------------------------- deployments -> traffic
  system-assigned: endpoint -> role assignments (its principal) -> wait -/
Traffic is set by an ARM template deployment that re-sends the endpoint with its traffic split, after
the deployments exist (docs/online-endpoints.md#traffic).
"""

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from azureml_endpoints.config.common import IdentityType
from azureml_endpoints.config.online import OnlineDeploymentConfig, OnlineEndpointConfig
from azureml_endpoints.resources.endpoint_redeploy import endpoint_template, redeploy_endpoint
from components.assets import DeploymentAssetIds
from components.endpoint_monitoring import EndpointMonitoring, EndpointMonitoringArgs, EndpointOperability
from components.identity import ml_identity, user_assigned_identity
from components.role_assignments import RoleAssignments, RoleAssignmentsArgs, RoleGrant
from components.workspace.info import WorkspaceInfo

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

        uai = None
        if user_assigned:
            uai = user_assigned_identity(
                f"{name}-identity",
                s.identity.user_assigned_identity_name,
                ws,
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
                # Traffic belongs to the traffic template below; the endpoint resource never sends or reverts it.
                ignore_changes=["properties.traffic", "properties.mirrorTraffic"],
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

        deployments = [self._deployment(name, args, endpoint, d, client_id, [roles.wait, *args.ready_after]) for d in s.deployments]
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

    def _deployment(self, name, args: OnlineEndpointArgs, endpoint, d: OnlineDeploymentConfig, client_id, ready_after):
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
                sku=ml.SkuArgs(name="Default", capacity=d.initial_instances),
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
                # Under autoscale the scaler owns the instance count; `up` must not reset it to the default.
                ignore_changes=["sku.capacity"] if d.autoscale is not None else None,
            ),
        )


def _data_collector_grants(s: OnlineEndpointConfig, ws: WorkspaceInfo) -> tuple[RoleGrant, ...]:
    """The data collector writes as the endpoint identity into the workspace blob container ("Collect production
    data from models deployed for real-time inferencing"): Storage Blob Data Contributor on that one container,
    only when a deployment collects."""
    if not any(d.data_collector for d in s.deployments):
        return ()
    container = f"{ws.storage_account_id}/blobServices/default/containers/{ws.datastore_container_name}"
    return (RoleGrant("Storage Blob Data Contributor", container, "data-collector-writer"),)


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
    """The endpoint's properties as declared, plus its traffic split."""
    properties = {"authMode": s.auth_mode.value, "traffic": dict(s.traffic)}
    if s.mirror_traffic:
        properties["mirrorTraffic"] = dict(s.mirror_traffic)
    if s.public_network_access:
        properties["publicNetworkAccess"] = s.public_network_access.value
    if s.description:
        properties["description"] = s.description
    return properties
