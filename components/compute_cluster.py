"""An AmlCompute cluster with a managed identity that reads the data and pulls the image (Azure ML docs "Set up authentication between Azure Machine Learning and other services" and "Deploy models with REST for batch scoring").

Azure only grants a cluster identity AcrPull itself when the registry existed before the cluster, so the
program grants it always, with Storage Blob Data Reader on the data account and the workspace storage.
"""

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from azureml_endpoints.config.batch import ComputeClusterConfig
from azureml_endpoints.resources.identity import ml_identity, user_assigned_identity
from components.role_assignments import RoleAssignments, RoleAssignmentsArgs, RoleGrant
from components.workspace.info import WorkspaceInfo


@dataclass(frozen=True)
class ComputeClusterArgs:
    settings: ComputeClusterConfig
    workspace: WorkspaceInfo
    data_account_id: pulumi.Input[str]
    tags: dict[str, str]
    propagation_seconds: int
    private: bool = False  # the workspace has a managed network


class ComputeCluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: ComputeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:machinelearningservices:ComputeCluster", name, {}, opts)
        s, ws = args.settings, args.workspace
        identities = [
            user_assigned_identity(
                f"{name}-identity-{n}", n, ws.resource_group, ws.location, args.tags, pulumi.ResourceOptions(parent=self)
            )
            for n in s.identity.user_assigned_identity_names
        ]
        compute = ml.Compute(
            f"{name}-compute",
            ml.ComputeArgs(
                compute_name=s.name,
                resource_group_name=ws.resource_group,
                workspace_name=ws.name,
                location=ws.location,
                identity=ml_identity([i.id for i in identities]),
                properties=ml.AmlComputeArgs(
                    compute_type="AmlCompute",
                    # Identities only, no SSH or keys: what azure-ai-ml's AmlCompute sends for a cluster without SSH,
                    # and what Azure Policy's built-in "Azure Machine Learning Computes should have local
                    # authentication methods disabled" requires.
                    disable_local_auth=True,
                    properties=ml.AmlComputePropertiesArgs(
                        os_type=ml.OsType.LINUX,
                        vm_size=s.vm_size,
                        vm_priority=s.vm_priority.value,
                        scale_settings=ml.ScaleSettingsArgs(
                            min_node_count=s.min_nodes,
                            max_node_count=s.max_nodes,
                            node_idle_time_before_scale_down=f"PT{s.idle_seconds_before_scale_down}S",
                        ),
                        remote_login_port_public_access=s.remote_login_port_public_access.value,
                        # Without a subnet (not managed here) Azure requires nodes with public IPs; in a
                        # workspace's managed network the nodes take none ("Managed virtual network isolation":
                        # compute in the managed network can be created without a public IP).
                        enable_node_public_ip=not args.private,
                    ),
                ),
                tags=args.tags,
            ),
            pulumi.ResourceOptions(
                parent=self,
                # Azure cannot change a cluster's VM size, priority or identity in place: replace, name kept.
                replace_on_changes=["identity", "properties.properties.vmSize", "properties.properties.vmPriority"],
                delete_before_replace=True,
            ),
        )

        # The same three grants for every principal of the cluster.
        grants = (
            RoleGrant("Storage Blob Data Reader", args.data_account_id, "data-blob-reader"),
            RoleGrant("AcrPull", ws.container_registry_id, "registry-acr-pull"),
            RoleGrant("Storage Blob Data Reader", ws.storage_account_id, "workspace-blob-reader"),
        )
        if identities:
            names = s.identity.user_assigned_identity_names
            principals = [(f"{name}-roles-{n}", uai.principal_id) for n, uai in zip(names, identities)]
        else:
            principals = [(f"{name}-roles", compute.identity.apply(lambda i: i.principal_id))]
        self.roles = [
            RoleAssignments(
                role_name,
                RoleAssignmentsArgs(
                    subscription_id=ws.subscription_id,
                    principal_id=principal_id,
                    grants=grants,
                    propagation_seconds=args.propagation_seconds,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for role_name, principal_id in principals
        ]
        self.compute_id = compute.id
        self.compute_name = compute.name
        self.principal_ids = [principal for _, principal in principals]
        self.register_outputs({"computeId": self.compute_id, "computeName": self.compute_name, "principalIds": self.principal_ids})
