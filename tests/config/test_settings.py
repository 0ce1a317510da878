"""Config validation alone: every Azure rule refused with the config key named, no Pulumi runtime involved."""

import copy
import json

import pytest
import yaml

from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.stack import StackConfig, parse_settings
from azureml_endpoints.paths import project_dir


def dev_raw() -> dict:
    config = yaml.safe_load((project_dir() / "Pulumi.dev.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in config.items()}


def refused(raw: dict) -> str:
    with pytest.raises(SettingsError) as error:
        parse_settings(raw)
    return str(error.value)


def endpoint(raw: dict) -> dict:
    return raw["onlineEndpoints"][0]


def test_dev_config_is_valid():
    settings = parse_settings(dev_raw())
    assert settings.online_endpoints[0].deployments[0].instance_count == 1
    assert settings.online_endpoints[0].traffic == {"blue": 100}


@pytest.mark.parametrize(
    "mutate, key, rule",
    [
        (lambda r: endpoint(r).update(name="1-starts-with-digit"), "onlineEndpoints[0].name", "starting with a letter"),
        (lambda r: endpoint(r).update(name="ab"), "onlineEndpoints[0].name", "3-32"),
        (lambda r: endpoint(r).update(name="x" * 33), "onlineEndpoints[0].name", "3-32"),
        (lambda r: endpoint(r).update(name="ends-with-"), "onlineEndpoints[0].name", "not ending in '-'"),
        (lambda r: endpoint(r)["deployments"][0].update(name="b_lue"), "onlineEndpoints[0].deployments[0].name", "letters, digits or '-'"),
        (
            lambda r: endpoint(r)["deployments"][0].update(instanceCount=0),
            "onlineEndpoints[0].deployments[0].instanceCount",
            "greater than or equal to 1",
        ),
        (lambda r: endpoint(r)["deployments"][0].update(instanceCount=1.5), "onlineEndpoints[0].deployments[0].instanceCount", "integer"),
        (
            lambda r: endpoint(r)["deployments"][0].update(instanceType="Standard_Z9"),
            "onlineEndpoints[0].deployments[0].instanceType",
            "managed online endpoint SKU",
        ),
        (
            lambda r: endpoint(r)["deployments"][0].update(scoringScript="missing.py"),
            "onlineEndpoints[0].deployments[0].scoringScript",
            "ml/onlinescoring",
        ),
        (
            lambda r: endpoint(r)["deployments"][0].update(environmentVariables={"UAI_CLIENT_ID": "x"}),
            "onlineEndpoints[0].deployments[0].environmentVariables",
            "cannot be overridden",
        ),
        (
            lambda r: endpoint(r)["deployments"][0].update(requestSettings={"requestTimeout": "5s"}),
            "onlineEndpoints[0].deployments[0].requestSettings.requestTimeout",
            "ISO 8601",
        ),
        (
            lambda r: endpoint(r)["deployments"][0].update(livenessProbe={"period": "10"}),
            "onlineEndpoints[0].deployments[0].livenessProbe.period",
            "ISO 8601",
        ),
        (
            lambda r: endpoint(r)["deployments"][0].update(readinessProbe={"failureThreshold": 0}),
            "onlineEndpoints[0].deployments[0].readinessProbe.failureThreshold",
            "greater than or equal to 1",
        ),
        (lambda r: endpoint(r)["deployments"].append(dict(endpoint(r)["deployments"][0])), "onlineEndpoints[0].deployments", "unique"),
        (lambda r: endpoint(r).update(deployments=[]), "onlineEndpoints[0].deployments", "at least 1"),
        (lambda r: endpoint(r).update(traffic={"blue": 90}), "onlineEndpoints[0].traffic", "sum to 100"),
        (lambda r: endpoint(r).update(traffic={"blue": 50.5, "x": 49.5}), "onlineEndpoints[0].traffic", "must be an integer"),
        (lambda r: endpoint(r).update(traffic={"blue": 100, "green": 0}), "onlineEndpoints[0].traffic", "do not exist: 'green'"),
        (lambda r: endpoint(r).update(mirrorTraffic={"blue": 10}), "onlineEndpoints[0].mirrorTraffic", "already receive live traffic"),
        (lambda r: endpoint(r).update(mirrorTraffic={"green": 10}), "onlineEndpoints[0].mirrorTraffic", "do not exist: 'green'"),
        (lambda r: endpoint(r).update(authMode="Token"), "onlineEndpoints[0].authMode", "'Key', 'AMLToken' or 'AADToken'"),
        (lambda r: endpoint(r).update(publicNetworkAccess="Open"), "onlineEndpoints[0].publicNetworkAccess", "'Enabled' or 'Disabled'"),
        (lambda r: endpoint(r)["identity"].update(type="None"), "onlineEndpoints[0].identity.type", "'SystemAssigned' or 'UserAssigned'"),
        (
            lambda r: endpoint(r)["identity"].pop("userAssignedIdentityName"),
            "onlineEndpoints[0].identity",
            "userAssignedIdentityName is required when type is UserAssigned",
        ),
        (
            lambda r: endpoint(r)["identity"].update(type="SystemAssigned"),
            "onlineEndpoints[0].identity",
            "must not be set when type is SystemAssigned",
        ),
        (
            lambda r: endpoint(r)["identity"].update(userAssignedIdentityName="-bad"),
            "onlineEndpoints[0].identity.userAssignedIdentityName",
            "starting alphanumeric",
        ),
        (lambda r: endpoint(r).update(authmode="Key"), "onlineEndpoints[0].authmode", "not a known setting"),
        (lambda r: r["onlineEndpoints"].append(copy.deepcopy(endpoint(r))), "onlineEndpoints", "endpoint names must be unique"),
        (lambda r: r.update(onlineEndpoints=[], batchEndpoints=[]), "onlineEndpoints, batchEndpoints", "at least one endpoint"),
        (lambda r: r["dataStorage"].update(accountName="Has-Upper"), "dataStorage.accountName", "3-24 lowercase"),
        (lambda r: r["dataStorage"].update(containerName="a--b"), "dataStorage.containerName", "single '-'"),
        (lambda r: r["dataStorage"].update(fileName="../secrets.txt"), "dataStorage.fileName", "ml/data"),
        (lambda r: r["workspace"].update(name="w"), "workspace.name", "3-33"),
        (lambda r: r["workspace"].update(resourceGroup="rg."), "workspace.resourceGroup", "not ending in '.'"),
        (lambda r: r["workspace"].update(containerRegistryId="myregistry"), "workspace.containerRegistryId", "full ARM id"),
        (lambda r: r["workspace"].pop("resourceGroup"), "workspace.resourceGroup", "is required"),
        (lambda r: r.update(environment="qa"), "environment", "'dev', 'staging' or 'prod'"),
        (lambda r: r["tags"].pop("owner"), "tags", "owner"),
        (lambda r: r["tags"].update({"a/b": "x"}), "tags", "without < > % & \\ ? /"),
        (lambda r: r.update(rolePropagationSeconds=-1), "rolePropagationSeconds", "greater than or equal to 0"),
        (lambda r: r.pop("workspace"), "workspace", "is required"),
    ],
)
def test_rule_refused_with_key(mutate, key, rule):
    raw = dev_raw()
    mutate(raw)
    message = refused(raw)
    assert f"azureml-endpoints:{key}: " in message
    assert rule in message


def test_shared_user_assigned_identity_refused():
    raw = dev_raw()
    second = copy.deepcopy(endpoint(raw))
    second["name"] = "other-endpoint"
    raw["onlineEndpoints"].append(second)
    assert (
        "azureml-endpoints:onlineEndpoints: each user-assigned identity belongs to one endpoint, ignoring case as Azure does (repeated: 'id-mi-uai-dev')"
        in refused(raw)
    )


def test_every_violation_is_reported_at_once():
    raw = dev_raw()
    endpoint(raw).update(name="1x", traffic={"blue": 1})
    message = refused(raw)
    assert "onlineEndpoints[0].name" in message and "onlineEndpoints[0].traffic" in message


def test_mirror_traffic_limit():
    raw = dev_raw()
    ep = endpoint(raw)
    ep["deployments"].append({"name": "green", "instanceType": "Standard_DS3_v2", "instanceCount": 1, "model": "sklearn-regression:1"})
    ep["traffic"] = {"blue": 100, "green": 0}
    ep["mirrorTraffic"] = {"green": 51}
    assert "at most 50 percent" in refused(raw)
    ep["mirrorTraffic"] = {"green": 50}
    assert parse_settings(raw).online_endpoints[0].mirror_traffic == {"green": 50}


def test_prod_always_protects():
    raw = dev_raw()
    raw["environment"] = "prod"
    endpoint(raw)["protect"] = False
    settings = parse_settings(raw)
    assert settings.is_protected(settings.online_endpoints[0])


def batch_raw() -> dict:
    raw = dev_raw()
    raw["batchEndpoints"] = [
        {
            "name": "batch-dev",
            "compute": {
                "name": "batch-cluster",
                "vmSize": "STANDARD_D2_V2",
                "maxNodes": 5,
                "identity": {"type": "UserAssigned", "userAssignedIdentityNames": ["id-batch-dev"]},
            },
            "deployments": [
                {
                    "name": "blue",
                    "model": "sklearn-regression:1",
                    "code": "ml/batchscoring",
                    "scoringScript": "batch_driver.py",
                    "environment": "sklearn-batch",
                }
            ],
            "defaultDeployment": "blue",
        }
    ]
    return raw


def batch(raw: dict) -> dict:
    return raw["batchEndpoints"][0]


def test_batch_defaults_are_the_spec_values():
    settings = parse_settings(batch_raw())
    b = settings.batch_endpoints[0]
    d = b.deployments[0]
    assert (b.compute.min_nodes, b.compute.max_nodes, b.compute.idle_seconds_before_scale_down) == (0, 5, 120)
    assert (d.instance_count, d.max_concurrency_per_instance, d.mini_batch_size) == (1, 4, 5)
    assert (d.retry_settings.max_retries, d.retry_settings.timeout, d.error_threshold) == (3, "PT30S", 10)
    assert (d.logging_level.value, d.output_action.value, d.output_file_name) == ("Info", "AppendRow", "predictions.csv")
    assert settings.deployment_assets()[("batch", b.name, d.name)].scoring_script == "batch_driver.py"


def test_batch_only_stack_is_valid():
    raw = batch_raw()
    raw["onlineEndpoints"] = []
    assert parse_settings(raw).online_endpoints == []


@pytest.mark.parametrize(
    "mutate, key, rule",
    [
        (lambda r: batch(r)["compute"].update(minNodes=6), "batchEndpoints[0].compute.maxNodes", "must be at least minNodes (6)"),
        (lambda r: batch(r)["compute"].update(maxNodes=0), "batchEndpoints[0].compute.maxNodes", "greater than or equal to 1"),
        (lambda r: batch(r)["compute"].update(minNodes=-1), "batchEndpoints[0].compute.minNodes", "greater than or equal to 0"),
        (lambda r: batch(r)["compute"].update(name="1cluster"), "batchEndpoints[0].compute.name", "2-16"),
        (lambda r: batch(r)["compute"].update(name="c" * 17), "batchEndpoints[0].compute.name", "2-16"),
        (lambda r: batch(r)["compute"].update(vmSize="D2"), "batchEndpoints[0].compute.vmSize", "VM size"),
        (
            lambda r: batch(r)["compute"].update(remoteLoginPortPublicAccess="Open"),
            "batchEndpoints[0].compute.remoteLoginPortPublicAccess",
            "'Enabled', 'Disabled' or 'NotSpecified'",
        ),
        (lambda r: batch(r)["compute"]["identity"].update(type="SystemAssigned"), "batchEndpoints[0].compute.identity", "never both"),
        (
            lambda r: batch(r)["compute"]["identity"].update(userAssignedIdentityNames=[]),
            "batchEndpoints[0].compute.identity",
            "at least one name",
        ),
        (
            lambda r: batch(r)["compute"]["identity"].update(userAssignedIdentityNames=["a", "a"]),
            "batchEndpoints[0].compute.identity.userAssignedIdentityNames[0]",
            "3-128",
        ),
        (
            lambda r: batch(r)["compute"]["identity"].update(userAssignedIdentityNames=["id-x", "id-x"]),
            "batchEndpoints[0].compute.identity.userAssignedIdentityNames",
            "unique",
        ),
        (lambda r: batch(r).update(defaultDeployment="green"), "batchEndpoints[0].defaultDeployment", "do not exist: 'green'"),
        (
            lambda r: batch(r)["deployments"][0].update(instanceCount=0),
            "batchEndpoints[0].deployments[0].instanceCount",
            "greater than or equal to 1",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(miniBatchSize=0),
            "batchEndpoints[0].deployments[0].miniBatchSize",
            "greater than or equal to 1",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(maxConcurrencyPerInstance=0),
            "batchEndpoints[0].deployments[0].maxConcurrencyPerInstance",
            "greater than or equal to 1",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(errorThreshold=-2),
            "batchEndpoints[0].deployments[0].errorThreshold",
            "greater than or equal to -1",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(retrySettings={"maxRetries": 101}),
            "batchEndpoints[0].deployments[0].retrySettings.maxRetries",
            "less than or equal to 100",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(retrySettings={"timeout": "30s"}),
            "batchEndpoints[0].deployments[0].retrySettings.timeout",
            "ISO 8601",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(loggingLevel="Verbose"),
            "batchEndpoints[0].deployments[0].loggingLevel",
            "'Info', 'Warning' or 'Debug'",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(outputAction="Append"),
            "batchEndpoints[0].deployments[0].outputAction",
            "'AppendRow' or 'SummaryOnly'",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(outputFileName="out/p.csv"),
            "batchEndpoints[0].deployments[0].outputFileName",
            "without folders",
        ),
        (
            lambda r: batch(r)["deployments"][0].update(scoringScript="score.py"),
            "batchEndpoints[0].deployments[0].scoringScript",
            "is not a file in the code folder ml/batchscoring",
        ),
        (lambda r: batch(r)["deployments"].append(dict(batch(r)["deployments"][0])), "batchEndpoints[0].deployments", "unique"),
        (lambda r: batch(r).update(name="mi-uai-dev"), "batchEndpoints", "online and batch"),
        (
            lambda r: batch(r)["compute"]["identity"].update(userAssignedIdentityNames=["id-mi-uai-dev"]),
            "batchEndpoints[0].compute.identity.userAssignedIdentityNames[0]",
            "two resources would manage one user-assigned identity",
        ),
        (
            lambda r: r["batchEndpoints"].append({**copy.deepcopy(batch(r)), "name": "batch-two"}),
            "batchEndpoints",
            "compute cluster names must be unique",
        ),
        (lambda r: r["dataStorage"].update(datastoreName="Endpoint-Data"), "dataStorage.datastoreName", "lowercase"),
    ],
)
def test_batch_rule_refused_with_key(mutate, key, rule):
    raw = batch_raw()
    mutate(raw)
    message = refused(raw)
    assert f"azureml-endpoints:{key}: " in message
    assert rule in message


def test_the_program_refuses_a_typo_of_its_config_namespace(monkeypatch):
    """Under the CLI the config arrives as the engine's key/value map; a key of `azureml-endpoint` would be ignored."""
    import pulumi

    from azureml_endpoints.config.base import read_config

    values = {f"azureml-endpoints:{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in dev_raw().items()}
    values["azureml-endpoint:rolePropagationSeconds"] = "5"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
    with pytest.raises(SettingsError) as refused:
        read_config(pulumi.Config("azureml-endpoints"), StackConfig)
    assert str(refused.value) == (
        "invalid azureml-endpoints config: 'azureml-endpoint:rolePropagationSeconds': 'azureml-endpoint' is not this "
        "project's config namespace; did you mean 'azureml-endpoints:rolePropagationSeconds'?"
    )
    del values["azureml-endpoint:rolePropagationSeconds"]
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
    assert read_config(pulumi.Config("azureml-endpoints"), StackConfig)["rolePropagationSeconds"] == 120
