"""Azure Monitor for online endpoints: where logs go, who is told, and what each endpoint is watched for.

StackMonitoring holds what the stack's endpoints share: the Log Analytics workspace (created, or an existing one
by ARM id) and the action group. EndpointMonitoring, a child of each online endpoint, sends the endpoint's
traffic, console and event logs there ("Supported logs for Microsoft.MachineLearningServices/workspaces/
onlineEndpoints") and raises metric alerts on its request latency and server errors and on each deployment's
CPU and memory ("Supported metrics for .../onlineEndpoints" and ".../onlineEndpoints/deployments").
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor, operationalinsights

from azureml_endpoints.config.operability import DEPLOYMENT_NAMESPACE, ENDPOINT_NAMESPACE, AlertsConfig, MonitoringConfig
from components.workspace.info import WorkspaceInfo

ENDPOINT_LOG_CATEGORIES = ("AmlOnlineEndpointTrafficLog", "AmlOnlineEndpointConsoleLog", "AmlOnlineEndpointEventLog")
SINGLE_RESOURCE_CRITERIA = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"


@dataclass(frozen=True)
class StackMonitoringArgs:
    settings: MonitoringConfig
    workspace: WorkspaceInfo
    action_group_name: str
    tags: dict[str, str]


class StackMonitoring(pulumi.ComponentResource):
    """The Log Analytics workspace and the action group every endpoint of the stack uses."""

    def __init__(self, name: str, args: StackMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:monitor:StackMonitoring", name, {}, opts)
        s, ws = args.settings, args.workspace
        self.log_analytics_workspace_id: pulumi.Output[str] | None = None
        if s.log_analytics is not None and s.log_analytics.workspace_id:
            self.log_analytics_workspace_id = pulumi.Output.from_input(s.log_analytics.workspace_id)
        elif s.log_analytics is not None:
            workspace = operationalinsights.Workspace(
                f"{name}-logs",
                operationalinsights.WorkspaceArgs(
                    workspace_name=s.log_analytics.workspace_name,
                    resource_group_name=ws.resource_group,
                    location=ws.location,
                    sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                    retention_in_days=s.log_analytics.retention_in_days,
                    tags=args.tags,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            self.log_analytics_workspace_id = workspace.id

        self.action_group_id: pulumi.Output[str] | None = None
        if s.action_group is not None:
            group = monitor.ActionGroup(
                f"{name}-action-group",
                monitor.ActionGroupInitArgs(
                    action_group_name=args.action_group_name,
                    resource_group_name=ws.resource_group,
                    location="Global",  # action groups are global resources
                    enabled=True,
                    group_short_name=s.action_group.short_name,
                    email_receivers=[
                        monitor.MicrosoftCommonEmailReceiverArgs(name=r.name, email_address=r.address, use_common_alert_schema=True)
                        for r in s.action_group.emails
                    ],
                    webhook_receivers=[
                        # A webhook URL often carries its token: kept secret in the state.
                        monitor.WebhookReceiverArgs(
                            name=r.name, service_uri=pulumi.Output.secret(r.service_uri), use_common_alert_schema=True
                        )
                        for r in s.action_group.webhooks
                    ],
                    tags=args.tags,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            self.action_group_id = group.id
        self.register_outputs({"logAnalyticsWorkspaceId": self.log_analytics_workspace_id, "actionGroupId": self.action_group_id})


@dataclass(frozen=True)
class EndpointMonitoringArgs:
    endpoint_name: str
    endpoint_id: pulumi.Input[str]
    deployments: Sequence[tuple[str, pulumi.Input[str]]]  # (deployment name, ARM id)
    workspace: WorkspaceInfo
    tags: dict[str, str]
    log_analytics_workspace_id: pulumi.Input[str] | None = None
    alerts: AlertsConfig | None = None
    action_group_id: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class _Alert:
    label: str
    description: str
    metric: str
    namespace: str
    threshold: float
    dimensions: tuple[tuple[str, str], ...] = ()


def endpoint_alerts(a: AlertsConfig) -> list[_Alert]:
    return [
        _Alert(
            "latency",
            f"Average request latency above {a.request_latency_ms:g} ms",
            "RequestLatency",
            ENDPOINT_NAMESPACE,
            a.request_latency_ms,
        ),
        _Alert(
            "server-errors",
            f"More than {a.server_errors_per_minute:g} requests per minute answered with 5xx",
            "RequestsPerMinute",
            ENDPOINT_NAMESPACE,
            a.server_errors_per_minute,
            (("statusCodeClass", "5xx"),),
        ),
    ]


def deployment_alerts(a: AlertsConfig) -> list[_Alert]:
    return [
        _Alert("cpu", f"Average CPU above {a.cpu_percent:g}%", "CpuUtilizationPercentage", DEPLOYMENT_NAMESPACE, a.cpu_percent),
        _Alert(
            "memory",
            f"Average memory above {a.memory_percent:g}%",
            "CpuMemoryUtilizationPercentage",
            DEPLOYMENT_NAMESPACE,
            a.memory_percent,
        ),
    ]


class EndpointMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: EndpointMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:monitor:EndpointMonitoring", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.diagnostic_setting_id = None
        if args.log_analytics_workspace_id is not None:
            setting = monitor.DiagnosticSetting(
                f"{name}-logs",
                monitor.DiagnosticSettingArgs(
                    name=f"{args.endpoint_name}-logs",
                    resource_uri=args.endpoint_id,
                    workspace_id=args.log_analytics_workspace_id,
                    # The three categories land in their own tables (AmlOnlineEndpointTrafficLog, ...).
                    log_analytics_destination_type="Dedicated",
                    logs=[monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True) for c in ENDPOINT_LOG_CATEGORIES],
                    metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
                ),
                child,
            )
            self.diagnostic_setting_id = setting.id

        alert_ids = []
        if args.alerts is not None:
            for alert in endpoint_alerts(args.alerts):
                alert_ids.append(self._alert(name, f"{args.endpoint_name}-{alert.label}", alert, args.endpoint_id, args))
            for deployment_name, deployment_id in args.deployments:
                for alert in deployment_alerts(args.alerts):
                    rule = f"{args.endpoint_name}-{deployment_name}-{alert.label}"
                    alert_ids.append(self._alert(name, rule, alert, deployment_id, args))
        self.alert_ids = alert_ids
        self.register_outputs({"diagnosticSettingId": self.diagnostic_setting_id, "alertIds": alert_ids})

    def _alert(self, name: str, rule_name: str, alert: _Alert, scope, args: EndpointMonitoringArgs):
        a = args.alerts
        resource = monitor.MetricAlert(
            f"{name}-{rule_name.removeprefix(args.endpoint_name + '-')}-alert",
            monitor.MetricAlertArgs(
                rule_name=rule_name,
                resource_group_name=args.workspace.resource_group,
                location="global",  # metric alert rules are global resources
                description=f"{alert.description} ({rule_name}).",
                enabled=True,
                severity=a.severity,
                scopes=[scope],
                window_size=a.window_size,
                evaluation_frequency=a.evaluation_frequency,
                auto_mitigate=True,
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type=SINGLE_RESOURCE_CRITERIA,
                    all_of=[
                        monitor.MetricCriteriaArgs(
                            criterion_type="StaticThresholdCriterion",
                            name=alert.label,
                            metric_name=alert.metric,
                            metric_namespace=alert.namespace,
                            operator="GreaterThan",
                            threshold=alert.threshold,
                            time_aggregation="Average",
                            dimensions=[monitor.MetricDimensionArgs(name=d, operator="Include", values=[v]) for d, v in alert.dimensions]
                            or None,
                        )
                    ],
                ),
                actions=[monitor.MetricAlertActionArgs(action_group_id=args.action_group_id)] if args.action_group_id else None,
                tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        return resource.id


@dataclass(frozen=True)
class EndpointOperability:
    """What the stack's monitoring gives each online endpoint (nothing by default)."""

    log_analytics_workspace_id: pulumi.Input[str] | None = None
    alerts: AlertsConfig | None = None
    action_group_id: pulumi.Input[str] | None = None
    app_insights_enabled: bool = False
