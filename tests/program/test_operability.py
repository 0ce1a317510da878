"""Autoscale, logs, alerts and data collection: config rules, wiring under the ARM mocks, the pack over gRPC."""

import copy

import pytest
import yaml

from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.stack import parse_settings
from azureml_endpoints.offline.arm_mocks import SUBSCRIPTION_ID
from azureml_endpoints.offline.estimates import online_quota
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.offline.policy_client import load_policy_config
from azureml_endpoints.paths import REPO, project_dir
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks, stack_config
from scripts.api_version_table import TABLE, default_api_versions, preview_defaults
from tests.support.abac import Request
from tests.support.abac import evaluate as evaluate_condition

NS = "azureml-endpoints"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
ALERT = "azure-native:monitor:MetricAlert"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
LOG_ANALYTICS = "azure-native:operationalinsights:Workspace"
RA = "azure-native:authorization:RoleAssignment"
SBDC = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
EXISTING_LOGS = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-shared/providers/Microsoft.OperationalInsights/workspaces/log-shared"


def raw(stack: str) -> dict:
    config = yaml.safe_load((project_dir() / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in config.items()}


def refused(config: dict) -> str:
    with pytest.raises(SettingsError) as error:
        parse_settings(config)
    return str(error.value)


def blue(config: dict) -> dict:
    return config["onlineEndpoints"][0]["deployments"][0]


AUTOSCALE_OK = {"minInstances": 3, "maxInstances": 6, "defaultInstances": 3}
MONITORING_OK = {
    "logAnalytics": {"workspaceName": "log-test"},
    "alerts": {},
    "actionGroup": {"shortName": "oncall", "emails": [{"name": "a", "address": "a@example.com"}]},
}

RULE_OK = {"metric": "CpuUtilizationPercentage", "operator": "GreaterThan", "threshold": 70, "direction": "Increase"}


def autoscaled(config: dict, **autoscale) -> None:
    blue(config).pop("instanceCount")
    blue(config)["autoscale"] = {**AUTOSCALE_OK, **autoscale}


BAD = [
    # Azure/bicep-types-az#1859: InvalidActionValue for a change count larger than maximum - minimum.
    (
        lambda c: autoscaled(c, rules=[{**RULE_OK, "changeCount": 4}]),
        "onlineEndpoints[0].deployments[0].autoscale",
        "rules[0].changeCount (4) exceeds maxInstances - minInstances (3)",
    ),
    (
        lambda c: autoscaled(c, minInstances=3, maxInstances=3, defaultInstances=3),
        "onlineEndpoints[0].deployments[0].autoscale",
        "minInstances = maxInstances (3): Azure refuses every scale rule",
    ),
    # "Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints": PT1M only.
    (
        lambda c: autoscaled(c, rules=[{**RULE_OK, "timeGrain": "PT5M"}]),
        "onlineEndpoints[0].deployments[0].autoscale.rules[0].timeGrain",
        "sampled at PT1M only",
    ),
    (
        lambda c: autoscaled(c, rules=[{**RULE_OK, "metric": "ConnectionsActive"}]),
        "onlineEndpoints[0].deployments[0].autoscale.rules[0].metric",
        "measures the whole endpoint",
    ),
    # "Manage and increase quotas and limits for resources with Azure Machine Learning": 50 instances per deployment.
    (lambda c: blue(c).update(instanceCount=51), "onlineEndpoints[0].deployments[0].instanceCount", "less than or equal to 50"),
    (lambda c: autoscaled(c, maxInstances=60), "onlineEndpoints[0].deployments[0].autoscale.maxInstances", "less than or equal to 50"),
    # "Autoscale Settings - Create Or Update": at most 15 tags on an autoscale setting (50 elsewhere).
    (
        lambda c: (autoscaled(c), c["tags"].update({f"t{i}": "x" for i in range(12)})),
        "tags",
        "exceed the 15 an autoscale setting takes",
    ),
    (
        lambda c: blue(c).update(autoscale=AUTOSCALE_OK, instanceCount=3),
        "onlineEndpoints[0].deployments[0].autoscale",
        "instanceCount and autoscale exclude each other",
    ),
    (lambda c: blue(c).pop("instanceCount"), "onlineEndpoints[0].deployments[0].autoscale", "set instanceCount"),
    (
        lambda c: (blue(c).pop("instanceCount"), blue(c).update(autoscale={**AUTOSCALE_OK, "minInstances": 7})),
        "onlineEndpoints[0].deployments[0].autoscale",
        "minInstances (7) must not exceed maxInstances (6)",
    ),
    (
        lambda c: (blue(c).pop("instanceCount"), blue(c).update(autoscale={**AUTOSCALE_OK, "defaultInstances": 9})),
        "onlineEndpoints[0].deployments[0].autoscale",
        "defaultInstances (9) must lie in [minInstances, maxInstances]",
    ),
    (
        lambda c: (
            blue(c).pop("instanceCount"),
            blue(c).update(
                autoscale={**AUTOSCALE_OK, "rules": [{"metric": "Cpu", "operator": "GreaterThan", "threshold": 1, "direction": "Increase"}]}
            ),
        ),
        "onlineEndpoints[0].deployments[0].autoscale.rules[0].metric",
        "not an online endpoint or deployment metric",
    ),
    (
        lambda c: (
            blue(c).pop("instanceCount"),
            blue(c).update(
                autoscale={
                    **AUTOSCALE_OK,
                    "rules": [
                        {
                            "metric": "RequestLatency",
                            "operator": "GreaterThan",
                            "threshold": 1,
                            "direction": "Increase",
                            "timeWindow": "PT1M",
                        }
                    ],
                }
            ),
        ),
        "onlineEndpoints[0].deployments[0].autoscale.rules[0].timeWindow",
        "5 minutes to 12 hours",
    ),
    (
        lambda c: (
            blue(c).pop("instanceCount"),
            blue(c).update(
                autoscale={
                    **AUTOSCALE_OK,
                    "rules": [
                        {"metric": "RequestLatency", "operator": "GreaterThan", "threshold": 1, "direction": "Increase", "cooldown": "P8D"}
                    ],
                }
            ),
        ),
        "onlineEndpoints[0].deployments[0].autoscale.rules[0].cooldown",
        "1 minute to 1 week",
    ),
    (lambda c: c.update(monitoring={**MONITORING_OK, "alerts": {"severity": 5}}), "monitoring.alerts.severity", "less than or equal to 4"),
    (
        lambda c: c.update(monitoring={**MONITORING_OK, "alerts": {"cpuPercent": 120}}),
        "monitoring.alerts.cpuPercent",
        "less than or equal to 100",
    ),
    (
        lambda c: c.update(monitoring={**MONITORING_OK, "alerts": {"windowSize": "PT2M"}}),
        "monitoring.alerts.windowSize",
        "not a window Azure metric alerts accept",
    ),
    (
        lambda c: c.update(monitoring={**MONITORING_OK, "alerts": {"windowSize": "PT1M", "evaluationFrequency": "PT5M"}}),
        "monitoring.alerts.evaluationFrequency",
        "frequency <= window",
    ),
    (
        lambda c: c.update(monitoring={**MONITORING_OK, "actionGroup": {"shortName": "oncall"}}),
        "monitoring.actionGroup",
        "at least one receiver",
    ),
    (
        lambda c: c.update(monitoring={**MONITORING_OK, "actionGroup": {"shortName": "oncall", "emails": [{"name": "a"}]}}),
        "monitoring.actionGroup.emails[0].address",
        "is required",
    ),
    (
        lambda c: c.update(
            monitoring={**MONITORING_OK, "actionGroup": {"shortName": "oncall", "webhooks": [{"name": "w", "serviceUri": "http://x"}]}}
        ),
        "monitoring.actionGroup.webhooks[0].serviceUri",
        "https",
    ),
    (
        lambda c: c.update(
            monitoring={
                **MONITORING_OK,
                "actionGroup": {"shortName": "a-much-too-long-name", "emails": [{"name": "a", "address": "a@example.com"}]},
            }
        ),
        "monitoring.actionGroup.shortName",
        "1-12",
    ),
    (lambda c: c.update(monitoring={"alerts": {}}), "monitoring", "alerts need an actionGroup"),
    (
        lambda c: c.update(monitoring={"logAnalytics": {"workspaceName": "log-a", "workspaceId": EXISTING_LOGS}}),
        "monitoring.logAnalytics",
        "exactly one of workspaceName",
    ),
    (
        lambda c: c.update(monitoring={"logAnalytics": {"workspaceId": "/subscriptions/x/log"}}),
        "monitoring.logAnalytics.workspaceId",
        "full ARM id",
    ),
    (
        lambda c: c.update(monitoring={"logAnalytics": {"workspaceName": "log-a", "retentionInDays": 7}}),
        "monitoring.logAnalytics.retentionInDays",
        "greater than or equal to 30",
    ),
    (
        lambda c: blue(c).update(dataCollector={"samplingRate": 0}),
        "onlineEndpoints[0].deployments[0].dataCollector.samplingRate",
        "greater than 0",
    ),
    (
        lambda c: blue(c).update(dataCollector={"collections": ["model inputs"]}),
        "onlineEndpoints[0].deployments[0].dataCollector.collections[0]",
        "letters, digits or '_'",
    ),
]


@pytest.mark.parametrize("mutate, key, rule", BAD, ids=[f"{b[1]}:{b[2][:30]}" for b in BAD])
def test_bad_operability_config_is_refused_with_the_key_named(mutate, key, rule):
    config = raw("dev")
    mutate(config)
    message = refused(config)
    assert f"{NS}:{key}: " in message and rule in message, message


def test_tags_an_autoscale_setting_takes_are_accepted_and_without_autoscale_the_general_limit_applies():
    config = raw("dev")
    config["tags"].update({f"t{i}": "x" for i in range(15 - 3 - len(config["tags"]))})
    autoscaled(config)
    parse_settings(config)  # exactly 15 with the program's three
    config = raw("dev")
    config["tags"].update({f"t{i}": "x" for i in range(20)})
    parse_settings(config)  # no autoscale setting: up to 50


def test_default_autoscale_rules_are_the_azureml_examples_sample():
    config = raw("dev")
    blue(config).pop("instanceCount")
    blue(config)["autoscale"] = AUTOSCALE_OK
    rules = parse_settings(config).online_endpoints[0].deployments[0].autoscale.rules
    assert [(r.metric, r.operator.value, r.threshold, r.direction.value, r.change_count, r.time_window, r.cooldown) for r in rules] == [
        ("CpuUtilizationPercentage", "GreaterThan", 70, "Increase", 2, "PT5M", "PT5M"),
        ("CpuUtilizationPercentage", "LessThan", 25, "Decrease", 1, "PT5M", "PT5M"),
        ("RequestLatency", "GreaterThan", 70, "Increase", 1, "PT5M", "PT5M"),
    ]


# --- wiring under the mocks ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod():
    return evaluate("prod")


def test_prod_ships_with_autoscale_logs_and_alerts(prod):
    assert prod.of_type(AUTOSCALE) and prod.of_type(DIAGNOSTICS) and prod.of_type(ALERT) and prod.of_type(ACTION_GROUP)
    for stack in ("dev", "sai-example"):  # dev gets none unless asked
        types = {r.type for r in evaluate(stack).registrations}
        assert not types & {AUTOSCALE, DIAGNOSTICS, ALERT, ACTION_GROUP, LOG_ANALYTICS}


def test_autoscale_targets_the_deployment_and_measures_endpoint_metrics_on_the_endpoint(prod):
    (setting,) = prod.of_type(AUTOSCALE)
    deployment = prod.named("mi-uai-prod-blue")
    endpoint = prod.named("mi-uai-prod-endpoint")
    assert setting.inputs["targetResourceUri"] == deployment.id
    assert deployment.urn in setting.property_dependencies["targetResourceUri"]
    (profile,) = setting.inputs["profiles"]
    assert profile["capacity"] == {"minimum": "3", "maximum": "6", "default": "3"}
    by_metric = {(r["metricTrigger"]["metricName"], r["scaleAction"]["direction"]): r for r in profile["rules"]}
    cpu = by_metric[("CpuUtilizationPercentage", "Increase")]["metricTrigger"]
    assert cpu["metricResourceUri"] == deployment.id
    assert cpu["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
    latency = by_metric[("RequestLatency", "Increase")]["metricTrigger"]
    assert latency["metricResourceUri"] == endpoint.id
    assert latency["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    # The endpoint's latency of blue's own requests only: the metric's `deployment` dimension, filtered.
    assert latency["dimensions"] == [{"dimensionName": "deployment", "operator": "Equals", "values": ["blue"]}]
    assert "dimensions" not in cpu  # a deployment metric measures the deployment already
    assert setting.inputs["location"] == endpoint.inputs["location"]


def test_under_autoscale_the_program_does_not_fight_the_scaler(prod):
    blue_deployment, green = prod.named("mi-uai-prod-blue"), prod.named("mi-uai-prod-green")
    # The first `up` starts at defaultInstances; no ignoreChanges, which would re-send that first count later.
    assert blue_deployment.ignore_changes == [] and blue_deployment.inputs["sku"]["capacity"] == 3
    assert green.ignore_changes == []
    lines, per_family = online_quota(prod.registrations)
    assert {line.deployment: line.instances for line in lines} == {"mi-uai-prod-blue": 6, "mi-uai-prod-green": 3}
    assert per_family == {"standardDSv2Family": (8 + 4) * 4}  # ceil(1.2*6)=8, ceil(1.2*3)=4, 4 cores each
    ignore = yaml.safe_load((REPO / "azureml_endpoints" / "cli" / "drift_ignore.yaml").read_text())
    assert "sku.capacity" in ignore[DEPLOYMENT]


def _blue_capacity_sent(first, config) -> float:
    """Plays a second `up` of `config` against the fake Azure `first` left; the capacity blue's PUT carries."""
    blue_id = first.named("mi-uai-prod-blue").id
    second = evaluate("prod", config=config, azure=first.mocks)
    assert second.named("mi-uai-prod-blue").id == blue_id
    return [body for rid, body in first.mocks.puts if rid == blue_id][-1]["sku"]["capacity"]


def _scaled_prod(capacity: int):
    first = evaluate("prod")
    # Azure Monitor scaled blue out at peak (the scaler changes the deployment's sku capacity).
    first.mocks.by_id[first.named("mi-uai-prod-blue").id.lower()]["sku"]["capacity"] = float(capacity)
    return first


def test_a_change_to_an_autoscaled_deployment_keeps_the_capacity_azure_has():
    """A deployment update is a full PUT (azure-native PUTs OnlineDeployments_CreateOrUpdate), so it carries a
    capacity: the one Azure has now, read with getOnlineDeployment, not the 3 the first `up` sent."""
    config = stack_config("prod")
    config[f"{NS}:onlineEndpoints"][0]["deployments"][0]["environmentVariables"] = {"LOG_LEVEL": "debug"}
    assert _blue_capacity_sent(_scaled_prod(6), config) == 6
    # A fixed count is still the declared one.
    assert evaluate("prod", config=config, azure=_scaled_prod(6).mocks).named("mi-uai-prod-green").inputs["sku"]["capacity"] == 3


def test_the_kept_capacity_stays_within_the_configured_bounds():
    config = stack_config("prod")
    config[f"{NS}:onlineEndpoints"][0]["deployments"][0]["autoscale"]["maxInstances"] = 5
    assert _blue_capacity_sent(_scaled_prod(6), config) == 5


def test_logs_go_from_the_endpoint_to_the_created_workspace(prod):
    (workspace,) = prod.of_type(LOG_ANALYTICS)
    assert workspace.inputs["workspaceName"] == "log-ml-endpoints-prod" and workspace.inputs["retentionInDays"] == 90
    (setting,) = prod.of_type(DIAGNOSTICS)
    assert setting.inputs["resourceUri"] == prod.named("mi-uai-prod-endpoint").id
    assert setting.inputs["workspaceId"] == workspace.id
    assert {log["category"] for log in setting.inputs["logs"] if log["enabled"]} == {
        "AmlOnlineEndpointTrafficLog",
        "AmlOnlineEndpointConsoleLog",
        "AmlOnlineEndpointEventLog",
    }
    for deployment in prod.of_type(DEPLOYMENT):
        assert deployment.inputs["properties"]["appInsightsEnabled"] is True


def test_alerts_scope_the_endpoint_and_each_deployment_and_notify_the_action_group(prod):
    endpoint = prod.named("mi-uai-prod-endpoint")
    (group,) = prod.of_type(ACTION_GROUP)
    assert group.inputs["emailReceivers"] == [
        {"name": "ml-platform-oncall", "emailAddress": "ml-platform-oncall@example.com", "useCommonAlertSchema": True}
    ]
    alerts = {a.inputs["ruleName"]: a.inputs for a in prod.of_type(ALERT)}
    assert set(alerts) == {
        "mi-uai-prod-latency",
        "mi-uai-prod-server-errors",
        "mi-uai-prod-blue-cpu",
        "mi-uai-prod-blue-memory",
        "mi-uai-prod-green-cpu",
        "mi-uai-prod-green-memory",
    }
    assert alerts["mi-uai-prod-latency"]["scopes"] == [endpoint.id]
    assert alerts["mi-uai-prod-blue-cpu"]["scopes"] == [prod.named("mi-uai-prod-blue").id]
    (latency,) = alerts["mi-uai-prod-latency"]["criteria"]["allOf"]
    assert (latency["metricName"], latency["threshold"], latency["timeAggregation"]) == ("RequestLatency", 500, "Average")
    (errors,) = alerts["mi-uai-prod-server-errors"]["criteria"]["allOf"]
    assert errors["metricName"] == "RequestsPerMinute"
    assert errors["dimensions"] == [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}]
    (memory,) = alerts["mi-uai-prod-green-memory"]["criteria"]["allOf"]
    assert memory["metricName"] == "CpuMemoryUtilizationPercentage" and memory["threshold"] == 85
    for alert in alerts.values():
        assert alert["actions"] == [{"actionGroupId": group.id}]
        assert alert["severity"] == 2 and alert["windowSize"] == "PT5M" and alert["evaluationFrequency"] == "PT1M"


def test_an_existing_log_analytics_workspace_is_used_by_id():
    config = stack_config("dev")
    config[f"{NS}:monitoring"] = {"logAnalytics": {"workspaceId": EXISTING_LOGS}}
    evaluation = evaluate("dev", config=config)
    assert not evaluation.of_type(LOG_ANALYTICS) and not evaluation.of_type(ALERT)
    (setting,) = evaluation.of_type(DIAGNOSTICS)
    assert setting.inputs["workspaceId"] == EXISTING_LOGS


def _collecting_dev():
    config = stack_config("dev")
    config[f"{NS}:onlineEndpoints"][0]["deployments"][0]["dataCollector"] = {
        "collections": ["model_inputs", "model_outputs"],
        "samplingRate": 0.5,
    }
    return evaluate("dev", config=config)


def test_data_collector_writes_as_the_endpoint_identity_to_one_container():
    evaluation = _collecting_dev()
    uai = evaluation.named("mi-uai-dev-identity")
    collector = evaluation.named("mi-uai-dev-blue").inputs["properties"]["dataCollector"]
    assert collector["collections"] == {
        name: {"dataCollectionMode": "Enabled", "samplingRate": 0.5, "clientId": uai.outputs["clientId"]}
        for name in ("model_inputs", "model_outputs")
    }
    (ws,) = evaluation.mocks.workspaces.values()
    (grant,) = [r for r in evaluation.of_type(RA) if r.inputs["roleDefinitionId"].endswith(SBDC)]
    assert grant.inputs["scope"] == f"{ws.storage_account_id}/blobServices/default/containers/azureml-blobstore-{ws.workspace_guid}"
    assert grant.inputs["principalId"] == uai.outputs["principalId"]
    assert grant.urn in evaluation.named("mi-uai-dev-roles-propagation").dependencies
    # Without dataCollector the write role is never granted.
    assert not [r for r in evaluate("dev").of_type(RA) if r.inputs["roleDefinitionId"].endswith(SBDC)]


BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def _blob(action: str, path: str) -> Request:
    return Request(f"{BLOB}/{action}", resource={f"{BLOB}:path": [path]})


def test_the_collector_grant_in_a_created_workspace_is_the_default_datastore_container_and_its_paths_only():
    """In a created workspace the datastore's account and container are outputs: the scope must still be an ARM id
    ("Collect production data from models deployed for real-time inferencing": the collector writes to the default
    datastore under modelDataCollector/<endpoint>/<deployment>/<collection>/)."""
    config = stack_config("sandbox")
    endpoint = config[f"{NS}:onlineEndpoints"][0]
    endpoint["deployments"][0]["dataCollector"] = {"collections": ["model_inputs"]}
    evaluation = evaluate("sandbox", config=config)
    (grant,) = [r for r in evaluation.of_type(RA) if r.inputs["roleDefinitionId"].endswith(SBDC)]
    (workspace,) = evaluation.of_type("azure-native:machinelearningservices:Workspace")
    scope = grant.inputs["scope"]
    assert scope.startswith("/subscriptions/") and "Calling __str__" not in scope
    # The default datastore (workspaceblobstore) Azure made with the workspace, not the program's asset container.
    default = f"{workspace.inputs['storageAccount']}/blobServices/default/containers/azureml-blobstore-{workspace.outputs['workspaceId']}"
    assert scope == default
    condition = grant.inputs["condition"]
    assert grant.inputs["conditionVersion"] == "2.0"
    prefix = f"modelDataCollector/{endpoint['name']}/{endpoint['deployments'][0]['name']}/model_inputs"
    assert evaluate_condition(condition, _blob("write", f"{prefix}/2026/01/01/00/0.jsonl"))
    assert evaluate_condition(condition, _blob("add/action", f"{prefix}/2026/01/01/00/0.jsonl"))
    # Not the models and code the endpoint loads from the same container, not another collection or endpoint.
    for path in (
        "LocalUpload/model/model.pkl",
        f"modelDataCollector/{endpoint['name']}/x/model_outputs/a.jsonl",
        "modelDataCollector/other/a",
    ):
        for action in ("write", "delete", "read", "add/action", "move/action"):
            assert not evaluate_condition(condition, _blob(action, path)), (action, path)


# --- the pack over gRPC -------------------------------------------------------------------------------------------


def mandatory(violations):
    return [v for v in violations if v.level == "mandatory"]


def test_the_pack_accepts_the_data_collector_grant_only_with_a_data_collector(pack):
    resources = _collecting_dev().registrations
    assert mandatory(pack.check(resources, load_policy_config("dev"))) == []
    without = copy.deepcopy(resources)
    next(r for r in without if r.name == "mi-uai-dev-blue").inputs["properties"].pop("dataCollector")
    (violation,) = mandatory(pack.check(without, load_policy_config("dev")))
    assert violation.policy == "data-collector-write-role" and violation.resource_name == "mi-uai-dev-roles-data-collector-writer"
    account_wide = copy.deepcopy(resources)
    grant = next(r for r in account_wide if r.name == "mi-uai-dev-roles-data-collector-writer")
    grant.inputs["scope"] = grant.inputs["scope"].split("/blobServices/")[0]
    # Off one container, the grant is no data collector's: only a created workspace's identity may hold it there.
    (violation,) = mandatory(pack.check(account_wide, load_policy_config("dev")))
    assert violation.policy == "workspace-identity-roles" and "primary user-assigned identity" in violation.message


def test_preview_api_types_are_refused_unless_excepted(pack, prod):
    assert mandatory(pack.check(prod.registrations, load_policy_config("prod"))) == []
    rule = copy.deepcopy(next(r for r in prod.registrations if r.type == ALERT))
    # A type whose default API version is a preview, with no exception (bootstrap's log alert has one).
    rule.type = "azure-native:monitor:PrivateLinkScope"
    rule.urn = rule.urn.replace(ALERT, rule.type)
    (violation,) = mandatory(pack.check([*prod.registrations, rule], load_policy_config("prod")))
    assert violation.policy == "no-preview-api-versions" and "2023-06-01-preview" in violation.message


def test_the_preview_table_is_the_pinned_provider_and_every_preview_type_used_is_excepted():
    import json

    from guardrails.api_versions import PREVIEW_EXCEPTIONS

    assert json.loads(TABLE.read_text()) == preview_defaults(), "regenerate: .venv/bin/python -m scripts.api_version_table"
    defaults = default_api_versions()
    assert defaults["azure-native:monitor:MetricAlert"] == "2018-03-01"  # stable: no exception needed
    assert defaults["azure-native:operationalinsights:Workspace"] == "2023-09-01"
    used = {r.type for stack in shipped_stacks() for r in evaluate(stack).registrations if r.custom}
    for type_ in sorted(used):
        version = defaults.get(type_)
        if version and "preview" in version:
            assert PREVIEW_EXCEPTIONS.get(type_, ("",))[0] == version, type_
    for type_, (version, reason) in PREVIEW_EXCEPTIONS.items():
        assert defaults[type_] == version and reason


def test_prod_refuses_an_autoscale_minimum_below_high_availability(pack, prod):
    resources = copy.deepcopy(prod.registrations)
    setting = next(r for r in resources if r.type == AUTOSCALE)
    setting.inputs["profiles"][0]["capacity"]["minimum"] = "1"
    (violation,) = mandatory(pack.check(resources, load_policy_config("prod")))
    assert violation.policy == "deployment-min-instances" and violation.resource_name == setting.name
    assert mandatory(pack.check(resources, load_policy_config("dev"))) == []


def test_a_system_assigned_endpoint_collects_as_itself():
    config = stack_config("sai-example")
    config[f"{NS}:onlineEndpoints"][0]["deployments"][0]["dataCollector"] = {}
    evaluation = evaluate("sai-example", config=config)
    endpoint = evaluation.named("mi-sai-dev-endpoint")
    collections = evaluation.named("mi-sai-dev-blue").inputs["properties"]["dataCollector"]["collections"]
    assert collections == {n: {"dataCollectionMode": "Enabled", "samplingRate": 1.0} for n in ("model_inputs", "model_outputs")}
    (grant,) = [r for r in evaluation.of_type(RA) if r.inputs["roleDefinitionId"].endswith(SBDC)]
    assert grant.inputs["principalId"] == endpoint.outputs["identity"]["principalId"]


@pytest.mark.parametrize(
    "props",
    [
        {"profiles": "odd"},
        {"profiles": ["odd"]},
        {"profiles": [{"capacity": "3"}]},
        {"profiles": [{"capacity": {"minimum": 2}}]},
        {},
    ],
)
def test_the_autoscale_minimum_rule_is_total(props):
    from guardrails import endpoints
    from tests.support.policies import check

    assert check(endpoints.deployment_min_instances, AUTOSCALE, props, config={"minInstances": 3}) == []
    low = {"profiles": [{"capacity": {"minimum": "2", "maximum": "6", "default": "3"}}]}
    assert len(check(endpoints.deployment_min_instances, AUTOSCALE, low, config={"minInstances": 3})) == 1


@pytest.mark.parametrize(
    "scope, refused",
    [
        ("/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c", False),
        # A storage account is a created workspace's (studio data preview): the stack rules judge whose grant it is.
        ("/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a", False),
        ("/subscriptions/s/resourceGroups/r", True),
        ("/subscriptions/s", True),
    ],
)
def test_the_write_role_is_never_wider_than_a_container_or_a_storage_account(scope, refused):
    from guardrails import roles
    from tests.support.policies import check, role

    assert bool(check(roles.role_assignment_allowed_roles, RA, role(SBDC, scope=scope))) is refused


def test_webhook_urls_are_secret_in_the_state():
    from azureml_endpoints.pulumi_io.stack_files import is_secret

    config = stack_config("prod")
    config[f"{NS}:monitoring"]["actionGroup"]["webhooks"] = [{"name": "pager", "serviceUri": "https://hooks.example.com/x?token=abc"}]
    evaluation = evaluate("prod", config=config)
    (group,) = evaluation.of_type(ACTION_GROUP)
    receivers = group.inputs["webhookReceivers"]  # the engine marks the whole property secret
    assert is_secret(receivers)
    (receiver,) = receivers["value"]
    assert receiver["serviceUri"] == "https://hooks.example.com/x?token=abc" and receiver["name"] == "pager"
    assert not is_secret(group.inputs["emailReceivers"])


def test_config_enums_are_the_exact_arm_strings_the_sdk_knows():
    from pulumi_azure_native import machinelearningservices as ml
    from pulumi_azure_native import monitor

    from azureml_endpoints.config import operability

    pairs = [
        (operability.ScaleDirection, monitor.ScaleDirection),
        (operability.ComparisonOperator, monitor.ComparisonOperationType),
        (operability.MetricStatistic, monitor.MetricStatisticType),
        (operability.TimeAggregation, monitor.TimeAggregationType),
        (operability.RollingRate, ml.RollingRateType),
    ]
    for ours, arm in pairs:
        assert {e.value for e in ours} <= {e.value for e in arm}, ours.__name__
