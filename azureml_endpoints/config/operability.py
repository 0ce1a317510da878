"""Operability of online deployments: Azure Monitor autoscale, data collection, logs, metric alerts.

Metric names from "Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints" (and
".../onlineEndpoints/deployments"); limits from "Understand autoscale settings" and "Create or edit a metric
alert rule"; the data collector from "Collect production data from models deployed for real-time inferencing".
"""

from __future__ import annotations

import re
from enum import Enum

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.config.base import ConfigModel, duration_seconds, unique_ignoring_case
from azureml_endpoints.config.names import (
    ActionGroupShortName,
    DataCollectionName,
    EmailAddress,
    HttpsUrl,
    LogAnalyticsId,
    LogAnalyticsName,
    ReceiverName,
)

# Metrics Azure Monitor publishes for online endpoints and their deployments ("Supported metrics for
# Microsoft.MachineLearningServices/workspaces/onlineEndpoints" and ".../onlineEndpoints/deployments").
ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
ENDPOINT_METRICS = (
    "RequestLatency",
    "RequestLatency_P50",
    "RequestLatency_P90",
    "RequestLatency_P95",
    "RequestLatency_P99",
    "RequestsPerMinute",
    "ConnectionsActive",
    "NewConnectionsPerSecond",
    "NetworkBytes",
)
DEPLOYMENT_METRICS = (
    "CpuUtilizationPercentage",
    "CpuMemoryUtilizationPercentage",
    "DiskUtilization",
    "DeploymentCapacity",
)
# Endpoint metrics with a `deployment` dimension (the same metric tables): a scale rule on one of them is filtered
# to its own deployment, so green's latency does not scale blue. The others measure the whole endpoint.
PER_DEPLOYMENT_ENDPOINT_METRICS = (
    "RequestLatency",
    "RequestLatency_P50",
    "RequestLatency_P90",
    "RequestLatency_P95",
    "RequestLatency_P99",
    "RequestsPerMinute",
)
# The only time grain the metric tables list for online endpoints and their deployments.
METRIC_TIME_GRAIN = "PT1M"
# Azure Monitor autoscale limits ("Understand autoscale settings"): a window from 5 minutes to 12 hours, a
# cool-down from 1 minute to 1 week.
_MINUTE = 60
# "Manage and increase quotas and limits for resources with Azure Machine Learning" (managed online endpoints):
# 50 instances per deployment by default; a raised limit needs a support request, and this constant raised with it.
MAX_INSTANCES_PER_DEPLOYMENT = 50


def _seconds(duration: str) -> float:
    """Seconds of an ISO 8601 duration (PT..H..M..S, as duration_seconds reads it), or of P<n>D."""
    days = re.fullmatch(r"P(\d+)D", duration) if isinstance(duration, str) else None
    if days:
        return int(days.group(1)) * 86400
    return duration_seconds(duration)


def _between(low: float, high: float, rule: str):
    def validate(value: str) -> str:
        if not low <= _seconds(value) <= high:
            raise ValueError(f"'{value}' is outside Azure's range: {rule}")
        return value

    return validate


class ScaleDirection(str, Enum):
    INCREASE = "Increase"
    DECREASE = "Decrease"


class ComparisonOperator(str, Enum):
    GREATER_THAN = "GreaterThan"
    GREATER_THAN_OR_EQUAL = "GreaterThanOrEqual"
    LESS_THAN = "LessThan"
    LESS_THAN_OR_EQUAL = "LessThanOrEqual"


class MetricStatistic(str, Enum):
    AVERAGE = "Average"
    MIN = "Min"
    MAX = "Max"


class TimeAggregation(str, Enum):
    AVERAGE = "Average"
    MINIMUM = "Minimum"
    MAXIMUM = "Maximum"
    LAST = "Last"


class AutoscaleRuleConfig(ConfigModel):
    """One Azure Monitor scale rule; the metric decides whether the deployment or its endpoint is measured."""

    metric: str = Field(description="A deployment metric (CpuUtilizationPercentage, ...) or an endpoint metric (RequestLatency, ...).")
    operator: ComparisonOperator = Field(description="GreaterThan, GreaterThanOrEqual, LessThan or LessThanOrEqual.")
    threshold: float = Field(ge=0, description="Value the metric is compared with (percent, milliseconds, count).")
    direction: ScaleDirection = Field(description="Increase (scale out) or Decrease (scale in).")
    change_count: int = Field(1, ge=1, le=100, description="Instances added or removed when the rule fires.")
    statistic: MetricStatistic = Field(MetricStatistic.AVERAGE, description="How instances' values combine per time grain.")
    time_aggregation: TimeAggregation = Field(TimeAggregation.AVERAGE, description="How time grains combine over the window.")
    time_grain: str = Field(METRIC_TIME_GRAIN, description="PT1M, the only grain online endpoint metrics are sampled at.")
    time_window: str = Field("PT5M", description="ISO 8601 window looked back on, 5 minutes to 12 hours.")
    cooldown: str = Field("PT5M", description="ISO 8601 wait after a scale action, 1 minute to 1 week.")

    _window = field_validator("time_window")(_between(5 * _MINUTE, 12 * 3600, "a time window is 5 minutes to 12 hours"))
    _cooldown = field_validator("cooldown")(_between(_MINUTE, 7 * 86400, "a cool-down is 1 minute to 1 week"))

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in ENDPOINT_METRICS + DEPLOYMENT_METRICS:
            raise ValueError(
                f"'{value}' is not an online endpoint or deployment metric Azure Monitor publishes "
                f"(endpoint: {', '.join(ENDPOINT_METRICS)}; deployment: {', '.join(DEPLOYMENT_METRICS)})"
            )
        return value

    @field_validator("time_grain")
    @classmethod
    def _sampled_grain(cls, value: str) -> str:
        if value != METRIC_TIME_GRAIN:
            raise ValueError(
                f"'{value}': online endpoint and deployment metrics are sampled at {METRIC_TIME_GRAIN} only (\"Supported "
                'metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints" and ".../deployments")'
            )
        return value

    @field_validator("metric")
    @classmethod
    def _measures_one_deployment(cls, value: str) -> str:
        if value in ENDPOINT_METRICS and value not in PER_DEPLOYMENT_ENDPOINT_METRICS:
            raise ValueError(
                f"'{value}' measures the whole endpoint (no deployment dimension): one deployment's scaler would react "
                f"to every deployment's load; use {', '.join(PER_DEPLOYMENT_ENDPOINT_METRICS)} or a deployment metric"
            )
        return value

    @property
    def on_endpoint(self) -> bool:
        return self.metric in ENDPOINT_METRICS


# azureml-examples' autoscale sample (cli/deploy-moe-autoscale.sh): CPU above 70% on average over 5 minutes adds
# two instances, CPU below 25% removes one, endpoint request latency above 70 ms adds one; 1-minute grains and
# the Azure CLI's 5-minute cool-down.
DEFAULT_AUTOSCALE_RULES = (
    AutoscaleRuleConfig(metric="CpuUtilizationPercentage", operator="GreaterThan", threshold=70, direction="Increase", change_count=2),
    AutoscaleRuleConfig(metric="CpuUtilizationPercentage", operator="LessThan", threshold=25, direction="Decrease", change_count=1),
    AutoscaleRuleConfig(metric="RequestLatency", operator="GreaterThan", threshold=70, direction="Increase", change_count=1),
)


class AutoscaleConfig(ConfigModel):
    min_instances: int = Field(
        ge=1, le=MAX_INSTANCES_PER_DEPLOYMENT, description="Fewest instances the scaler keeps; 3 or more for high availability."
    )
    max_instances: int = Field(
        ge=1,
        le=MAX_INSTANCES_PER_DEPLOYMENT,
        description="Most instances the scaler adds (Azure's per-deployment limit is 50); the quota estimate reserves for these.",
    )
    default_instances: int = Field(
        ge=1, le=MAX_INSTANCES_PER_DEPLOYMENT, description="Instances when metrics are missing; the deployment starts with these."
    )
    rules: list[AutoscaleRuleConfig] = Field(
        default_factory=lambda: list(DEFAULT_AUTOSCALE_RULES),
        min_length=1,
        max_length=10,
        description="Scale rules, at most 10 per profile (Azure's limit); default: azureml-examples' CPU and request-latency rules.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> AutoscaleConfig:
        if self.min_instances > self.max_instances:
            raise ValueError(f"minInstances ({self.min_instances}) must not exceed maxInstances ({self.max_instances})")
        if not self.min_instances <= self.default_instances <= self.max_instances:
            raise ValueError(
                f"defaultInstances ({self.default_instances}) must lie in [minInstances, maxInstances] "
                f"([{self.min_instances}, {self.max_instances}])"
            )
        # Azure refuses a scale action larger than the range: InvalidActionValue, "scale value less than or equal to
        # the difference between the capacity maximum and the capacity minimum" (Azure/bicep-types-az#1859). With
        # minimum = maximum the range is 0, so it refuses every rule.
        span = self.max_instances - self.min_instances
        if span == 0:
            raise ValueError(
                f"minInstances = maxInstances ({self.min_instances}): Azure refuses every scale rule when the range is "
                f"empty (InvalidActionValue); use instanceCount: {self.min_instances} instead of autoscale"
            )
        too_large = [f"rules[{i}].changeCount ({r.change_count})" for i, r in enumerate(self.rules) if r.change_count > span]
        if too_large:
            raise ValueError(
                f"{', '.join(too_large)} exceeds maxInstances - minInstances ({span}): Azure refuses a scale action "
                "larger than the range (InvalidActionValue)"
            )
        return self


class RollingRate(str, Enum):
    MINUTE = "Minute"
    HOUR = "Hour"
    DAY = "Day"
    MONTH = "Month"
    YEAR = "Year"


class DataCollectorConfig(ConfigModel):
    """Azure ML data collector ("Collect production data from models deployed for real-time inferencing")."""

    collections: list[DataCollectionName] = Field(
        default_factory=lambda: ["model_inputs", "model_outputs"],
        min_length=1,
        max_length=5,
        description="Collections to enable: model_inputs/model_outputs (custom logging) or request/response (payload logging).",
    )
    sampling_rate: float = Field(1.0, gt=0, le=1, description="Share of requests collected (0 < rate <= 1).")
    rolling_rate: RollingRate = Field(
        RollingRate.HOUR, description="How collected files are partitioned: Minute, Hour, Day, Month or Year."
    )

    @field_validator("collections")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        unique_ignoring_case(value, "collection names must be unique")
        return value


# Metric alert windows and evaluation frequencies Azure accepts ("Create or edit a metric alert rule").
ALERT_WINDOWS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")


class LogAnalyticsConfig(ConfigModel):
    """Where endpoint logs go: a workspace the stack creates (workspaceName) or an existing one (workspaceId)."""

    workspace_name: LogAnalyticsName | None = Field(
        None, description="Log Analytics workspace the stack creates in the ML workspace's resource group."
    )
    workspace_id: LogAnalyticsId | None = Field(None, description="ARM id of an existing Log Analytics workspace.")
    retention_in_days: int = Field(30, ge=30, le=730, description="Retention of a created workspace (30-730 days).")

    @model_validator(mode="after")
    def _one_source(self) -> LogAnalyticsConfig:
        if bool(self.workspace_name) == bool(self.workspace_id):
            raise ValueError("set exactly one of workspaceName (created by the stack) and workspaceId (existing)")
        return self


class AlertsConfig(ConfigModel):
    """Metric alert thresholds per online endpoint; the rollout checks each step against the same values."""

    request_latency_ms: float = Field(1000, gt=0, le=180000, description="Average RequestLatency of the endpoint, in milliseconds.")
    server_errors_per_minute: float = Field(5, ge=0, description="Requests per minute answered with a 5xx status.")
    cpu_percent: float = Field(90, gt=0, le=100, description="Average CPU utilization of a deployment, percent.")
    memory_percent: float = Field(90, gt=0, le=100, description="Average memory utilization of a deployment, percent.")
    severity: int = Field(2, ge=0, le=4, description="Alert severity, 0 (critical) to 4 (verbose).")
    window_size: str = Field("PT5M", description=f"Period each evaluation looks back on ({', '.join(ALERT_WINDOWS)}).")
    evaluation_frequency: str = Field("PT1M", description=f"How often the alert is evaluated ({', '.join(ALERT_FREQUENCIES)}).")

    @field_validator("window_size")
    @classmethod
    def _window(cls, value: str) -> str:
        if value not in ALERT_WINDOWS:
            raise ValueError(f"'{value}' is not a window Azure metric alerts accept ({', '.join(ALERT_WINDOWS)})")
        return value

    @field_validator("evaluation_frequency")
    @classmethod
    def _frequency(cls, value: str, info: ValidationInfo) -> str:
        if value not in ALERT_FREQUENCIES:
            raise ValueError(f"'{value}' is not a frequency Azure metric alerts accept ({', '.join(ALERT_FREQUENCIES)})")
        window = info.data.get("window_size")
        if window and _seconds(value) > _seconds(window):
            raise ValueError(f"'{value}' is longer than windowSize ({window}); Azure requires frequency <= window")
        return value


class EmailReceiverConfig(ConfigModel):
    name: ReceiverName = Field(description="Receiver name, unique in the action group.")
    address: EmailAddress = Field(description="Email address alerts are sent to.")


class WebhookReceiverConfig(ConfigModel):
    name: ReceiverName = Field(description="Receiver name, unique in the action group.")
    service_uri: HttpsUrl = Field(description="https URL the alert payload is posted to (common alert schema).")


class ActionGroupConfig(ConfigModel):
    short_name: ActionGroupShortName = Field(description="Short name shown in SMS and email (1-12 characters).")
    emails: list[EmailReceiverConfig] = Field(default_factory=list, description="Email receivers.")
    webhooks: list[WebhookReceiverConfig] = Field(default_factory=list, description="Webhook receivers.")

    @model_validator(mode="after")
    def _receivers(self) -> ActionGroupConfig:
        if not self.emails and not self.webhooks:
            raise ValueError("an action group needs at least one receiver (emails or webhooks), each with its address")
        unique_ignoring_case([r.name for r in [*self.emails, *self.webhooks]], "receiver names must be unique")
        return self


class MonitoringConfig(ConfigModel):
    """Logs, Application Insights and alerts for every online endpoint of the stack."""

    log_analytics: LogAnalyticsConfig | None = Field(None, description="Send endpoint traffic, console and event logs here.")
    app_insights_enabled: bool = Field(False, description="Deployments send to the workspace's Application Insights.")
    alerts: AlertsConfig | None = Field(None, description="Metric alerts per endpoint; needs actionGroup.")
    action_group: ActionGroupConfig | None = Field(None, description="Who is notified when an alert fires.")

    @model_validator(mode="after")
    def _alerts_notify_someone(self) -> MonitoringConfig:
        if self.alerts is not None and self.action_group is None:
            raise ValueError("alerts need an actionGroup with at least one receiver")
        if self.action_group is not None and self.alerts is None:
            raise ValueError("actionGroup is set but alerts is not: add alerts (defaults apply with alerts: {})")
        return self
