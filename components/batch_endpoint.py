"""A batch endpoint with its compute cluster, deployments and default deployment (Azure ML docs, "Deploy models with REST for batch scoring").

Order: cluster identity -> roles -> wait --\\
       endpoint (system-assigned, Entra) ----- deployments -> default deployment (template)
"""

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from azureml_endpoints.config.batch import BatchDeploymentConfig, BatchEndpointConfig
from azureml_endpoints.resources.endpoint_redeploy import endpoint_template, redeploy_endpoint
from azureml_endpoints.resources.identity import ml_identity
from components.assets import DeploymentAssetIds
from components.compute_cluster import ComputeCluster, ComputeClusterArgs
from components.online_endpoint import DEPLOYMENT_TIMEOUTS
from components.workspace.info import WorkspaceInfo

# Batch endpoints accept only Entra tokens and a system-assigned identity.
BATCH_AUTH_MODE = "AADToken"


@dataclass(frozen=True)
class BatchEndpointArgs:
    settings: BatchEndpointConfig
    workspace: WorkspaceInfo
    data_account_id: pulumi.Input[str]
    assets: dict[str, DeploymentAssetIds]  # deployment name -> what it runs
    tags: dict[str, str]
    protect: bool
    propagation_seconds: int
    ready_after: tuple[pulumi.Resource, ...] = ()
    private: bool = False  # the workspace has a managed network: the cluster's nodes get no public IP


class BatchEndpoint(pulumi.ComponentResource):
    def __init__(self, name: str, args: BatchEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:machinelearningservices:BatchEndpoint", name, {}, opts)
        s, ws = args.settings, args.workspace
        cluster = ComputeCluster(
            f"{name}-cluster",
            ComputeClusterArgs(
                settings=s.compute,
                workspace=ws,
                data_account_id=args.data_account_id,
                tags=args.tags,
                propagation_seconds=args.propagation_seconds,
                private=args.private,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        endpoint = ml.BatchEndpoint(
            f"{name}-endpoint",
            ml.BatchEndpointArgs(
                endpoint_name=s.name,
                resource_group_name=ws.resource_group,
                workspace_name=ws.name,
                location=ws.location,
                identity=ml_identity([]),
                properties=ml.BatchEndpointPropertiesArgs(auth_mode=BATCH_AUTH_MODE, description=s.description),
                tags=args.tags,
            ),
            pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                replace_on_changes=["identity"],
                delete_before_replace=True,
                # The default deployment belongs to the template below.
                ignore_changes=["properties.defaults"],
            ),
        )
        ready_after = [*(r.wait for r in cluster.roles), *args.ready_after]
        deployments = [self._deployment(name, args, endpoint, cluster, d, ready_after) for d in s.deployments]
        properties = {"authMode": BATCH_AUTH_MODE, "defaults": {"deploymentName": s.default_deployment}}
        if s.description:
            properties["description"] = s.description
        default = redeploy_endpoint(
            f"{name}-default",
            ws.resource_group,
            f"default-{s.name}",
            endpoint_template("batchEndpoints", ws.name, ws.location, s.name, args.tags, properties, None),
            parent=self,
            depends_on=[endpoint, *deployments],
        )
        self.endpoint_name = endpoint.name
        self.endpoint_id = endpoint.id
        self.scoring_uri = endpoint.properties.apply(lambda p: p.scoring_uri)
        self.compute_id = cluster.compute_id
        self.compute_principal_ids = cluster.principal_ids
        self.default_deployment_id = default.id
        self.register_outputs(
            {
                "endpointName": self.endpoint_name,
                "endpointId": self.endpoint_id,
                "scoringUri": self.scoring_uri,
                "computeId": self.compute_id,
                "defaultDeployment": s.default_deployment,
            }
        )

    def _deployment(self, name, args: BatchEndpointArgs, endpoint, cluster: ComputeCluster, d: BatchDeploymentConfig, ready_after):
        assets = args.assets[d.name]
        return ml.BatchDeployment(
            f"{name}-{d.name}",
            ml.BatchDeploymentArgs(
                deployment_name=d.name,
                endpoint_name=endpoint.name,
                resource_group_name=args.workspace.resource_group,
                workspace_name=args.workspace.name,
                location=args.workspace.location,
                properties=ml.BatchDeploymentPropertiesArgs(
                    model=ml.IdAssetReferenceArgs(asset_id=assets.model_id, reference_type="Id"),
                    code_configuration=assets.code_configuration(),
                    environment_id=assets.environment_id,
                    compute=cluster.compute_id,
                    resources=ml.DeploymentResourceConfigurationArgs(instance_count=d.instance_count),
                    max_concurrency_per_instance=d.max_concurrency_per_instance,
                    mini_batch_size=d.mini_batch_size,
                    retry_settings=ml.BatchRetrySettingsArgs(max_retries=d.retry_settings.max_retries, timeout=d.retry_settings.timeout),
                    error_threshold=d.error_threshold,
                    logging_level=d.logging_level.value,
                    output_action=d.output_action.value,
                    output_file_name=d.output_file_name,
                    environment_variables=d.environment_variables or None,
                ),
                tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=ready_after, custom_timeouts=DEPLOYMENT_TIMEOUTS),
        )
