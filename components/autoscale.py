"""Azure Monitor autoscale for one managed online deployment ("AutoscaleConfig online endpoints in Azure Machine Learning").

The setting targets the deployment's ARM id; rules on deployment metrics (CPU, memory) measure the deployment,
rules on endpoint metrics (request latency) measure its endpoint, as azureml-examples' autoscale sample
(cli/deploy-moe-autoscale.sh) does, filtered to this deployment by the metric's `deployment` dimension (the
sample's rule has no filter, so another deployment's latency would scale this one). While it exists the scaler
owns the deployment's instance count: an update of the deployment re-sends the count Azure has
(docs/operability.md#autoscale), drift detection ignores it, the quota estimate uses the maximum.
"""

from __future__ import annotations  # the monitor.* hints stay text: azure-native loads monitor on first use only

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor

from azureml_endpoints.config.operability import DEPLOYMENT_NAMESPACE, ENDPOINT_NAMESPACE, AutoscaleConfig, AutoscaleRuleConfig
from components.workspace.info import WorkspaceInfo


@dataclass(frozen=True)
class DeploymentAutoscaleArgs:
    settings: AutoscaleConfig
    workspace: WorkspaceInfo
    endpoint_name: str
    deployment_name: str
    endpoint_id: pulumi.Input[str]
    deployment_id: pulumi.Input[str]
    tags: dict[str, str]


def autoscale_setting_name(endpoint_name: str, deployment_name: str) -> str:
    """Deterministic: one setting per deployment, unique in the resource group."""
    return f"autoscale-{endpoint_name}-{deployment_name}"


def _rule(rule: AutoscaleRuleConfig, endpoint_id, deployment_id, deployment_name: str) -> monitor.ScaleRuleArgs:
    # "Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints": the request metrics
    # have a `deployment` dimension; only 'Equals' and 'NotEquals' are dimension operators in a scale rule.
    only_this_deployment = (
        [monitor.ScaleRuleMetricDimensionArgs(dimension_name="deployment", operator="Equals", values=[deployment_name])]
        if rule.on_endpoint
        else None
    )
    return monitor.ScaleRuleArgs(
        metric_trigger=monitor.MetricTriggerArgs(
            dimensions=only_this_deployment,
            metric_name=rule.metric,
            metric_namespace=ENDPOINT_NAMESPACE if rule.on_endpoint else DEPLOYMENT_NAMESPACE,
            metric_resource_uri=endpoint_id if rule.on_endpoint else deployment_id,
            operator=rule.operator.value,
            statistic=rule.statistic.value,
            threshold=rule.threshold,
            time_aggregation=rule.time_aggregation.value,
            time_grain=rule.time_grain,
            time_window=rule.time_window,
        ),
        scale_action=monitor.ScaleActionArgs(
            direction=rule.direction.value, type="ChangeCount", value=str(rule.change_count), cooldown=rule.cooldown
        ),
    )


class DeploymentAutoscale(pulumi.ComponentResource):
    def __init__(self, name: str, args: DeploymentAutoscaleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:monitor:DeploymentAutoscale", name, {}, opts)
        s = args.settings
        setting = monitor.AutoscaleSetting(
            f"{name}-setting",
            monitor.AutoscaleSettingArgs(
                autoscale_setting_name=autoscale_setting_name(args.endpoint_name, args.deployment_name),
                resource_group_name=args.workspace.resource_group,
                location=args.workspace.location,
                enabled=True,
                target_resource_uri=args.deployment_id,
                profiles=[
                    monitor.AutoscaleProfileArgs(
                        name="default",
                        # Azure's autoscale API takes the capacity as strings.
                        capacity=monitor.ScaleCapacityArgs(
                            minimum=str(s.min_instances), maximum=str(s.max_instances), default=str(s.default_instances)
                        ),
                        rules=[_rule(r, args.endpoint_id, args.deployment_id, args.deployment_name) for r in s.rules],
                    )
                ],
                tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.setting_id = setting.id
        self.register_outputs({"settingId": self.setting_id})
